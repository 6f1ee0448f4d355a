//go:build !wasip1

package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

// stopHost is a host that asks the guest to stop at its first output.
type stopHost struct {
	body   *bytes.Reader
	errMsg string
}

func (h *stopHost) SetError(msg string)                      { h.errMsg = msg }
func (h *stopHost) InputRead(p []byte) (int, error)          { return h.body.Read(p) }
func (h *stopHost) Output([]byte) error                      { return sdk.ErrStopped }
func (h *stopHost) Log(abi.Level, string)                    {}
func (h *stopHost) Expand(abi.ExpandRequest) (string, error) { return "", errors.New("no expand") }

// endless reads back rows for ever, until emit fails, and records what its
// context said then.
type endless struct {
	schema   *arrow.Schema
	ctxErr   error
	ctxCause error
}

func (*endless) Init(context.Context, abi.InitRequest) error             { return nil }
func (*endless) Write(context.Context, string, array.RecordReader) error { return nil }
func (*endless) Close(context.Context) error                             { return nil }
func (e *endless) Read(ctx context.Context, _ string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	for ctx.Err() == nil {
		if err := emit(rec); err != nil {
			e.ctxErr, e.ctxCause = ctx.Err(), context.Cause(ctx)
			return err
		}
	}
	return errors.New("context cancelled before emit failed")
}

// TestStopCancelsContext: once a host function says stop, the operation's
// context is cancelled with cause ErrStopped, and the call ends cancelled.
func TestStopCancelsContext(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var body bytes.Buffer
	w := ipc.NewWriter(&body, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d := &endless{}
	h := &stopHost{body: bytes.NewReader(body.Bytes())}
	st := sdk.NewDispatcher(abi.Manifest{Name: "endless", Version: "v1.0.0"}, d).Call(abi.OpRead, []byte(`{"table":"t"}`), h)
	if st != abi.StatusCancelled {
		t.Fatalf("status %s (%s), want cancelled", st, h.errMsg)
	}
	if !errors.Is(d.ctxErr, context.Canceled) || !errors.Is(d.ctxCause, sdk.ErrStopped) {
		t.Errorf("context after stop: err %v, cause %v; want canceled, ErrStopped", d.ctxErr, d.ctxCause)
	}
}

// TestHostFunctionsOutsideACall: outside WebAssembly and outside a call, the
// host functions say why they cannot work.
func TestHostFunctionsOutsideACall(t *testing.T) {
	if _, err := sdk.Expand(abi.ExpandRequest{Template: "{{TABLE}}"}); err == nil {
		t.Error("Expand outside a call succeeded")
	}
	if _, err := sdk.PgBegin(); err == nil {
		t.Error("PgBegin outside WebAssembly succeeded")
	}
	sdk.Info("dropped: no host") // must not panic
}
