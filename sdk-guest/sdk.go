// Package sdk is what a wasmdest guest imports. It hides ABI v1 (abi/ABI.md)
// entirely: a guest implements Destination (plus any optional interface it
// supports), registers it from an init function, and builds with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guest.wasm .
//
// Register must be called from init, not main: a WASI reactor runs its
// package initialisers, never main.main (see RATIONALE.md).
//
// The SDK exports the ABI's functions, keeps host-allocated buffers pinned,
// recovers every panic (a guest's panic fails the call with its stack
// instead of trapping), decodes Arrow IPC with size limits, and wraps every
// host function in a typed Go function.
//
// The part that needs no Arrow is package core (sdk-guest/core), which this
// package builds on and re-exports: a guest that never reads a batch's rows
// (it writes them through the codec capability by reference) can register
// a core.SchemaDestination instead and link none of arrow-go.
package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// Destination is the one interface every guest implements.
//
// The ctx of every method is cancelled, with cause ErrStopped, once a host
// function has returned ErrStopped during the operation (the host asked the
// guest to stop, for example because its client went away). The host cannot
// interrupt a guest's own code: a method that works for long without
// calling the host should check ctx.Err() now and then. No deadline is set:
// the host enforces its own (docs/serve.md).
type Destination interface {
	// Init prepares the destination. It is called once per instance, before
	// any other method.
	Init(ctx context.Context, req abi.InitRequest) error
	// Write writes one batch of rows of a table, whole or not at all. The
	// schema is records.Schema(); its cq:* metadata says the table name and
	// the primary key (a schema with a primary key asks for an upsert).
	// records is valid only during the call.
	Write(ctx context.Context, table string, records array.RecordReader) error
	// Close finishes all work, for example closing files.
	Close(ctx context.Context) error
}

// Describer is implemented by destinations that hold schemas (databases), so
// that the host can plan migrations. See abi.TableState.
type Describer interface {
	Describe(ctx context.Context, table string, schema *arrow.Schema) (abi.TableState, error)
}

// Migrator applies a migration the host planned.
type Migrator interface {
	Migrate(ctx context.Context, req abi.MigrateRequest, schema *arrow.Schema) error
}

// StaleDeleter deletes rows a sync did not touch (write_mode overwrite-delete-stale).
type StaleDeleter = core.StaleDeleter

// RecordDeleter deletes the rows that predicates match (ABI 1.1,
// abi.OpDeleteRecord; a CloudQuery delete_record message).
type RecordDeleter = core.RecordDeleter

// Reader reads back every stored row of a table, for verification. It calls
// emit with record batches of schema; emit returns an error when the host
// wants it to stop, which Read should return.
type Reader interface {
	Read(ctx context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error
}

// ErrStopped is returned by host functions when the host asks the guest to
// stop the running operation. Return it (wrapped or not) to end the call.
var ErrStopped = core.ErrStopped

// Dispatcher runs the ABI's operations on one destination (core.Dispatcher).
type Dispatcher = core.Dispatcher

// Host is the host side of the ABI as the dispatcher and the SDK's
// functions use it (core.Host).
type Host = core.Host

// Register makes d the guest's destination, described by m. Call it from an
// init function. It fills m.ABIVersion and adds the features d implements.
func Register(m abi.Manifest, d Destination) { core.Serve(NewDispatcher(m, d)) }

// NewDispatcher returns a Dispatcher of d, described by m, with
// m.ABIVersion filled and the features d implements added, as Register
// does. It decodes Arrow IPC bodies with arrow-go, with the ABI's size
// limits.
func NewDispatcher(m abi.Manifest, d Destination) *Dispatcher {
	_, reads := d.(Reader)
	ops := &arrowOps{d: d}
	ops.x = core.NewDispatcher(m, d, reads, ops)
	arrowtypes.Register()
	return ops.x
}

// ReportWrite tells the host, from inside Destination.Write (ctx is Write's
// context), what of the batch is held and not yet durable, and what earlier
// held rows the call lost (abi.WriteResult, ABI 1.2). A destination whose
// writes are durable when Write returns never calls it. The last call in a
// Write wins.
func ReportWrite(ctx context.Context, r abi.WriteResult) { core.ReportWrite(ctx, r) }

// Expand fills placeholders ({{TABLE}}, {{UUID}}, {{YEAR}}, ...) in
// req.Template with the host's one expansion function.
func Expand(req abi.ExpandRequest) (string, error) { return core.Expand(req) }

// Log writes one line to the host's log under the guest's name. kv are
// alternating keys and values, as go-hclog takes them.
func Log(level abi.Level, msg string, kv ...any) { core.Log(level, msg, kv...) }

// Debug logs at debug level.
func Debug(msg string, kv ...any) { core.Log(abi.LevelDebug, msg, kv...) }

// Info logs at info level.
func Info(msg string, kv ...any) { core.Log(abi.LevelInfo, msg, kv...) }

// Warn logs at warn level.
func Warn(msg string, kv ...any) { core.Log(abi.LevelWarn, msg, kv...) }

// Error logs at error level.
func Error(msg string, kv ...any) { core.Log(abi.LevelError, msg, kv...) }

// arrowOps runs the operations with Arrow IPC bodies on a Destination,
// decoding the bodies with arrow-go.
type arrowOps struct {
	x *Dispatcher
	d Destination
}

func (o *arrowOps) Describe(ctx context.Context, header []byte, body func() io.Reader, h Host) error {
	ds, ok := o.d.(Describer)
	if !ok {
		return core.ErrUnsupported
	}
	req, schema, err := withSchema[abi.TableRequest](o.x, header, bufferedBody(body))
	if err != nil {
		return err
	}
	st, err := ds.Describe(ctx, req.Table, schema)
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return h.Output(b)
}

func (o *arrowOps) Migrate(ctx context.Context, header []byte, body func() io.Reader) error {
	m, ok := o.d.(Migrator)
	if !ok {
		return core.ErrUnsupported
	}
	req, schema, err := withSchema[abi.MigrateRequest](o.x, header, bufferedBody(body))
	if err != nil {
		return err
	}
	return m.Migrate(ctx, req, schema)
}

func (o *arrowOps) Write(ctx context.Context, table string, body func() io.Reader) error {
	rr, err := newRecordReader(o.x, bufferedBody(body))
	if err != nil {
		return err
	}
	defer rr.Release()
	if err := o.d.Write(ctx, table, rr); err != nil {
		return err
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return core.BadRequest("request body: %w", err)
	}
	return nil
}

func (o *arrowOps) Read(ctx context.Context, header []byte, body func() io.Reader, h Host) error {
	rd, ok := o.d.(Reader)
	if !ok {
		return core.ErrUnsupported
	}
	req, schema, err := withSchema[abi.TableRequest](o.x, header, bufferedBody(body))
	if err != nil {
		return err
	}
	w := ipc.NewWriter(outputWriter{h}, ipc.WithSchema(schema))
	if err := rd.Read(ctx, req.Table, schema, func(rec arrow.RecordBatch) error { return w.Write(rec) }); err != nil {
		return err
	}
	return w.Close()
}

// withSchema decodes a request header and the schema-only body that comes
// with it (OpDescribe, OpMigrate, OpRead).
func withSchema[T any](x *Dispatcher, header []byte, body io.Reader) (T, *arrow.Schema, error) {
	var req T
	if err := decodeHeader(header, &req); err != nil {
		return req, nil, err
	}
	rr, err := newRecordReader(x, body)
	if err != nil {
		return req, nil, err
	}
	defer rr.Release()
	return req, rr.Schema(), nil
}

func newRecordReader(x *Dispatcher, r io.Reader) (*ipc.Reader, error) {
	limits := []ipc.Option{ipc.WithMetadataSizeLimit(abi.MaxMetadataBytes), ipc.WithBodySizeLimit(x.MaxBody())}
	rr, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, limits...), limits...)
	if err != nil {
		return nil, core.BadRequest("request body is not an Arrow IPC stream: %w", err)
	}
	return rr, nil
}

type outputWriter struct{ h Host }

func (w outputWriter) Write(p []byte) (int, error) {
	if err := w.h.Output(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func decodeHeader(header []byte, v any) error {
	if err := json.Unmarshal(header, v); err != nil {
		return core.BadRequest("request header: %w", err)
	}
	return nil
}

// bufferedBody is the request body read in 64 KiB chunks, as arrow-go reads
// it in small pieces.
func bufferedBody(body func() io.Reader) io.Reader { return bufio.NewReaderSize(body(), 64<<10) }
