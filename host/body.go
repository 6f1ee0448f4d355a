package host

import (
	"bytes"
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// IPC size limits the host applies when it decodes what a guest produced.
const (
	MaxMetadataBytes = 16 << 20
	MaxBodyBytes     = 256 << 20
)

// IPCLimits are the reader options the host decodes guest output with.
func IPCLimits() []ipc.Option {
	return []ipc.Option{ipc.WithMetadataSizeLimit(MaxMetadataBytes), ipc.WithBodySizeLimit(MaxBodyBytes)}
}

// NewIPCReader reads an Arrow IPC stream with the host's size limits. arrow-go's
// ipc.NewReader does not apply limits (wasm-runtime-facts.md), so never use it
// on bytes a guest or a user produced.
func NewIPCReader(r io.Reader) (*ipc.Reader, error) {
	return ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, IPCLimits()...), IPCLimits()...)
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
