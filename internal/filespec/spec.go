// Package filespec is the file destination's spec: its keys, defaults and
// rules, and the paths it may name. It is light (no encoders), so guests
// import it to parse their spec while the host encodes (package codec).
package filespec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Batching defaults of the file destination, given to the host in the
// manifest (abi.BatchDefaults) and used by the {{UUID}} rule.
const (
	DefaultBatchRows    = 10000
	DefaultBatchBytes   = 50 << 20
	DefaultBatchTimeout = 30 * time.Second
)

// Format names a file format, as in the spec.
type Format string

const (
	CSV     Format = "csv"
	JSON    Format = "json" // JSON Lines
	Parquet Format = "parquet"
)

// Formats lists every format, in the order the spec documents them.
var Formats = []Format{CSV, JSON, Parquet}

// Compression names a compression, as in the spec.
type Compression string

const (
	None Compression = ""
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// Parquet format versions and root repetitions, as in format_spec.
var (
	parquetVersions    = []string{"v1.0", "v2.4", "v2.6", "v2Latest"}
	parquetRepetitions = []string{"required", "optional", "repeated"}
)

// Defaults of format_spec.
const (
	DefaultDelimiter         = ","
	DefaultParquetVersion    = "v2Latest"
	DefaultRootRepetition    = "repeated"
	DefaultMaxRowGroupLength = 128 << 20
)

// Spec is the nested spec of the file destination. spec.schema.json is its
// JSON Schema; Parse checks the same rules and says how to fix a violation.
type Spec struct {
	Path        string          `json:"path"`
	Format      Format          `json:"format,omitempty"`
	FormatSpec  json.RawMessage `json:"format_spec,omitempty"`
	Compression Compression     `json:"compression,omitempty"`
	NoRotate    bool            `json:"no_rotate,omitempty"`
	// The batching keys are the host's; they are read here for the {{UUID}}
	// rule. nil means the manifest's default.
	BatchSize      *int64          `json:"batch_size,omitempty"`
	BatchSizeBytes *int64          `json:"batch_size_bytes,omitempty"`
	BatchTimeout   json.RawMessage `json:"batch_timeout,omitempty"`

	// CSV and Parquet are the format_spec of those formats, with defaults.
	CSV     CSVSpec     `json:"-"`
	Parquet ParquetSpec `json:"-"`
}

// CSVSpec is format_spec for csv.
type CSVSpec struct {
	Delimiter  string `json:"delimiter,omitempty"`
	SkipHeader bool   `json:"skip_header,omitempty"`
}

// Comma returns the delimiter as a rune.
func (c CSVSpec) Comma() rune {
	r, _ := utf8.DecodeRuneInString(c.Delimiter)
	return r
}

// ParquetSpec is format_spec for parquet.
type ParquetSpec struct {
	Version           string `json:"version,omitempty"`
	RootRepetition    string `json:"root_repetition,omitempty"`
	MaxRowGroupLength int64  `json:"max_row_group_length,omitempty"`
}

// Placeholder spellings the spec rules look for.
const (
	phTable = "{{TABLE}}"
	phUUID  = "{{UUID}}"
)

// Parse decodes and checks a spec, fills defaults, and appends
// "/{{TABLE}}.{{FORMAT}}" to a path without {{TABLE}}. Every error names the
// key and says how to fix it.
func Parse(raw []byte) (Spec, error) {
	var s Spec
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, fmt.Errorf("spec: missing; give at least path, e.g. {\"path\": \"out/{{TABLE}}/{{UUID}}.{{FORMAT}}\", \"format\": \"json\"}")
	}
	if err := strictDecode(raw, &s); err != nil {
		return s, fmt.Errorf("spec: %w; the keys are path, format, format_spec, compression, no_rotate, batch_size, batch_size_bytes and batch_timeout", err)
	}
	if s.Format == "" {
		s.Format = JSON
	}
	if !slices.Contains(Formats, s.Format) {
		return s, fmt.Errorf("spec: format %q is not supported; use csv, json (JSON Lines) or parquet", s.Format)
	}
	if err := s.parseFormatSpec(); err != nil {
		return s, err
	}
	switch s.Compression {
	case None, Gzip, Zstd:
	default:
		return s, fmt.Errorf("spec: compression %q is not supported; use \"\" (none), gzip or zstd", s.Compression)
	}
	if err := s.checkBatching(); err != nil {
		return s, err
	}
	if err := s.checkPath(); err != nil {
		return s, err
	}
	return s, nil
}

// ParseFormat checks and fills the format keys of a spec alone (format,
// format_spec, compression), as the codec capability receives them; the
// Spec it returns has no path.
func ParseFormat(format Format, formatSpec json.RawMessage, c Compression) (Spec, error) {
	s := Spec{Format: format, FormatSpec: formatSpec, Compression: c}
	if s.Format == "" {
		s.Format = JSON
	}
	if !slices.Contains(Formats, s.Format) {
		return s, fmt.Errorf("format %q is not supported; use csv, json (JSON Lines) or parquet", s.Format)
	}
	if err := s.parseFormatSpec(); err != nil {
		return s, err
	}
	switch s.Compression {
	case None, Gzip, Zstd:
	default:
		return s, fmt.Errorf("compression %q is not supported; use \"\" (none), gzip or zstd", s.Compression)
	}
	return s, nil
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json says `json: unknown field "x"`; keep its words.
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

func (s *Spec) parseFormatSpec() error {
	fs := bytes.TrimSpace(s.FormatSpec)
	if bytes.Equal(fs, []byte("null")) {
		fs = nil
	}
	switch s.Format {
	case CSV:
		if len(fs) > 0 {
			if err := strictDecode(fs, &s.CSV); err != nil {
				return fmt.Errorf("spec: format_spec: %w; format csv takes delimiter and skip_header", err)
			}
		}
		if s.CSV.Delimiter == "" {
			s.CSV.Delimiter = DefaultDelimiter
		}
		d := s.CSV.Delimiter
		if n := utf8.RuneCountInString(d); n != 1 {
			return fmt.Errorf("spec: format_spec.delimiter %q is %d characters; use exactly one, e.g. \",\" or \";\" or \"\\t\"", d, n)
		}
		if r := s.CSV.Comma(); r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
			return fmt.Errorf("spec: format_spec.delimiter %q cannot separate CSV fields (RFC 4180 reserves quotes and line breaks); use e.g. \",\" or \";\" or \"\\t\"", d)
		}
	case Parquet:
		if len(fs) > 0 {
			if err := strictDecode(fs, &s.Parquet); err != nil {
				return fmt.Errorf("spec: format_spec: %w; format parquet takes version, root_repetition and max_row_group_length", err)
			}
		}
		p := &s.Parquet
		if p.Version == "" {
			p.Version = DefaultParquetVersion
		}
		if !slices.Contains(parquetVersions, p.Version) {
			return fmt.Errorf("spec: format_spec.version %q is not a Parquet format version; use one of %s", p.Version, strings.Join(parquetVersions, ", "))
		}
		if p.RootRepetition == "" {
			p.RootRepetition = DefaultRootRepetition
		}
		if !slices.Contains(parquetRepetitions, p.RootRepetition) {
			return fmt.Errorf("spec: format_spec.root_repetition %q is not a repetition; use one of %s", p.RootRepetition, strings.Join(parquetRepetitions, ", "))
		}
		if p.MaxRowGroupLength == 0 {
			p.MaxRowGroupLength = DefaultMaxRowGroupLength
		}
		if p.MaxRowGroupLength < 1 {
			return fmt.Errorf("spec: format_spec.max_row_group_length %d is not positive; use a row count of at least 1 (default %d)", p.MaxRowGroupLength, DefaultMaxRowGroupLength)
		}
	case JSON:
		if len(fs) > 0 {
			var empty struct{}
			if err := strictDecode(fs, &empty); err != nil {
				return fmt.Errorf("spec: format_spec: %w; format json takes no format_spec keys: remove them", err)
			}
		}
	}
	return nil
}

// Batching reports whether the host batches rows (either limit is
// positive), with the manifest's defaults for keys the spec leaves out.
func (s *Spec) Batching() (rows, bytes int64, on bool) {
	rows, bytes = DefaultBatchRows, DefaultBatchBytes
	if s.BatchSize != nil {
		rows = *s.BatchSize
	}
	if s.BatchSizeBytes != nil {
		bytes = *s.BatchSizeBytes
	}
	return rows, bytes, rows > 0 || bytes > 0
}

func (s *Spec) checkBatching() error {
	if s.BatchSize != nil && *s.BatchSize < 0 {
		return fmt.Errorf("spec: batch_size %d is negative; use 0 (no row limit) or a row count", *s.BatchSize)
	}
	if s.BatchSizeBytes != nil && *s.BatchSizeBytes < 0 {
		return fmt.Errorf("spec: batch_size_bytes %d is negative; use 0 (no byte limit) or a byte count", *s.BatchSizeBytes)
	}
	if t := bytes.TrimSpace(s.BatchTimeout); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		var str string
		var secs int64
		switch {
		case json.Unmarshal(t, &str) == nil:
			if d, err := time.ParseDuration(str); err != nil || d < 0 {
				return fmt.Errorf("spec: batch_timeout %q is not a duration; use e.g. \"30s\" or \"1m\"", str)
			}
		case json.Unmarshal(t, &secs) == nil:
			if secs < 0 {
				return fmt.Errorf("spec: batch_timeout %d is negative; use a number of seconds or a duration like \"30s\"", secs)
			}
		default:
			return fmt.Errorf("spec: batch_timeout %s is neither a duration string like \"30s\" nor a number of seconds", t)
		}
	}
	return nil
}

func (s *Spec) checkPath() error {
	p := s.Path
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("spec: path is required; e.g. \"out/{{TABLE}}/{{UUID}}.{{FORMAT}}\"")
	}
	if !strings.Contains(p, phTable) {
		s.Path = strings.TrimSuffix(p, "/") + "/" + phTable + ".{{FORMAT}}"
	}
	if _, err := CleanPath(s.Path); err != nil {
		return fmt.Errorf("spec: path: %w", err)
	}
	hasUUID := strings.Contains(s.Path, phUUID)
	rows, bytes, batching := s.Batching()
	switch {
	case s.NoRotate && hasUUID:
		return fmt.Errorf("spec: path %q has {{UUID}} but no_rotate is true: no_rotate writes one file per table, under one name; remove {{UUID}} from the path, or set no_rotate to false", p)
	case !s.NoRotate && batching && !hasUUID:
		return fmt.Errorf("spec: path %q has no {{UUID}}: every batch (batch_size %d rows, batch_size_bytes %d) is written as its own file and they would all get the same name; "+
			"add {{UUID}} to the path (e.g. \"out/{{TABLE}}/{{UUID}}.{{FORMAT}}\"), or set no_rotate to true to write one file per table, or set batch_size and batch_size_bytes to 0", p, rows, bytes)
	}
	return nil
}

// CleanPath checks a path (a template or an expanded one) and returns it
// relative to the granted directory: a leading "/" means that directory, not
// the host's root. A ".." component is refused even where it would stay
// inside, and so is a path naming a directory.
func CleanPath(p string) (string, error) {
	rel := strings.TrimLeft(p, "/")
	var parts []string
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "..":
			return "", fmt.Errorf("%q has a \"..\" component: files are written only below the granted directory; remove \"..\" from the path", p)
		case "", ".":
			continue
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("%q names a directory, not a file; end the path with a file name such as {{TABLE}}.{{FORMAT}}", p)
	}
	return strings.Join(parts, "/"), nil
}

// Extension is the value of {{FORMAT}}: the format's extension, plus the
// compression's for the formats compression wraps ("csv.gz", "json.zst").
// Parquet compresses its columns inside the file, which stays "parquet".
func (s *Spec) Extension() string {
	ext := string(s.Format)
	if s.Format == Parquet {
		return ext
	}
	switch s.Compression {
	case Gzip:
		ext += ".gz"
	case Zstd:
		ext += ".zst"
	}
	return ext
}
