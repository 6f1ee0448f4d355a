package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// ReadRecords decodes an Arrow IPC stream a guest produced (OpRead output)
// with every check the host makes of its input (internal/arrowio: the ABI's
// size limits, verified metadata, validated records; arrow-go's own
// ipc.NewReader applies no limits, docs/background.md "Safety"), and returns
// its schema and records, which the caller releases.
func ReadRecords(r io.Reader) (*arrow.Schema, []arrow.RecordBatch, error) {
	return arrowio.ReadAll(context.Background(), "guest output", r, arrowio.DefaultLimits)
}

// recordBody is an io.Reader of an Arrow IPC stream that encodes one record
// at a time as it is read, so a body costs one encoded record of memory.
// Its schema message comes alone first, so a reader that wants only the
// schema (a schema-only guest, sdk-guest/core, which has the codec
// capability encode the records by reference) stops before any record is
// encoded.
type recordBody struct {
	w      *ipc.Writer
	schema *arrow.Schema
	buf    bytes.Buffer
	recs   []arrow.RecordBatch
	next   int
	// sent is the schema message once it was read; the writer repeats it
	// before its first output, which skips it.
	sent    []byte
	started bool
	done    bool
	err     error
}

// RecordBody returns the Arrow IPC stream of schema and recs as an io.Reader,
// for OpWrite and, with no recs, for the schema-only bodies of OpDescribe,
// OpMigrate and OpRead. recs must stay valid until the reader is drained.
func RecordBody(schema *arrow.Schema, recs ...arrow.RecordBatch) io.Reader {
	b := &recordBody{schema: schema, recs: recs}
	b.w = ipc.NewWriter(&b.buf, ipc.WithSchema(schema))
	return b
}

func (b *recordBody) Read(p []byte) (int, error) {
	for b.buf.Len() == 0 {
		switch {
		case b.err != nil:
			return 0, b.err
		case b.sent == nil:
			b.sent, b.err = schemaMessage(b.schema)
			b.buf.Write(b.sent)
		case b.next < len(b.recs):
			if err := b.w.Write(b.recs[b.next]); err != nil {
				b.err = fmt.Errorf("encode record %d: %w", b.next, err)
			}
			b.next++
			b.skipSchema()
		case !b.done:
			b.done = true
			if err := b.w.Close(); err != nil {
				b.err = fmt.Errorf("encode stream end: %w", err)
			}
			b.skipSchema()
		default:
			return 0, io.EOF
		}
	}
	return b.buf.Read(p)
}

// skipSchema drops the schema message the writer wrote before its first
// output: it was read already.
func (b *recordBody) skipSchema() {
	if b.started || b.err != nil {
		return
	}
	b.started = true
	if !bytes.HasPrefix(b.buf.Bytes(), b.sent) {
		b.err = errors.New("encode record: the IPC writer's schema message differs from the one sent first")
		return
	}
	b.buf.Next(len(b.sent))
}

// schemaMessage returns the Arrow IPC schema message of schema: the
// stream of schema alone without its end-of-stream marker.
func schemaMessage(schema *arrow.Schema) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	b := buf.Bytes()
	if len(b) <= len(endOfStream) || !bytes.Equal(b[len(b)-len(endOfStream):], endOfStream) {
		return nil, errors.New("encode schema: the IPC writer's stream does not end with the end-of-stream marker")
	}
	return b[:len(b)-len(endOfStream)], nil
}

// endOfStream is the marker that ends an Arrow IPC stream.
var endOfStream = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
