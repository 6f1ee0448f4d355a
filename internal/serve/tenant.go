package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
	httpcap "github.com/wasmdest/wasmdest/host/capability/http"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// tenant is one generation of a tenant: its configuration as of one load,
// with the runtime of its memory cap and interruptibility and its guests
// loaded. A reload that changes a tenant, or the content of one of its
// guests, makes a new generation for new syncs; syncs begun on the old one
// finish on it, and the old one's guests are released after the last of
// them.
type tenant struct {
	cfg         TenantConfig
	fingerprint string
	rt          *host.Runtime
	group       *group
	guests      []*sharedGuest // held by this generation
	log         hclog.Logger
	// dests are the tenant's destinations by name, with their guests, or
	// the error that makes a destination unusable (its guest failed to load,
	// or asks for a capability the tenant is not granted).
	dests map[string]*tenantDest
	rows  *bucket
	bytes *bucket

	// refs counts open syncs; retired is set when a newer generation or
	// the tenant's removal replaced this one. Both under Server.mu.
	refs    int
	retired bool
}

type tenantDest struct {
	cfg   config.Destination
	wasm  string
	guest *host.Guest
	err   error
}

// fingerprint identifies a tenant's configuration and guest contents: the
// parsed values, not where they stand in the file (a comment line above a
// tenant moves every line below it, and changes nothing).
func fingerprint(c TenantConfig, guestDirs []string) string {
	h := sha256.New()
	dests := make([]config.Destination, len(c.Destinations))
	for i, d := range c.Destinations {
		d.File, d.Line = "", 0
		dests[i] = d
	}
	c.Destinations = dests
	b, _ := json.Marshal(c)
	h.Write(b)
	h.Write(c.hash[:])
	for _, d := range c.Destinations {
		if p, err := syncer.ResolveGuest(d, guestDirs); err == nil {
			if wasm, err := os.ReadFile(p); err == nil {
				s := sha256.Sum256(wasm)
				h.Write(s[:])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newTenant makes a generation: its runtime, and its guests loaded and
// checked against its grants. A destination that fails is kept with its
// error, so that its client is told why; the others work.
func (s *Server) newTenant(ctx context.Context, c TenantConfig, fp string) (*tenant, error) {
	t := &tenant{cfg: c, fingerprint: fp, dests: map[string]*tenantDest{},
		rows: newBucket(c.RowsPerMinute), bytes: newBucket(c.BytesPerMinute)}
	out := s.opts.LogOutput
	if out == nil {
		out = os.Stderr
	}
	t.log = hclog.New(&hclog.LoggerOptions{
		Name:       "tenant." + c.Name,
		Level:      s.opts.LogLevel,
		JSONFormat: s.opts.LogJSON,
		Output:     newLogLimiter(out, s.opts.GuestLogLinesPerSecond, func(n int) { s.metrics.logDropped.WithLabelValues(c.Name).Add(float64(n)) }),
	})
	memoryMiB := c.MemoryLimitMiB
	if memoryMiB == 0 {
		memoryMiB = s.opts.MemoryLimitMiB
	}
	grp, err := s.group(ctx, groupKey{memoryMiB: memoryMiB, interruptible: !c.Trusted})
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", c.Name, err)
	}
	t.rt, t.group = grp.rt, grp
	for _, d := range c.Destinations {
		td := &tenantDest{cfg: d}
		t.dests[d.Name] = td
		td.wasm, td.err = syncer.ResolveGuest(d, s.opts.GuestDirs)
		if td.err != nil {
			continue
		}
		var g *host.Guest
		if g, td.err = s.loadGuest(ctx, grp, t, td.wasm); td.err != nil {
			continue
		}
		td.guest = g
		for _, cap := range g.Manifest().Capabilities {
			if !c.granted(cap) {
				td.err = fmt.Errorf("guest %s asks for capability %q, which tenant %q is not granted", g.Name(), cap, c.Name)
			}
		}
	}
	for name, td := range t.dests {
		if td.err != nil {
			t.log.Error("destination unusable", "destination", name, "error", td.err)
		}
	}
	return t, nil
}

// env makes the syncer environment of one sync of the tenant.
func (t *tenant) env(s *Server, syncID, source string) *syncer.Env {
	name := t.cfg.Name
	return &syncer.Env{
		Runtime: t.rt, SyncID: syncID, SyncTime: time.Now().UTC().Truncate(time.Microsecond),
		SourceName: source, GuestDirs: s.opts.GuestDirs, Log: t.log, GuestLog: t.log, CallTimeout: t.cfg.CallTimeout.Duration,
		LockWait: t.cfg.LockWait.Duration,
		LoadGuest: func(ctx context.Context, path string) (*host.Guest, error) {
			for _, td := range t.dests {
				if td.wasm == path && td.guest != nil {
					return td.guest, nil
				}
			}
			return nil, fmt.Errorf("guest %s is not loaded for tenant %q", path, name)
		},
		// Only the capabilities the tenant is granted, http under its ceiling.
		Capabilities: t.capabilities(),
		ObserveCall: func(dest string, op abi.Op, took time.Duration, err error) {
			guest := dest
			if td := t.dests[dest]; td != nil && td.guest != nil {
				guest = td.guest.Name()
			}
			s.metrics.callSeconds.WithLabelValues(name, guest, op.String()).Observe(took.Seconds())
			if err != nil {
				kind := errorKind(err)
				s.metrics.guestErrors.WithLabelValues(name, guest, kind).Inc()
				if kind != "error" && kind != "host" {
					s.penalty.failed(name)
				}
			} else if op == abi.OpWrite {
				s.metrics.batches.WithLabelValues(name, guest).Inc()
				s.penalty.succeeded(name)
			}
		},
	}
}

// errorKind classifies a failed guest call for metrics.
func errorKind(err error) string {
	var ce *host.CallError
	switch {
	case !errors.As(err, &ce):
		return "host"
	case ce.Trapped && errors.Is(err, context.DeadlineExceeded) || ce.Trapped && strings.Contains(ce.Message, "deadline exceeded"):
		return "timeout"
	case ce.Trapped && strings.Contains(ce.Message, "out of memory"):
		return "oom"
	case ce.Trapped:
		return "trap"
	case ce.Status == abi.StatusPanicked:
		return "panic"
	}
	return "error"
}

// logLimiter passes at most perSecond lines a second (with a burst of as
// many) to out and drops the rest, counting them: a guest that floods its log
// cannot flood the host's. Each write is one log line (hclog writes lines whole).
type logLimiter struct {
	mu        sync.Mutex
	out       io.Writer
	perSecond float64
	tokens    float64
	last      time.Time
	dropped   int
	onDrop    func(int)
}

func newLogLimiter(out io.Writer, perSecond int, onDrop func(int)) *logLimiter {
	if perSecond <= 0 {
		perSecond = 100
	}
	return &logLimiter{out: out, perSecond: float64(perSecond), tokens: float64(perSecond), last: time.Now(), onDrop: onDrop}
}

func (l *logLimiter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.perSecond, l.tokens+now.Sub(l.last).Seconds()*l.perSecond)
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		l.onDrop(1)
		return len(p), nil
	}
	l.tokens--
	if l.dropped > 0 {
		fmt.Fprintf(l.out, "%s [WARN]  log rate limit: %d guest log lines dropped\n", now.Format("2006-01-02T15:04:05.000Z0700"), l.dropped)
		l.dropped = 0
	}
	return l.out.Write(p)
}

// groupKey is what runtimes differ in. Tenants with equal settings share
// one runtime, and so each guest's module once (a tenant holding its own
// copy of the 74 MB file guest costs ~150 MiB); their guests' logs still
// go to their own loggers (host.PoolConfig.Logger).
type groupKey struct {
	memoryMiB     int
	interruptible bool
}

type group struct {
	rt *host.Runtime
	// guests are by the SHA-256 of their .wasm. Under Server.mu.
	guests map[[sha256.Size]byte]*sharedGuest
}

type sharedGuest struct {
	g    *host.Guest
	sum  [sha256.Size]byte
	refs int
}

// group returns the runtime group of key, making it on first use. It is
// called during Reload only (Server.reloadMu held).
func (s *Server) group(ctx context.Context, key groupKey) (*group, error) {
	s.mu.RLock()
	g := s.groups[key]
	s.mu.RUnlock()
	if g != nil {
		return g, nil
	}
	rt, err := host.NewRuntime(ctx, host.Config{
		Cache:         s.cache,
		Logger:        s.log.Named("runtime"),
		MemoryLimit:   uint64(key.memoryMiB) << 20,
		Interruptible: key.interruptible,
	})
	if err != nil {
		return nil, err
	}
	g = &group{rt: rt, guests: map[[sha256.Size]byte]*sharedGuest{}}
	s.mu.Lock()
	s.groups[key] = g
	s.mu.Unlock()
	return g, nil
}

// loadGuest returns the guest of a .wasm file in group grp for generation
// t, loading it unless a guest of the same content is loaded there already.
// Called during Reload only.
func (s *Server) loadGuest(ctx context.Context, grp *group, t *tenant, path string) (*host.Guest, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load guest: %w", err)
	}
	sum := sha256.Sum256(wasm)
	for _, sg := range t.guests {
		if sg.sum == sum {
			return sg.g, nil
		}
	}
	s.mu.Lock()
	sg := grp.guests[sum]
	if sg != nil {
		sg.refs++
		t.guests = append(t.guests, sg)
	}
	s.mu.Unlock()
	if sg != nil {
		return sg.g, nil
	}
	g, err := grp.rt.Load(ctx, path, wasm)
	if err != nil {
		return nil, err
	}
	sg = &sharedGuest{g: g, sum: sum, refs: 1}
	s.mu.Lock()
	grp.guests[sum] = sg
	s.mu.Unlock()
	t.guests = append(t.guests, sg)
	return g, nil
}

// release gives back a retired generation's guests; a guest no generation
// holds any more is closed. s.mu must not be held.
func (s *Server) release(t *tenant) {
	var closing []*host.Guest
	s.mu.Lock()
	for _, sg := range t.guests {
		sg.refs--
		if sg.refs == 0 {
			delete(t.group.guests, sg.sum)
			closing = append(closing, sg.g)
		}
	}
	t.guests = nil
	s.mu.Unlock()
	for _, g := range closing {
		g.Close(context.Background())
	}
}

// capabilities are those the tenant is granted, http under the tenant's
// ceiling (TenantHTTP).
func (t *tenant) capabilities() []host.Capability {
	var out []host.Capability
	for _, c := range capability.Builtin() {
		if !t.cfg.granted(c.Name()) {
			continue
		}
		if c.Name() == abi.CapHTTP && t.cfg.HTTP != nil {
			// The ceiling was checked when the tenants file was loaded.
			hc, err := httpcap.WithCeiling(t.cfg.HTTP.ceiling(), fmt.Sprintf("tenant %q", t.cfg.Name))
			if err != nil {
				continue
			}
			c = hc
		}
		out = append(out, c)
	}
	return out
}
