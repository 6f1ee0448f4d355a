//go:build !wasip1

package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/placeholder"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

// Config configures a Guest. The zero value is usable.
type Config struct {
	// Init is the init request. Zero fields get: the default write, migrate
	// and pk modes, Spec {}, SyncID "sdktest", SyncTime the current time,
	// SourceName "sdktest", Destination "sdktest", and MaxMessageBytes
	// 64 MiB, as the host sends.
	Init abi.InitRequest
	// Expand expands placeholders for sdk.Expand. nil means the host's own
	// expansion, with Init's sync id and time.
	Expand func(abi.ExpandRequest) (string, error)
	// Log receives the guest's log lines, "LEVEL message" each. nil drops
	// them (New sends them to the test's log); Guest.Logs keeps them anyway.
	Log io.Writer
}

// Guest is a Destination run in-process. Its methods are the ABI's
// operations; an operation that fails returns a *CallError.
type Guest struct {
	d      *sdk.Dispatcher
	cfg    Config
	mu     sync.Mutex
	logs   []string
	closed bool
}

// CallError is an operation that did not return abi.StatusOK.
type CallError struct {
	Op     abi.Op
	Status abi.Status
	// Message is what the guest set with set_error (for a panic, with its
	// stack).
	Message string
}

func (e *CallError) Error() string {
	if e.Status == abi.StatusUnsupported {
		return fmt.Sprintf("%s: not supported by this guest", e.Op)
	}
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Status, e.Message)
}

// IsUnsupported reports whether err is a CallError with status unsupported.
func IsUnsupported(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Status == abi.StatusUnsupported
}

// Start makes a Guest of d, described by m as sdk.Register describes a
// destination, reads its manifest as the host does, and runs init with
// c.Init. It returns init's error, if any, with the Guest (whose other
// operations then fail as a host's would not run them). Close it when done.
func Start(m abi.Manifest, d sdk.Destination, c Config) (*Guest, error) {
	g := &Guest{d: sdk.NewDispatcher(m, d), cfg: c}
	var out bytes.Buffer
	if err := g.Call(abi.OpManifest, nil, nil, &out); err != nil {
		return g, err
	}
	var got abi.Manifest
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		return g, fmt.Errorf("manifest: %w", err)
	}
	if !abi.ValidSemver(got.Version) {
		return g, fmt.Errorf("manifest version %q is not a semantic version like v1.2.3", got.Version)
	}
	init := c.Init
	init.WriteMode = or(init.WriteMode, abi.DefaultWriteMode)
	init.MigrateMode = or(init.MigrateMode, abi.DefaultMigrateMode)
	init.PKMode = or(init.PKMode, abi.DefaultPKMode)
	init.Destination = or(init.Destination, "sdktest")
	init.SyncID = or(init.SyncID, "sdktest")
	init.SourceName = or(init.SourceName, "sdktest")
	init.SyncTime = or(init.SyncTime, abi.FormatTime(time.Now()))
	if len(init.Spec) == 0 {
		init.Spec = json.RawMessage("{}")
	}
	if init.MaxMessageBytes == 0 {
		init.MaxMessageBytes = 64 << 20
	}
	g.cfg.Init = init
	return g, g.Call(abi.OpInit, init, nil, nil)
}

// New is Start for tests: a failing init fails the test, and the Guest is
// closed when the test ends (unless the test closed it). The guest's log
// lines go to the test's log.
func New(t testing.TB, m abi.Manifest, d sdk.Destination, c Config) *Guest {
	t.Helper()
	if c.Log == nil {
		c.Log = testLog{t}
	}
	g, err := Start(m, d, c)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("sdktest: close: %v", err)
		}
	})
	return g
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Init returns the init request the guest was given.
func (g *Guest) Init() abi.InitRequest { return g.cfg.Init }

// Manifest returns the manifest as the host reads it.
func (g *Guest) Manifest() abi.Manifest {
	var out bytes.Buffer
	var m abi.Manifest
	if err := g.Call(abi.OpManifest, nil, nil, &out); err == nil {
		_ = json.Unmarshal(out.Bytes(), &m)
	}
	return m
}

// Logs returns the guest's log lines so far, "LEVEL message" each.
func (g *Guest) Logs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.logs...)
}

// Write writes one batch of table: the records recs of schema (none is an
// empty batch).
func (g *Guest) Write(table string, schema *arrow.Schema, recs ...arrow.RecordBatch) error {
	body, err := encode(schema, recs...)
	if err != nil {
		return err
	}
	return g.Call(abi.OpWrite, abi.TableRequest{Table: table}, body, nil)
}

// Describe asks how the guest holds table and would hold schema.
func (g *Guest) Describe(table string, schema *arrow.Schema) (abi.TableState, error) {
	var st abi.TableState
	body, err := encode(schema)
	if err != nil {
		return st, err
	}
	var out bytes.Buffer
	if err := g.Call(abi.OpDescribe, abi.TableRequest{Table: table}, body, &out); err != nil {
		return st, err
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return st, fmt.Errorf("describe output: %w", err)
	}
	return st, nil
}

// Migrate runs a migration of the table to schema.
func (g *Guest) Migrate(req abi.MigrateRequest, schema *arrow.Schema) error {
	body, err := encode(schema)
	if err != nil {
		return err
	}
	return g.Call(abi.OpMigrate, req, body, nil)
}

// DeleteStale deletes the stale rows req names.
func (g *Guest) DeleteStale(req abi.DeleteStaleRequest) error {
	return g.Call(abi.OpDeleteStale, req, nil, nil)
}

// Read reads every stored row of table in schema, decoding the guest's
// output with the host's size limits. The caller releases the records.
func (g *Guest) Read(table string, schema *arrow.Schema) ([]arrow.RecordBatch, error) {
	body, err := encode(schema)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := g.Call(abi.OpRead, abi.TableRequest{Table: table}, body, &out); err != nil {
		return nil, err
	}
	limits := []ipc.Option{ipc.WithMetadataSizeLimit(abi.MaxMetadataBytes), ipc.WithBodySizeLimit(abi.MaxBodyBytes)}
	rr, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(&out, limits...), limits...)
	if err != nil {
		return nil, fmt.Errorf("read output is not an Arrow IPC stream: %w", err)
	}
	defer rr.Release()
	if !rr.Schema().Equal(schema) {
		return nil, fmt.Errorf("read output has schema %s, asked for %s", rr.Schema(), schema)
	}
	var recs []arrow.RecordBatch
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		for _, r := range recs {
			r.Release()
		}
		return nil, fmt.Errorf("read output: %w", err)
	}
	return recs, nil
}

// Close runs close. Later calls do nothing.
func (g *Guest) Close() error {
	if g.closed {
		return nil
	}
	g.closed = true
	return g.Call(abi.OpClose, nil, nil, nil)
}

// Call runs operation op with header (nil for none, else encoded as JSON)
// and body (nil for none), writing its output to out (nil discards it).
func (g *Guest) Call(op abi.Op, header any, body io.Reader, out io.Writer) error {
	var hdr []byte
	if header != nil {
		var err error
		if hdr, err = json.Marshal(header); err != nil {
			return fmt.Errorf("%s: header: %w", op, err)
		}
	}
	if body == nil {
		body = bytes.NewReader(nil)
	}
	if out == nil {
		out = io.Discard
	}
	h := &host{g: g, body: body, out: out}
	if st := g.d.Call(op, hdr, h); st != abi.StatusOK {
		return &CallError{Op: op, Status: st, Message: h.errMsg}
	}
	return nil
}

// encode returns the Arrow IPC stream of schema and recs.
func encode(schema *arrow.Schema, recs ...arrow.RecordBatch) (io.Reader, error) {
	var b bytes.Buffer
	w := ipc.NewWriter(&b, ipc.WithSchema(schema))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return nil, err
		}
	}
	return &b, w.Close()
}

// host is the stand-in host of one call.
type host struct {
	g      *Guest
	body   io.Reader
	out    io.Writer
	errMsg string
}

func (h *host) SetError(msg string) { h.errMsg = msg }

func (h *host) InputRead(p []byte) (int, error) { return h.body.Read(p) }

func (h *host) Output(p []byte) error {
	_, err := h.out.Write(p)
	return err
}

func (h *host) Log(level abi.Level, msg string) {
	line := levelName(level) + " " + msg
	h.g.mu.Lock()
	h.g.logs = append(h.g.logs, line)
	h.g.mu.Unlock()
	if h.g.cfg.Log != nil {
		fmt.Fprintln(h.g.cfg.Log, line)
	}
}

func (h *host) Expand(req abi.ExpandRequest) (string, error) {
	if h.g.cfg.Expand != nil {
		return h.g.cfg.Expand(req)
	}
	at, _ := time.Parse(time.RFC3339Nano, h.g.cfg.Init.SyncTime)
	return placeholder.Expand(req.Template, placeholder.Vars{SyncID: h.g.cfg.Init.SyncID, Time: at, Table: req.Table, Format: req.Format})
}

func levelName(l abi.Level) string {
	switch l {
	case abi.LevelTrace:
		return "TRACE"
	case abi.LevelDebug:
		return "DEBUG"
	case abi.LevelInfo:
		return "INFO"
	case abi.LevelWarn:
		return "WARN"
	case abi.LevelError:
		return "ERROR"
	}
	return fmt.Sprintf("LEVEL(%d)", l)
}
