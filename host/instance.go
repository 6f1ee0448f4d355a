package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/internal/linmem"
)

// Instance is one instantiated guest. It must be used by one goroutine at a
// time; a Pool hands instances out that way.
type Instance struct {
	g    *Guest
	pool *Pool // nil for the manifest probe
	mod  api.Module
	// mem is the linear memory, outside the Go heap (see linmem); calls
	// pin it so that closing the instance under a running call does not
	// unmap it from under the guest.
	mem *linmem.Memory
	fn  struct{ version, alloc, free, call api.Function }
	log hclog.Logger
	// stderrTail keeps the guest's last stderr lines for trap messages.
	stderr *lineLogger
	// broken is set when the instance trapped or panicked: it must not be reused.
	broken bool
	// notes take the host errors its grants noted that the guest could
	// only be told of vaguely (HostErrorNoter).
	notes []func() error
	// states are the capabilities' states kept across operations
	// (Call.InstanceState), closed with the instance.
	states map[Grant]InstanceState
}

// instanceKey is the context key of the *Instance being instantiated, so
// that logs from the guest's initialisers reach its logger.
type instanceKey struct{}

func (g *Guest) instantiate(ctx context.Context, p *Pool, cfg PoolConfig) (*Instance, error) {
	base := g.rt.log
	if cfg.Logger != nil {
		base = cfg.Logger
	}
	in := &Instance{g: g, pool: p, log: base.Named(g.name)}
	in.stderr = newLineLogger(in.log, hclog.Warn)
	stdout := newLineLogger(in.log, hclog.Info)
	limit := g.rt.memoryLimit
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(abi.ExportInitialize).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(stdout).WithStderr(in.stderr).
		// The Go runtime in a guest collects harder as it nears this, well
		// before the hard cap at which it would die.
		WithEnv("GOMEMLIMIT", fmt.Sprintf("%dMiB", limit*3/4>>20))
	if p != nil {
		for _, gr := range p.grants {
			if n, ok := gr.(HostErrorNoter); ok {
				var take func() error
				mc, take = n.ConfigureInstanceNoting(mc, in.log)
				in.notes = append(in.notes, take)
				continue
			}
			mc = gr.ConfigureInstance(mc, in.log)
		}
	}
	// The guest's memory is reserved up to the limit and grows in place
	// (RATIONALE.md, "Guest memory outside the Go heap").
	alloc := linmem.NewAllocator()
	ictx := experimental.WithMemoryAllocator(context.WithValue(ctx, instanceKey{}, in), alloc)
	mod, err := g.rt.rt.InstantiateModule(ictx, g.compiled, mc)
	if m := alloc.Memory(); m != nil {
		if err != nil {
			m.Free() // wazero drops a module that failed to start without closing it
		}
		m.Unpin() // Allocate pinned it for the start function
		in.mem = m
	}
	if err != nil {
		if h := in.stderr.takeHeadline(); h != "" {
			return nil, fmt.Errorf("instantiate: %w: guest said %q", err, h)
		}
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	in.mod = mod
	in.fn.version = mod.ExportedFunction(abi.ExportVersion)
	in.fn.alloc = mod.ExportedFunction(abi.ExportAlloc)
	in.fn.free = mod.ExportedFunction(abi.ExportFree)
	in.fn.call = mod.ExportedFunction(abi.ExportCall)
	return in, nil
}

// capabilityFunc returns the implementation of a capability's host
// function imp and the grant it runs on: both nil when the capability is not
// granted to the instance's pool, fn nil when its implementation lacks imp.
func (in *Instance) capabilityFunc(imp abi.Import) (Grant, func(context.Context, *Call, []uint64)) {
	if in.pool == nil {
		return nil, nil
	}
	if f, ok := in.pool.funcs[imp.Name]; ok {
		return f.grant, f.fn
	}
	for _, gr := range in.pool.grants {
		if gr.Capability().Name() == imp.Capability {
			return gr, nil
		}
	}
	return nil, nil
}

func (in *Instance) logLine(level abi.Level, msg string) {
	l := hclog.Level(level)
	if l < hclog.Trace || l > hclog.Error {
		l = hclog.Info
	}
	in.log.Log(l, msg)
}

func (in *Instance) close(ctx context.Context) {
	for _, st := range in.states {
		st.Close()
	}
	in.states = nil
	if in.mod != nil {
		in.mod.Close(ctx)
	}
}

// pin keeps the instance's memory mapped until unpin, for a call into the
// guest; false when the instance is already closed.
func (in *Instance) pin() bool { return in.mem == nil || in.mem.Pin() }

func (in *Instance) unpin() {
	if in.mem != nil {
		in.mem.Unpin()
	}
}

// MemorySize returns the instance's current linear memory size in bytes.
func (in *Instance) MemorySize() uint32 { return in.mod.Memory().Size() }

// Broken reports whether the instance trapped or panicked and must be discarded.
func (in *Instance) Broken() bool { return in.broken }

// CallError is the error of an operation that failed in or at the guest.
type CallError struct {
	Guest string
	Op    abi.Op
	// Status is the guest's status; zero when the guest trapped.
	Status abi.Status
	// Message is the guest's error message, or the trap.
	Message string
	// Trapped is true when the guest trapped, ran out of memory, exited or was
	// stopped; the instance was discarded.
	Trapped bool
	// Err is the underlying cause: the trap, the output writer's error, or
	// the last error a host function returned to the guest.
	Err error
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "guest %s: %s: ", e.Guest, e.Op)
	switch {
	case e.Trapped:
		b.WriteString("instance failed and was discarded: ")
	case e.Status == abi.StatusPanicked:
		b.WriteString("guest panicked and was discarded: ")
	case e.Status == abi.StatusUnsupported:
		b.WriteString("not supported by this guest")
	}
	b.WriteString(e.Message)
	if e.Err != nil && !e.Trapped && !strings.Contains(e.Message, e.Err.Error()) {
		if e.Message != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

// IsUnsupported reports whether err says the guest does not implement an operation.
func IsUnsupported(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Status == abi.StatusUnsupported
}

// call runs one operation on the instance; see Pool.Call.
func (in *Instance) call(ctx context.Context, op abi.Op, header any, body io.Reader, out io.Writer) error {
	if in.broken {
		return &CallError{Guest: in.g.name, Op: op, Trapped: true, Message: "instance was discarded after an earlier failure"}
	}
	if !in.pin() {
		in.broken = true
		return &CallError{Guest: in.g.name, Op: op, Trapped: true, Message: "instance is closed"}
	}
	defer in.unpin()
	var hdr []byte
	switch h := header.(type) {
	case nil:
	case []byte:
		hdr = h
	default:
		var err error
		if hdr, err = json.Marshal(h); err != nil {
			return fmt.Errorf("guest %s: %s: encode request: %w", in.g.name, op, err)
		}
	}
	if out == nil && op == abi.OpWrite {
		out = io.Discard // its output (ABI 1.2 WriteResult) is optional for callers too
	}
	in.takeNote() // from an earlier call
	st := &Call{inst: in, body: body, out: out}
	// However the call ends: the capabilities roll back and release what
	// the guest left open.
	defer st.end(ctx)
	ctx = context.WithValue(ctx, stateKey{}, st)
	stack := make([]uint64, 3)
	var ptr uint32
	if len(hdr) > 0 {
		stack[0] = uint64(len(hdr))
		if err := in.fn.alloc.CallWithStack(ctx, stack); err != nil {
			return in.trap(ctx, op, err)
		}
		ptr = uint32(stack[0])
		if ptr == 0 || !in.mod.Memory().Write(ptr, hdr) {
			in.broken = true
			return &CallError{Guest: in.g.name, Op: op, Trapped: true, Message: fmt.Sprintf("guest could not allocate %d bytes for the request", len(hdr))}
		}
	}
	stack[0], stack[1], stack[2] = uint64(op), uint64(ptr), uint64(len(hdr))
	if err := in.fn.call.CallWithStack(ctx, stack); err != nil {
		return in.trap(ctx, op, err)
	}
	status := abi.Status(uint32(stack[0]))
	if ptr != 0 {
		stack[0] = uint64(ptr)
		if err := in.fn.free.CallWithStack(ctx, stack); err != nil {
			return in.trap(ctx, op, err)
		}
	}
	switch status {
	case abi.StatusOK:
		if st.outErr != nil {
			return &CallError{Guest: in.g.name, Op: op, Message: "output", Err: st.outErr}
		}
		return nil
	case abi.StatusCancelled:
		cause := st.outErr
		if cause == nil {
			cause = ctx.Err()
		}
		return &CallError{Guest: in.g.name, Op: op, Status: status, Message: "cancelled", Err: cause}
	case abi.StatusPanicked:
		in.broken = true
	}
	msg := st.errMsg
	if msg == "" && status != abi.StatusUnsupported {
		msg = "failed with status " + status.String() + " and no message"
	}
	msg = in.withFSNote(msg)
	return &CallError{Guest: in.g.name, Op: op, Status: status, Message: msg, Err: st.hostErr}
}

// trap turns an error from calling into the guest into a CallError and marks
// the instance broken.
func (in *Instance) trap(ctx context.Context, op abi.Op, err error) error {
	in.broken = true
	msg := err.Error()
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch {
		case ctx.Err() != nil:
			msg = "stopped: " + ctx.Err().Error()
		default:
			msg = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
		}
	}
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i] // the wasm stack trace stays in Err and the logs
	}
	if h := in.stderr.takeHeadline(); h != "" {
		msg += ": guest said " + strconv.Quote(h)
	}
	msg = in.withFSNote(msg)
	if strings.Contains(msg, "out of memory") {
		msg += fmt.Sprintf(" (memory limit %d MiB)", in.g.rt.memoryLimit>>20)
	}
	return &CallError{Guest: in.g.name, Op: op, Trapped: true, Message: msg, Err: err}
}

// lineLogger writes what a guest prints, line by line, to its logger, and
// keeps the first line that announces a crash ("fatal error: ...",
// "panic: ...") for the trap's error message.
type lineLogger struct {
	mu       sync.Mutex
	log      hclog.Logger
	level    hclog.Level
	buf      bytes.Buffer
	headline string
}

func newLineLogger(l hclog.Logger, level hclog.Level) *lineLogger {
	return &lineLogger{log: l, level: level}
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1)[:i])
		w.log.Log(w.level, line)
		if w.headline == "" && (strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "panic: ")) {
			w.headline = line
		}
	}
	if w.buf.Len() > 64<<10 { // a guest printing without newlines
		w.log.Log(w.level, w.buf.String())
		w.buf.Reset()
	}
	return len(p), nil
}

// takeHeadline returns the crash line seen since the last call, if any.
func (w *lineLogger) takeHeadline() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.headline
	w.headline = ""
	return h
}

// takeNote returns (and forgets) the first host error the instance's
// grants noted, or nil.
func (in *Instance) takeNote() error {
	var first error
	for _, take := range in.notes {
		if err := take(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// withFSNote puts what the host really said (no space left on device, ...)
// where the guest could only say "I/O error" (WASI has no errno for it), or
// after msg when the guest did not say that.
func (in *Instance) withFSNote(msg string) string {
	err := in.takeNote()
	if err == nil {
		return msg
	}
	var se syscall.Errno
	if errors.As(err, &se) && strings.Contains(msg, "I/O error") {
		return strings.Replace(msg, "I/O error", se.Error()+" (host: "+err.Error()+")", 1)
	}
	return msg + " (host: " + err.Error() + ")"
}
