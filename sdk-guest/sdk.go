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
package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
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
type StaleDeleter interface {
	DeleteStale(ctx context.Context, req abi.DeleteStaleRequest) error
}

// RecordDeleter deletes the rows that predicates match (ABI 1.1,
// abi.OpDeleteRecord; a CloudQuery delete_record message).
type RecordDeleter interface {
	DeleteRecord(ctx context.Context, req abi.DeleteRecordRequest) error
}

// Reader reads back every stored row of a table, for verification. It calls
// emit with record batches of schema; emit returns an error when the host
// wants it to stop, which Read should return.
type Reader interface {
	Read(ctx context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error
}

// ErrStopped is returned by host functions when the host asks the guest to
// stop the running operation. Return it (wrapped or not) to end the call.
var ErrStopped = errors.New("host asked the guest to stop")

// registered is the Dispatcher of Register, which the guest's exports call.
var registered = NewDispatcher(abi.Manifest{}, nil)

// Register makes d the guest's destination, described by m. Call it from an
// init function. It fills m.ABIVersion and adds the features d implements.
func Register(m abi.Manifest, d Destination) { registered = NewDispatcher(m, d) }

// Dispatcher runs the ABI's operations on one Destination: decoding request
// headers and Arrow IPC bodies, encoding outputs, turning errors and panics
// into statuses. The exports of a guest built for WebAssembly call the one
// Register makes; package sdktest makes its own to run a Destination
// in-process. Like a guest instance, it serves one call at a time.
type Dispatcher struct {
	manifest abi.Manifest
	dest     Destination
	// maxBody bounds the Arrow IPC message bodies of requests:
	// InitRequest.MaxMessageBytes once init has set it.
	maxBody int64
}

// NewDispatcher returns a Dispatcher of d, described by m, with
// m.ABIVersion filled and the features d implements added, as Register
// does.
func NewDispatcher(m abi.Manifest, d Destination) *Dispatcher {
	m.ABIVersion = abi.CurrentVersion.String()
	if _, ok := d.(Reader); ok && !slices.Contains(m.Features, abi.FeatureRead) {
		m.Features = append(m.Features, abi.FeatureRead)
	}
	if _, ok := d.(StaleDeleter); ok && !slices.Contains(m.Features, abi.FeatureDeleteStale) {
		m.Features = append(m.Features, abi.FeatureDeleteStale)
	}
	if _, ok := d.(RecordDeleter); ok && !slices.Contains(m.Features, abi.FeatureDeleteRecord) {
		m.Features = append(m.Features, abi.FeatureDeleteRecord)
	}
	arrowtypes.Register()
	return &Dispatcher{manifest: m, dest: d, maxBody: abi.MaxBodyBytes}
}

// Manifest returns the manifest OpManifest answers with.
func (x *Dispatcher) Manifest() abi.Manifest { return x.manifest }

// Host is the host side of the ABI as the dispatcher and the SDK's
// functions use it: in a guest built for WebAssembly the wasmdest host's
// functions; in-process (package sdktest), a stand-in.
type Host interface {
	// SetError sets the message of the failing operation (set_error).
	SetError(msg string)
	// InputRead reads the operation's body (input_read); io.EOF at its end.
	InputRead(p []byte) (int, error)
	// Output hands output to the host (output); ErrStopped when the host
	// asks the guest to stop.
	Output(p []byte) error
	// Log writes one log line (log).
	Log(level abi.Level, msg string)
	// Expand fills placeholders (expand).
	Expand(req abi.ExpandRequest) (string, error)
}

// callError is an error with the status to return for it.
type callError struct {
	status abi.Status
	err    error
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &callError{abi.StatusBadRequest, fmt.Errorf(format, args...)}
}

var errUnsupported = &callError{abi.StatusUnsupported, errors.New("unsupported")}

// Call runs operation op with its request header against h and returns its
// status, as the wasmdest_call export does; the error message, if any, goes
// to h.SetError. It never lets a panic escape. Outside WebAssembly the
// SDK's host functions (Log, Expand) go to h during the call, and calls of
// every Dispatcher of the process are serialised; the pg_* functions
// return an error there.
func (x *Dispatcher) Call(op abi.Op, header []byte, h Host) abi.Status {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	h = stoppingHost{h, cancel}
	return withHost(h, func() (status abi.Status) {
		defer func() {
			if r := recover(); r != nil {
				h.SetError(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
				status = abi.StatusPanicked
			}
		}()
		err := x.run(ctx, op, header, h)
		switch {
		case err == nil:
			return abi.StatusOK
		case errors.Is(err, ErrStopped):
			h.SetError(err.Error())
			return abi.StatusCancelled
		}
		var ce *callError
		if errors.As(err, &ce) {
			if ce.status != abi.StatusUnsupported {
				h.SetError(err.Error())
			}
			return ce.status
		}
		h.SetError(err.Error())
		return abi.StatusError
	})
}

// stoppingHost cancels the operation's context when the host asks the guest
// to stop.
type stoppingHost struct {
	Host
	cancel context.CancelCauseFunc
}

func (h stoppingHost) Output(p []byte) error {
	err := h.Host.Output(p)
	if errors.Is(err, ErrStopped) {
		h.cancel(ErrStopped)
	}
	return err
}

func (x *Dispatcher) run(ctx context.Context, op abi.Op, header []byte, h Host) error {
	d := x.dest
	if d == nil && op != abi.OpManifest {
		return errors.New("guest registered no destination: call sdk.Register from an init function")
	}
	body := func() io.Reader { return bufio.NewReaderSize(inputReader{h}, 64<<10) }
	switch op {
	case abi.OpManifest:
		b, err := json.Marshal(x.manifest)
		if err != nil {
			return err
		}
		return h.Output(b)
	case abi.OpInit:
		var req abi.InitRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		if req.MaxMessageBytes > 0 {
			x.maxBody = req.MaxMessageBytes
		}
		return d.Init(ctx, req)
	case abi.OpDescribe:
		ds, ok := d.(Describer)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.TableRequest](x, header, body())
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
	case abi.OpMigrate:
		m, ok := d.(Migrator)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.MigrateRequest](x, header, body())
		if err != nil {
			return err
		}
		return m.Migrate(ctx, req, schema)
	case abi.OpWrite:
		var req abi.TableRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		rr, err := x.newRecordReader(body())
		if err != nil {
			return err
		}
		defer rr.Release()
		res := &abi.WriteResult{}
		err = d.Write(context.WithValue(ctx, writeResultKey{}, res), req.Table, rr)
		if *res != (abi.WriteResult{}) {
			b, merr := json.Marshal(res)
			if merr == nil {
				merr = h.Output(b)
			}
			if err == nil && merr != nil {
				return merr
			}
		}
		if err != nil {
			return err
		}
		if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return badRequest("request body: %w", err)
		}
		return nil
	case abi.OpDeleteStale:
		sd, ok := d.(StaleDeleter)
		if !ok {
			return errUnsupported
		}
		var req abi.DeleteStaleRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		return sd.DeleteStale(ctx, req)
	case abi.OpDeleteRecord:
		rd, ok := d.(RecordDeleter)
		if !ok {
			return errUnsupported
		}
		var req abi.DeleteRecordRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		return rd.DeleteRecord(ctx, req)
	case abi.OpRead:
		rd, ok := d.(Reader)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.TableRequest](x, header, body())
		if err != nil {
			return err
		}
		w := ipc.NewWriter(outputWriter{h}, ipc.WithSchema(schema))
		if err := rd.Read(ctx, req.Table, schema, func(rec arrow.RecordBatch) error { return w.Write(rec) }); err != nil {
			return err
		}
		return w.Close()
	case abi.OpClose:
		return d.Close(ctx)
	}
	return errUnsupported
}

// writeResultKey keys the *abi.WriteResult of a Write in its context.
type writeResultKey struct{}

// ReportWrite tells the host, from inside Destination.Write (ctx is Write's
// context), what of the batch is held and not yet durable, and what earlier
// held rows the call lost (abi.WriteResult, ABI 1.2). A destination whose
// writes are durable when Write returns never calls it. The last call in a
// Write wins.
func ReportWrite(ctx context.Context, r abi.WriteResult) {
	if res, ok := ctx.Value(writeResultKey{}).(*abi.WriteResult); ok {
		*res = r
	}
}

func decodeHeader(header []byte, v any) error {
	if err := json.Unmarshal(header, v); err != nil {
		return badRequest("request header: %w", err)
	}
	return nil
}

// withSchema decodes a request header and the schema-only body that comes
// with it (OpDescribe, OpMigrate, OpRead).
func withSchema[T any](x *Dispatcher, header []byte, body io.Reader) (T, *arrow.Schema, error) {
	var req T
	if err := decodeHeader(header, &req); err != nil {
		return req, nil, err
	}
	rr, err := x.newRecordReader(body)
	if err != nil {
		return req, nil, err
	}
	defer rr.Release()
	return req, rr.Schema(), nil
}

func (x *Dispatcher) newRecordReader(r io.Reader) (*ipc.Reader, error) {
	limits := []ipc.Option{ipc.WithMetadataSizeLimit(abi.MaxMetadataBytes), ipc.WithBodySizeLimit(x.maxBody)}
	rr, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, limits...), limits...)
	if err != nil {
		return nil, badRequest("request body is not an Arrow IPC stream: %w", err)
	}
	return rr, nil
}

type inputReader struct{ h Host }

func (r inputReader) Read(p []byte) (int, error) { return r.h.InputRead(p) }

type outputWriter struct{ h Host }

func (w outputWriter) Write(p []byte) (int, error) {
	if err := w.h.Output(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
