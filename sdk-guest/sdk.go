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

// Reader reads back every stored row of a table, for verification. It calls
// emit with record batches of schema; emit returns an error when the host
// wants it to stop, which Read should return.
type Reader interface {
	Read(ctx context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error
}

// ErrStopped is returned by host functions when the host asks the guest to
// stop the running operation. Return it (wrapped or not) to end the call.
var ErrStopped = errors.New("host asked the guest to stop")

var registered struct {
	manifest abi.Manifest
	dest     Destination
	maxBody  int64
}

// Register makes d the guest's destination, described by m. Call it from an
// init function. It fills m.ABIVersion and adds the features d implements.
func Register(m abi.Manifest, d Destination) {
	m.ABIVersion = abi.CurrentVersion.String()
	if _, ok := d.(Reader); ok && !slices.Contains(m.Features, abi.FeatureRead) {
		m.Features = append(m.Features, abi.FeatureRead)
	}
	if _, ok := d.(StaleDeleter); ok && !slices.Contains(m.Features, abi.FeatureDeleteStale) {
		m.Features = append(m.Features, abi.FeatureDeleteStale)
	}
	registered.manifest, registered.dest, registered.maxBody = m, d, abi.MaxBodyBytes
	arrowtypes.Register()
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

// dispatch runs one operation and returns its status; the error message, if
// any, goes to setError. It never lets a panic escape.
func dispatch(op abi.Op, header []byte, h hostABI) (status abi.Status) {
	defer func() {
		if r := recover(); r != nil {
			h.setError(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
			status = abi.StatusPanicked
		}
	}()
	err := run(context.Background(), op, header, h)
	switch {
	case err == nil:
		return abi.StatusOK
	case errors.Is(err, ErrStopped):
		h.setError(err.Error())
		return abi.StatusCancelled
	}
	var ce *callError
	if errors.As(err, &ce) {
		if ce.status != abi.StatusUnsupported {
			h.setError(err.Error())
		}
		return ce.status
	}
	h.setError(err.Error())
	return abi.StatusError
}

func run(ctx context.Context, op abi.Op, header []byte, h hostABI) error {
	d := registered.dest
	if d == nil && op != abi.OpManifest {
		return errors.New("guest registered no destination: call sdk.Register from an init function")
	}
	body := func() io.Reader { return bufio.NewReaderSize(inputReader{h}, 64<<10) }
	switch op {
	case abi.OpManifest:
		b, err := json.Marshal(registered.manifest)
		if err != nil {
			return err
		}
		return h.output(b)
	case abi.OpInit:
		var req abi.InitRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		if req.MaxMessageBytes > 0 {
			registered.maxBody = req.MaxMessageBytes
		}
		return d.Init(ctx, req)
	case abi.OpDescribe:
		ds, ok := d.(Describer)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.TableRequest](header, body())
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
		return h.output(b)
	case abi.OpMigrate:
		m, ok := d.(Migrator)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.MigrateRequest](header, body())
		if err != nil {
			return err
		}
		return m.Migrate(ctx, req, schema)
	case abi.OpWrite:
		var req abi.TableRequest
		if err := decodeHeader(header, &req); err != nil {
			return err
		}
		rr, err := newRecordReader(body())
		if err != nil {
			return err
		}
		defer rr.Release()
		if err := d.Write(ctx, req.Table, rr); err != nil {
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
	case abi.OpRead:
		rd, ok := d.(Reader)
		if !ok {
			return errUnsupported
		}
		req, schema, err := withSchema[abi.TableRequest](header, body())
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

func decodeHeader(header []byte, v any) error {
	if err := json.Unmarshal(header, v); err != nil {
		return badRequest("request header: %w", err)
	}
	return nil
}

// withSchema decodes a request header and the schema-only body that comes
// with it (OpDescribe, OpMigrate, OpRead).
func withSchema[T any](header []byte, body io.Reader) (T, *arrow.Schema, error) {
	var req T
	if err := decodeHeader(header, &req); err != nil {
		return req, nil, err
	}
	schema, err := readSchema(body)
	return req, schema, err
}

func ipcLimits() []ipc.Option {
	return []ipc.Option{ipc.WithMetadataSizeLimit(abi.MaxMetadataBytes), ipc.WithBodySizeLimit(registered.maxBody)}
}

func newRecordReader(r io.Reader) (*ipc.Reader, error) {
	rr, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, ipcLimits()...), ipcLimits()...)
	if err != nil {
		return nil, badRequest("request body is not an Arrow IPC stream: %w", err)
	}
	return rr, nil
}

func readSchema(r io.Reader) (*arrow.Schema, error) {
	rr, err := newRecordReader(r)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	return rr.Schema(), nil
}

// hostABI is the ABI's host functions as the dispatcher uses them.
type hostABI interface {
	setError(msg string)
	inputRead(p []byte) (int, error)
	output(p []byte) error
}

type inputReader struct{ h hostABI }

func (r inputReader) Read(p []byte) (int, error) { return r.h.inputRead(p) }

type outputWriter struct{ h hostABI }

func (w outputWriter) Write(p []byte) (int, error) {
	if err := w.h.output(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
