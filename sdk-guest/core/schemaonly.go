package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wasmdest/wasmdest/abi"
)

// Schema-only destinations.
//
// A schema-only guest never reads the rows of a batch: it has the host
// encode them by reference through the codec capability
// (Encoder.WriteBatch), so the SDK hands it the batch's schema as the host
// sent it and leaves the rows unread (the host then never even encodes
// them). Such a guest links none of arrow-go: no IPC reader or writer, no
// arrays, no compression codecs, which is most of a Go guest's size and of
// its compile time (RATIONALE.md, "Schema-only guests").

// IPCSchema is an Arrow IPC stream holding only a schema: its schema
// message, as the host encoded it, and the end-of-stream marker. A
// schema-only guest compares it (Equal) and hands it to the codec
// functions (CodecOpenStream, CodecDecodeStream) without decoding it.
type IPCSchema []byte

// Equal reports whether s and o are the same schema message byte for byte.
// The host encodes a schema the same way every time, so the batches of one
// table share it; two schemas that differ only in how they are encoded
// (schema-level metadata in another order) count as different.
func (s IPCSchema) Equal(o IPCSchema) bool { return bytes.Equal(s, o) }

// SchemaDestination is the one interface a schema-only guest implements
// (RegisterSchemaOnly). It may also implement StaleDeleter, RecordDeleter
// and StreamReader.
type SchemaDestination interface {
	// Init prepares the destination. It is called once per instance, before
	// any other method.
	Init(ctx context.Context, req abi.InitRequest) error
	// Write writes one batch of rows of a table, whole or not at all, by
	// reference (Encoder.WriteBatch). schema is the batch's; its cq:*
	// metadata says the table name and the primary key.
	Write(ctx context.Context, table string, schema IPCSchema) error
	// Close finishes all work, for example closing files.
	Close(ctx context.Context) error
}

// StreamReader is Reader for a SchemaDestination: it writes every stored
// row of table, with schema, to out as whole Arrow IPC streams of that
// schema (CodecDecodeStream's output, for one).
type StreamReader interface {
	ReadStreams(ctx context.Context, table string, schema IPCSchema, out *StreamWriter) error
}

// RegisterSchemaOnly makes d the guest's destination, described by m, as
// Register does for a Destination. Call it from an init function.
func RegisterSchemaOnly(m abi.Manifest, d SchemaDestination) { Serve(NewSchemaDispatcher(m, d)) }

// NewSchemaDispatcher returns a Dispatcher of the schema-only d, described
// by m, with m.ABIVersion filled and the features d implements added, as
// RegisterSchemaOnly does.
func NewSchemaDispatcher(m abi.Manifest, d SchemaDestination) *Dispatcher {
	_, reads := d.(StreamReader)
	return NewDispatcher(m, d, reads, schemaOps{d})
}

// schemaOps runs the operations with Arrow IPC bodies on a
// SchemaDestination, reading only the schema message of each body.
type schemaOps struct{ d SchemaDestination }

func (schemaOps) Describe(context.Context, []byte, func() io.Reader, Host) error {
	return ErrUnsupported
}

func (schemaOps) Migrate(context.Context, []byte, func() io.Reader) error { return ErrUnsupported }

func (o schemaOps) Write(ctx context.Context, table string, body func() io.Reader) error {
	schema, err := readSchema(body())
	if err != nil {
		return err
	}
	return o.d.Write(ctx, table, schema)
}

func (o schemaOps) Read(ctx context.Context, header []byte, body func() io.Reader, h Host) error {
	rd, ok := o.d.(StreamReader)
	if !ok {
		return ErrUnsupported
	}
	var req abi.TableRequest
	if err := json.Unmarshal(header, &req); err != nil {
		return BadRequest("request header: %w", err)
	}
	schema, err := readSchema(body())
	if err != nil {
		return err
	}
	w := &StreamWriter{h: h}
	if err := rd.ReadStreams(ctx, req.Table, schema, w); err != nil {
		return err
	}
	if !w.started {
		// No rows: the requested schema and the end.
		return h.Output(schema)
	}
	return h.Output(endOfStream)
}

// StreamWriter writes the one Arrow IPC stream a read answers with, from
// whole streams of one schema: the first stream's schema message, the
// dictionary and record batches of every stream, and one end-of-stream
// marker when the read returns.
type StreamWriter struct {
	h       Host
	schema  []byte // the schema message written
	started bool
}

// WriteStream adds the batches of the Arrow IPC stream b, whose schema must
// be the same as every earlier stream's.
func (w *StreamWriter) WriteStream(b []byte) error {
	schema, batches, err := splitStream(b)
	if err != nil {
		return err
	}
	if !w.started {
		if err := w.h.Output(schema); err != nil {
			return err
		}
		w.schema, w.started = bytes.Clone(schema), true
	} else if !bytes.Equal(schema, w.schema) {
		return errors.New("arrow IPC stream: its schema differs from the first stream's: one read answers with one schema")
	}
	if len(batches) == 0 {
		return nil
	}
	return w.h.Output(batches)
}

// continuation starts every message of the Arrow IPC stream format since
// Arrow 0.15; endOfStream is the marker that ends a stream.
var (
	continuation = []byte{0xff, 0xff, 0xff, 0xff}
	endOfStream  = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
)

// readSchema reads the first message of the Arrow IPC stream r, its schema
// (a schema message has no body), and returns it as an IPCSchema. The rest
// of r stays unread.
func readSchema(r io.Reader) (IPCSchema, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:4]); err != nil {
		return nil, BadRequest("request body is not an Arrow IPC stream: %w", err)
	}
	n := binary.LittleEndian.Uint32(prefix[:4])
	if bytes.Equal(prefix[:4], continuation) {
		if _, err := io.ReadFull(r, prefix[4:]); err != nil {
			return nil, BadRequest("request body is not an Arrow IPC stream: %w", err)
		}
		n = binary.LittleEndian.Uint32(prefix[4:])
	}
	if n == 0 || n > abi.MaxMetadataBytes {
		return nil, BadRequest("request body is not an Arrow IPC stream with a schema: its first message's metadata is %d bytes (at most %d)", n, abi.MaxMetadataBytes)
	}
	s := make([]byte, 8+int(n), 8+int(n)+len(endOfStream))
	copy(s, continuation)
	binary.LittleEndian.PutUint32(s[4:], n)
	if _, err := io.ReadFull(r, s[8:]); err != nil {
		return nil, BadRequest("request body: the schema message: %w", err)
	}
	return append(s, endOfStream...), nil
}

// splitStream splits the Arrow IPC stream b into its schema message (its
// first) and its other messages, without the end-of-stream marker.
func splitStream(b []byte) (schema, batches []byte, err error) {
	at := 0
	if len(b) >= 4 && bytes.Equal(b[:4], continuation) {
		at = 4
	}
	if len(b) < at+4 {
		return nil, nil, errors.New("arrow IPC stream: too short for a schema message")
	}
	n := int(binary.LittleEndian.Uint32(b[at:]))
	end := at + 4 + n
	if n == 0 || end > len(b) {
		return nil, nil, fmt.Errorf("arrow IPC stream: a schema message of %d bytes in %d", n, len(b))
	}
	schema, rest := b[:end], b[end:]
	switch {
	case bytes.HasSuffix(rest, endOfStream):
		rest = rest[:len(rest)-len(endOfStream)]
	case bytes.HasSuffix(rest, endOfStream[4:]):
		rest = rest[:len(rest)-4] // the format before Arrow 0.15
	default:
		return nil, nil, errors.New("arrow IPC stream: it does not end with the end-of-stream marker")
	}
	return schema, rest, nil
}
