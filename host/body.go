package host

import (
	"bytes"
	"context"
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
type recordBody struct {
	w      *ipc.Writer
	schema *arrow.Schema
	buf    bytes.Buffer
	recs   []arrow.RecordBatch
	next   int
	done   bool
	err    error
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
		case b.next < len(b.recs):
			if err := b.w.Write(b.recs[b.next]); err != nil {
				b.err = fmt.Errorf("encode record %d: %w", b.next, err)
			}
			b.next++
		case !b.done:
			b.done = true
			if err := b.w.Close(); err != nil {
				b.err = fmt.Errorf("encode stream end: %w", err)
			}
		default:
			return 0, io.EOF
		}
	}
	return b.buf.Read(p)
}
