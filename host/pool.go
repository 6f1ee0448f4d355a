package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
)

// PoolConfig configures the instances of a Pool: one destination's guests.
type PoolConfig struct {
	// Size is the most instances that run at once. 0 means 1.
	Size int
	// Init is sent with OpInit to every new instance. nil sends no OpInit.
	Init *abi.InitRequest
	// Grants are the capabilities granted, opened (Capability.Open, or a
	// capability package's constructor). A capability the manifest asks for
	// but that is not granted makes NewPool fail; one granted but not asked
	// for is ignored. They belong to the caller, who closes them after the
	// Pool.
	Grants []Grant
	// Expand fills placeholders for the expand host function.
	Expand func(abi.ExpandRequest) (string, error)
	// CallTimeout bounds each operation, counted once the instance is
	// acquired, and a new instance's instantiation and init (at least 10s
	// for those). 0 means none. Only an Interruptible runtime can stop guest
	// code that does not return.
	CallTimeout time.Duration
	// Logger, if set, receives the logs of the pool's instances (the guest's
	// log lines, stdout and stderr) instead of the runtime's logger: runtimes
	// shared by several users keep their guests' logs apart.
	Logger hclog.Logger
	// Observe, if set, is told of every operation Call runs: how long it
	// took once the instance was acquired, and its error.
	Observe func(op abi.Op, took time.Duration, err error)
	// Discarded, if set, is told of an instance the pool discards because
	// it trapped, panicked or was stopped, before it is closed: whatever
	// that instance held and had not made durable (abi.WriteResult's held
	// rows) is lost.
	Discarded func(in *Instance)
}

// Pool runs instances of one guest for one destination. Each instance is
// used by one goroutine at a time. It is safe for concurrent use.
type Pool struct {
	g   *Guest
	cfg PoolConfig
	// grants are the grants of the capabilities the manifest asks for;
	// funcs their host functions by name.
	grants []Grant
	funcs  map[string]capabilityFunc
	// slots holds one token per instance that may run.
	slots chan struct{}
	mu    sync.Mutex
	idle  []*Instance
	// live counts instances made and not discarded, for Close.
	live   []*Instance
	closed bool
	// memory is the linear memory of each live instance when it was last
	// released (or made), for Stats.
	memory    map[*Instance]uint32
	discarded int64
}

// PoolStats is what Stats reports.
type PoolStats struct {
	// Instances are made and not discarded.
	Instances int
	// MemoryBytes sums their linear memory as of their last release.
	MemoryBytes uint64
	// Discarded counts instances discarded after a failure.
	Discarded int64
}

// Stats returns the pool's instance count and guest memory. It is safe to
// call while the pool is in use.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PoolStats{Instances: len(p.live), Discarded: p.discarded}
	for _, m := range p.memory {
		st.MemoryBytes += uint64(m)
	}
	return st
}

// newInstanceTimeout is the least time CallTimeout gives a new instance.
const newInstanceTimeout = 10 * time.Second

// callContext applies CallTimeout to ctx.
func (p *Pool) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.cfg.CallTimeout > 0 {
		return context.WithTimeout(ctx, p.cfg.CallTimeout)
	}
	return ctx, func() {}
}

// NewPool checks the configuration against the guest's manifest and makes a
// pool. Instances are made on first use.
func (g *Guest) NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Size <= 0 {
		cfg.Size = 1
	}
	p := &Pool{g: g, cfg: cfg, slots: make(chan struct{}, cfg.Size), memory: map[*Instance]uint32{}, funcs: map[string]capabilityFunc{}}
	for _, c := range g.manifest.Capabilities {
		i := slices.IndexFunc(cfg.Grants, func(gr Grant) bool { return gr.Capability().Name() == c })
		if i < 0 {
			return nil, fmt.Errorf("guest %s asks for capability %q, which is not granted", g.name, c)
		}
		gr := cfg.Grants[i]
		p.grants = append(p.grants, gr)
		for _, f := range gr.Capability().Functions() {
			imp, ok := abi.LookupImport(f.Name)
			if !ok || imp.Capability != c {
				return nil, fmt.Errorf("capability %q implements host function %s, which ABI %s does not give it", c, f.Name, abi.CurrentVersion)
			}
			p.funcs[f.Name] = capabilityFunc{gr, f.Fn}
		}
	}
	return p, nil
}

// capabilityFunc is a host function of a granted capability.
type capabilityFunc struct {
	grant Grant
	fn    func(ctx context.Context, c *Call, stack []uint64)
}

// Guest returns the pool's guest.
func (p *Pool) Guest() *Guest { return p.g }

// Acquire returns an instance for the caller's use alone, making one if none
// is idle, and waits while Size instances are in use. Run operations on it
// with Call; give it back with Release.
func (p *Pool) Acquire(ctx context.Context) (*Instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, fmt.Errorf("guest %s: pool is closed", p.g.name)
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()
	in, err := p.newInstance(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return in, nil
}

func (p *Pool) newInstance(ctx context.Context) (*Instance, error) {
	// Instantiation (the guest's _initialize) and init are bounded too, but
	// never below newInstanceTimeout: a new instance costs more than a call.
	if p.cfg.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(p.cfg.CallTimeout, newInstanceTimeout))
		defer cancel()
	}
	in, err := p.g.instantiate(ctx, p, p.cfg)
	if err != nil {
		return nil, fmt.Errorf("guest %s: %w", p.g.name, err)
	}
	if p.cfg.Init != nil {
		if err := in.call(ctx, abi.OpInit, p.cfg.Init, nil, nil); err != nil {
			in.close(ctx)
			return nil, err
		}
	}
	p.mu.Lock()
	p.live = append(p.live, in)
	p.memory[in] = in.MemorySize()
	p.mu.Unlock()
	return in, nil
}

// Release gives an instance back. A broken instance is closed and dropped;
// the next Acquire makes a new one.
func (p *Pool) Release(ctx context.Context, in *Instance) {
	p.mu.Lock()
	if in.broken {
		p.live = slices.DeleteFunc(p.live, func(x *Instance) bool { return x == in })
		delete(p.memory, in)
		p.discarded++
		p.mu.Unlock()
		if p.cfg.Discarded != nil {
			p.cfg.Discarded(in)
		}
		in.close(ctx)
		p.g.rt.log.Warn("guest instance discarded", "guest", p.g.name)
	} else {
		p.idle = append(p.idle, in)
		p.memory[in] = in.MemorySize()
		p.mu.Unlock()
	}
	<-p.slots
}

// Call runs one operation on an instance of the pool, within CallTimeout,
// and reports it to Observe. With a nil in, it takes an idle instance (or
// makes one, waiting while Size are in use) and gives it back after; with
// an instance from Acquire, it runs on that one, for guests whose storage
// lives with the instance (reading back what that instance wrote).
//
// header is sent as is when it is a []byte and as JSON otherwise (nil sends
// none). body, if not nil, is what the guest reads with input_read; out, if
// not nil, receives the guest's output. A failed operation returns a
// *CallError.
func (p *Pool) Call(ctx context.Context, in *Instance, op abi.Op, header any, body io.Reader, out io.Writer) error {
	if in == nil {
		var err error
		if in, err = p.Acquire(ctx); err != nil {
			return err
		}
		defer p.Release(ctx, in)
	}
	cctx, cancel := p.callContext(ctx)
	defer cancel()
	start := time.Now()
	err := in.call(cctx, op, header, body, out)
	if p.cfg.Observe != nil {
		p.cfg.Observe(op, time.Since(start), err)
	}
	return err
}

// Close waits for instances in use, runs OpClose on every instance and
// releases them. An error from any OpClose is returned. Calling it again
// does nothing; Acquire on a closed pool fails.
func (p *Pool) Close(ctx context.Context) error {
	// Take every slot so that no instance is in use, and give them back
	// at the end: later callers then find the pool closed, not full.
	taken := 0
	defer func() {
		for ; taken > 0; taken-- {
			<-p.slots
		}
	}()
	for taken < cap(p.slots) {
		select {
		case p.slots <- struct{}{}:
			taken++
		case <-ctx.Done():
			return fmt.Errorf("guest %s: close: %w", p.g.name, ctx.Err())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, in := range p.live {
		cctx, cancel := p.callContext(ctx)
		if err := in.call(cctx, abi.OpClose, nil, nil, nil); err != nil && !IsUnsupported(err) {
			errs = append(errs, err)
		}
		cancel()
		in.close(ctx)
	}
	p.live, p.idle = nil, nil
	clear(p.memory)
	return errors.Join(errs...)
}
