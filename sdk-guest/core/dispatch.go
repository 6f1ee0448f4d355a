// Package core is the part of the wasmdest guest SDK that needs no Arrow:
// the ABI's exports, the host functions (log, expand, pg_*, sql_*, codec_*, http_*),
// the dispatcher that runs operations, and schema-only destinations
// (RegisterSchemaOnly), which never decode a batch. Package sdk
// (github.com/wasmdest/wasmdest/sdk-guest) builds its Arrow Destination on
// it; a guest that registers a SchemaDestination imports only core and so
// links none of arrow-go (RATIONALE.md, "Schema-only guests").
package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"

	"github.com/wasmdest/wasmdest/abi"
)

// StaleDeleter deletes rows a sync did not touch (write_mode overwrite-delete-stale).
type StaleDeleter interface {
	DeleteStale(ctx context.Context, req abi.DeleteStaleRequest) error
}

// RecordDeleter deletes the rows that predicates match (ABI 1.1,
// abi.OpDeleteRecord; a CloudQuery delete_record message).
type RecordDeleter interface {
	DeleteRecord(ctx context.Context, req abi.DeleteRecordRequest) error
}

// ErrStopped is returned by host functions when the host asks the guest to
// stop the running operation. Return it (wrapped or not) to end the call.
var ErrStopped = errors.New("host asked the guest to stop")

// registered is the Dispatcher of Register (or RegisterSchemaOnly), which
// the guest's exports call. It starts without a destination, so that a
// guest that registers a SchemaDestination links none of the Arrow
// decoding a Destination needs.
var registered = &Dispatcher{maxBody: abi.MaxBodyBytes}

// Serve makes x the Dispatcher the guest's exports call. Register (package
// sdk) and RegisterSchemaOnly call it, from an init function.
func Serve(x *Dispatcher) { registered = x }

// Dispatcher runs the ABI's operations on one Destination (or
// SchemaDestination): decoding request headers and Arrow IPC bodies,
// encoding outputs, turning errors and panics into statuses. The exports of
// a guest built for WebAssembly call the one Register makes; package
// sdktest makes its own to run a Destination in-process. Like a guest
// instance, it serves one call at a time.
type Dispatcher struct {
	manifest abi.Manifest
	// dest is the destination, for the operations without Arrow (init,
	// delete_stale, delete_record, close).
	dest Lifecycle
	// ops runs the operations whose bodies are Arrow IPC: package sdk's
	// decodes them, schemaOps hands the schema on undecoded. Only the one
	// a guest registers is linked into it.
	ops Bodies
	// maxBody bounds the Arrow IPC message bodies of requests:
	// InitRequest.MaxMessageBytes once init has set it.
	maxBody int64
}

// Lifecycle is what every destination implements: package sdk's
// Destination and SchemaDestination. It may also implement StaleDeleter and
// RecordDeleter.
type Lifecycle interface {
	// Init prepares the destination. It is called once per instance, before
	// any other method.
	Init(ctx context.Context, req abi.InitRequest) error
	// Close finishes all work, for example closing files.
	Close(ctx context.Context) error
}

// Bodies runs, for a Dispatcher, the operations whose request bodies are
// Arrow IPC streams (describe, migrate, write, read). body returns the
// request body, read through the host's input_read, unbuffered (a
// schema-only write reads the schema message and nothing more). A method returns
// ErrUnsupported when the destination does not implement the operation,
// and BadRequest errors for a malformed request.
type Bodies interface {
	Describe(ctx context.Context, header []byte, body func() io.Reader, h Host) error
	Migrate(ctx context.Context, header []byte, body func() io.Reader) error
	Write(ctx context.Context, table string, body func() io.Reader) error
	Read(ctx context.Context, header []byte, body func() io.Reader, h Host) error
}

// NewDispatcher returns a Dispatcher of d, described by m, with
// m.ABIVersion filled and the features d implements added (reads: d
// implements read), running the Arrow operations with ops.
func NewDispatcher(m abi.Manifest, d Lifecycle, reads bool, ops Bodies) *Dispatcher {
	m.ABIVersion = abi.CurrentVersion.String()
	if reads && !slices.Contains(m.Features, abi.FeatureRead) {
		m.Features = append(m.Features, abi.FeatureRead)
	}
	if _, ok := d.(StaleDeleter); ok && !slices.Contains(m.Features, abi.FeatureDeleteStale) {
		m.Features = append(m.Features, abi.FeatureDeleteStale)
	}
	if _, ok := d.(RecordDeleter); ok && !slices.Contains(m.Features, abi.FeatureDeleteRecord) {
		m.Features = append(m.Features, abi.FeatureDeleteRecord)
	}
	return &Dispatcher{manifest: m, dest: d, ops: ops, maxBody: abi.MaxBodyBytes}
}

// MaxBody is the largest Arrow IPC message body a request may hold:
// abi.MaxBodyBytes, or InitRequest.MaxMessageBytes once init has set it.
func (x *Dispatcher) MaxBody() int64 { return x.maxBody }

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

// BadRequest is the error of a malformed request (abi.StatusBadRequest).
func BadRequest(format string, args ...any) error {
	return &callError{abi.StatusBadRequest, fmt.Errorf(format, args...)}
}

// ErrUnsupported is the error of an operation the destination does not
// implement (abi.StatusUnsupported).
var ErrUnsupported error = &callError{abi.StatusUnsupported, errors.New("unsupported")}

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
		return errors.New("guest registered no destination: call sdk.Register (or core.RegisterSchemaOnly) from an init function")
	}
	body := func() io.Reader { return inputReader{h} }
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
		return x.ops.Describe(ctx, header, body, h)
	case abi.OpMigrate:
		return x.ops.Migrate(ctx, header, body)
	case abi.OpWrite:
		var req abi.TableRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		res := &abi.WriteResult{}
		err := x.ops.Write(context.WithValue(ctx, writeResultKey{}, res), req.Table, body)
		if res.HeldRows != 0 || res.LostRows != 0 || len(res.Durable) > 0 || len(res.Lost) > 0 {
			b, merr := json.Marshal(res)
			if merr == nil {
				merr = h.Output(b)
			}
			if err == nil && merr != nil {
				return merr
			}
		}
		return err
	case abi.OpDeleteStale:
		sd, ok := d.(StaleDeleter)
		if !ok {
			return ErrUnsupported
		}
		var req abi.DeleteStaleRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		return sd.DeleteStale(ctx, req)
	case abi.OpDeleteRecord:
		rd, ok := d.(RecordDeleter)
		if !ok {
			return ErrUnsupported
		}
		var req abi.DeleteRecordRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		return rd.DeleteRecord(ctx, req)
	case abi.OpRead:
		return x.ops.Read(ctx, header, body, h)
	case abi.OpClose:
		return d.Close(ctx)
	}
	return ErrUnsupported
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
		return BadRequest("request header: %w", err)
	}
	return nil
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
