// Package arrowio reads Arrow IPC input (the stream format or the file
// format) for the host: from a path, from stdin, or from any io.Reader.
//
// # Safety
//
// Input is untrusted. Every message is checked before arrow-go decodes it:
// its metadata and body sizes against Limits, its FlatBuffers metadata for
// references outside the buffer, vector lengths the buffer cannot hold and
// tables reused to expand exponentially, its buffers against its body, its
// array count against the schema, and its compressed buffers: the
// uncompressed length each claims, and for zstd the window each frame
// declares (arrow-go's zstd decoder allocates it up front). Decoding one
// message may allocate at most Limits.MaxBodyBytes more than the message
// itself (enforced by the allocator handed to arrow-go), every decoded
// record batch is checked with array.ValidateRecordFull before it is
// returned (so its values can be read without panics), and a panic inside
// arrow-go becomes an error. Note that ipc.NewReader is not used: in
// arrow-go v18.8.0 it ignores its size limits.
//
// # Memory
//
// A stream is read one message at a time, so memory is bounded by the
// largest message (and what the caller keeps). The file format needs random
// access: a path or another seekable input is read in place; a non-seekable
// input holding the file format (stdin) is first copied to a temporary file,
// removed by Close.
//
// # Errors
//
// Every error is an *Error naming the input and the index of the message it
// is about, e.g. "users.arrows: message 3: truncated: ...": the schema is
// message 0, then dictionary and record batches count from 1 in stream
// order (the same numbering for the file format, whose footer counts as
// message 0). It wraps one of ErrNotArrow, ErrTruncated, ErrTooLarge,
// ErrSchemaMismatch, ErrInvalid, or the underlying I/O or context error.
//
// # Streams and end of input
//
// A stream must end with the end-of-stream marker (the 8 bytes ff ff ff ff
// 00 00 00 00) that every Arrow writer writes when it is closed: a stream
// that stops between two messages without it is reported as truncated
// rather than silently taken as complete. Bytes after the marker are ignored.
package arrowio

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// Limits bound what one input may make the reader allocate. A field of zero
// or less takes its value from DefaultLimits; there is no "unlimited".
type Limits struct {
	// MaxMetadataBytes bounds the FlatBuffers metadata of one message and
	// the footer of a file.
	MaxMetadataBytes int64
	// MaxBodyBytes bounds the body of one message, and also what decoding
	// one message may allocate beyond it (decompressed buffers).
	MaxBodyBytes int64
}

// DefaultLimits are the ABI's: abi.MaxMetadataBytes of metadata (16 MiB)
// and abi.MaxBodyBytes of body (256 MiB) per message.
var DefaultLimits = Limits{MaxMetadataBytes: abi.MaxMetadataBytes, MaxBodyBytes: abi.MaxBodyBytes}

func (l Limits) withDefaults() Limits {
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = DefaultLimits.MaxMetadataBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultLimits.MaxBodyBytes
	}
	return l
}

// maxLen bounds every length (rows, list elements) in a message: one bit per
// element of the decoded body, the densest any non-null type can be.
func (l Limits) maxLen() int64 { return 8*2*l.MaxBodyBytes + 64 }

// Table describes the table an input holds.
type Table struct {
	// Name is the schema's cq:table_name metadata, or else the input file's
	// base name without its extensions ("data/users.arrows" -> "users").
	Name string
	// Schema is the input's schema, metadata included.
	Schema *arrow.Schema
	// PrimaryKeys and Unique list, in schema order, the columns whose
	// metadata sets cq:extension:primary_key or cq:extension:unique to "true".
	PrimaryKeys, Unique []string
}

// Errors wrapped by *Error, for errors.Is.
var (
	// ErrNotArrow: the input is not Arrow IPC at all.
	ErrNotArrow = errors.New("not Arrow IPC")
	// ErrTruncated: the input ends in the middle of a message, or a stream
	// ends without its end-of-stream marker, or a file without its footer.
	ErrTruncated = errors.New("truncated")
	// ErrTooLarge: a message or footer is over Limits.
	ErrTooLarge = errors.New("over limit")
	// ErrSchemaMismatch: a record batch does not fit the schema, or a file's
	// footer and header disagree about the schema.
	ErrSchemaMismatch = errors.New("schema mismatch")
	// ErrInvalid: the input is Arrow IPC but malformed.
	ErrInvalid = errors.New("invalid Arrow IPC")
)

// Error is the error type of this package.
type Error struct {
	// Input names the input: the path or name given, "stdin" for "-".
	Input string
	// Message is the index of the message concerned (0 is the schema), or
	// -1 when the error is not about a message (the file cannot be opened).
	Message int
	Err     error

	// recovered is set when the error comes from a panic in arrow-go, after
	// which arrow-go may not have released all it allocated (see Reader).
	recovered bool
}

func (e *Error) Error() string {
	if e.Message < 0 {
		return fmt.Sprintf("%s: %v", e.Input, e.Err)
	}
	return fmt.Sprintf("%s: message %d: %v", e.Input, e.Message, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// displayName is how errors name an input.
func displayName(name string) string {
	switch name {
	case "-":
		return "stdin"
	case "":
		return "input"
	}
	return name
}

// tableFromName is the table name taken from a file name: its base name
// without any extension. It is "" for stdin and unnamed inputs.
func tableFromName(name string) string {
	if name == "" || name == "-" {
		return ""
	}
	base := filepath.Base(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	if base == "/" || base == "." {
		return ""
	}
	return base
}

func makeTable(name string, schema *arrow.Schema) (Table, error) {
	t := Table{Schema: schema}
	if v, ok := schema.Metadata().GetValue(abi.MetaTableName); ok && v != "" {
		t.Name = v
	} else if t.Name = tableFromName(name); t.Name == "" {
		what := "stdin has no file name"
		if name != "-" {
			what = fmt.Sprintf("%q gives no file name", name)
		}
		has := "has no " + abi.MetaTableName + " metadata"
		if _, ok := schema.Metadata().GetValue(abi.MetaTableName); ok {
			has = "has an empty " + abi.MetaTableName + " metadata value"
		}
		return t, fmt.Errorf("the schema %s and %s to take the table name from: set %s in the schema metadata",
			has, what, abi.MetaTableName)
	}
	t.PrimaryKeys, t.Unique = arrowtypes.PrimaryKeys(schema), arrowtypes.UniqueColumns(schema)
	return t, nil
}
