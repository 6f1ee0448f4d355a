//go:build wasip1

package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wasmdest/wasmdest/internal/filespec"
)

// Part sizes of multipart uploads. S3 wants every part but the last to be
// at least 5 MiB, and an upload to have at most 10000 parts. The default
// is the most the host holds in memory (and so signs with its hash and
// retries) rather than streams: see RATIONALE.md.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 8 << 20
	MaxPartSize     = 5 << 30
	MaxParts        = 10000
)

// Spec is the S3 destination's spec: CloudQuery S3 destination's keys. The
// file keys (path, format, format_spec, compression, no_rotate, batching)
// are the file destination's, parsed by the same code (filespec).
type Spec struct {
	filespec.Spec
	Bucket       string `json:"bucket"`
	Region       string `json:"region"`
	Endpoint     string `json:"endpoint"`
	UsePathStyle bool   `json:"use_path_style"`
	// PartSize is the size of a multipart upload's parts, and the size
	// above which an object goes up in parts at all.
	PartSize int64 `json:"part_size"`
}

// s3Keys are the keys the S3 destination adds to the file destination's.
var s3Keys = []string{"bucket", "region", "endpoint", "use_path_style", "part_size"}

// isBucketName reports whether name follows S3's rule for bucket names
// (general purpose buckets): 3 to 63 of a-z, 0-9, "." and "-", beginning
// and ending with a letter or digit. (By hand, not with regexp: the guest
// is smaller without it.)
func isBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(name)-1 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// ParseSpec decodes and checks the S3 destination's spec. Every error names
// the key and says how to fix it.
func ParseSpec(raw []byte) (Spec, error) {
	var s Spec
	var keys map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, fmt.Errorf("spec: missing; give at least bucket, region and path, e.g. {\"bucket\": \"my-bucket\", \"region\": \"us-east-1\", \"path\": \"{{TABLE}}/{{UUID}}.{{FORMAT}}\"}")
	}
	if err := json.Unmarshal(raw, &keys); err != nil {
		return s, fmt.Errorf("spec: %w", err)
	}
	// The host's http block is the operator's; the guest has no use for it
	// and the host does not pass it on.
	delete(keys, "http")
	own := map[string]json.RawMessage{}
	for _, k := range s3Keys {
		if v, ok := keys[k]; ok {
			own[k] = v
			delete(keys, k)
		}
	}
	rest, err := json.Marshal(keys)
	if err != nil {
		return s, err
	}
	ownRaw, _ := json.Marshal(own)
	if err := json.Unmarshal(ownRaw, &s); err != nil {
		return s, fmt.Errorf("spec: %w", err)
	}
	fs, err := filespec.Parse(rest)
	if err != nil {
		return s, fmt.Errorf("%w (the S3 destination adds bucket, region, endpoint, use_path_style and part_size)", err)
	}
	s.Spec = fs
	switch {
	case s.Bucket == "":
		return s, fmt.Errorf("spec: bucket is required: the name of the bucket the objects go to")
	case !isBucketName(s.Bucket):
		return s, fmt.Errorf("spec: bucket %q is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit", s.Bucket)
	case s.Region == "":
		return s, fmt.Errorf("spec: region is required, e.g. \"us-east-1\" (for an S3-compatible store, the region it signs for, often us-east-1)")
	}
	if s.PartSize == 0 {
		s.PartSize = DefaultPartSize
	}
	if s.PartSize < MinPartSize || s.PartSize > MaxPartSize {
		return s, fmt.Errorf("spec: part_size %d is outside S3's limits; use %d (5 MiB) to %d (5 GiB) bytes, default %d", s.PartSize, MinPartSize, MaxPartSize, DefaultPartSize)
	}
	return s, nil
}

// contentType is the Content-Type of an object of format f.
func contentType(f filespec.Format) string {
	switch f {
	case filespec.CSV:
		return "text/csv"
	case filespec.Parquet:
		return "application/vnd.apache.parquet"
	default:
		return "application/x-ndjson"
	}
}
