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
	guest *sharedGuest // nil for a deployed guest: resolved at each begin
	err   error
}

// deployed reports whether the destination names a guest the tenant
// deployed (registry "deployed").
func (td *tenantDest) deployed() bool { return td.cfg.Registry == config.RegistryDeployed }

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
		if d.Registry == config.RegistryDeployed {
			continue // resolved at each begin, from the guest store
		}
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
		if td.deployed() {
			td.wasm = d.Path
			continue // resolved at each begin (deploy.go)
		}
		td.wasm, td.err = syncer.ResolveGuest(d, s.opts.GuestDirs)
		if td.err != nil {
			continue
		}
		if td.guest, td.err = s.loadGuest(ctx, grp, t, td.wasm); td.err != nil {
			continue
		}
		td.err = c.checkGrants(td.guest.g)
	}
	for name, td := range t.dests {
		if td.err != nil {
			t.log.Error("destination unusable", "destination", name, "error", td.err)
		}
	}
	return t, nil
}

// checkGrants refuses a guest that asks for a capability the tenant is not granted.
func (c *TenantConfig) checkGrants(g *host.Guest) error {
	return c.checkCapabilities(g.Name(), g.Manifest().Capabilities)
}

// checkCapabilities refuses a guest asking for a capability the tenant is not granted.
func (c *TenantConfig) checkCapabilities(guest string, caps []abi.Capability) error {
	for _, cap := range caps {
		if !c.granted(cap) {
			return fmt.Errorf("guest %s asks for capability %q, which tenant %q is not granted", guest, cap, c.Name)
		}
	}
	return nil
}

// env makes the syncer environment of one sync of the tenant, whose
// destination's guest is pinned.
func (t *tenant) env(s *Server, syncID, source string, pinned *sharedGuest) *syncer.Env {
	name := t.cfg.Name
	return &syncer.Env{
		Runtime: t.rt, SyncID: syncID, SyncTime: time.Now().UTC().Truncate(time.Microsecond),
		SourceName: source, GuestDirs: s.opts.GuestDirs, Log: t.log, GuestLog: t.log, CallTimeout: t.cfg.CallTimeout.Duration,
		LockWait: t.cfg.LockWait.Duration,
		LoadGuest: func(ctx context.Context, path string) (*host.Guest, error) {
			if pinned != nil {
				return pinned.g, nil
			}
			return nil, fmt.Errorf("guest %s is not loaded for tenant %q", path, name)
		},
		// Only the capabilities the tenant is granted, http under its ceiling.
		Capabilities: t.capabilities(),
		ObserveCall: func(dest string, op abi.Op, took time.Duration, err error) {
			guest := dest
			if pinned != nil {
				guest = pinned.g.Name()
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
	grp  *group
	refs int // under Server.mu
}

// hash returns the hex SHA-256 of the guest's module.
func (sg *sharedGuest) hash() string { return hex.EncodeToString(sg.sum[:]) }

// group returns the runtime group of key, making it on first use.
func (s *Server) group(ctx context.Context, key groupKey) (*group, error) {
	s.groupMu.Lock()
	defer s.groupMu.Unlock()
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
func (s *Server) loadGuest(ctx context.Context, grp *group, t *tenant, path string) (*sharedGuest, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load guest: %w", err)
	}
	sum := sha256.Sum256(wasm)
	for _, sg := range t.guests {
		if sg.sum == sum {
			return sg, nil
		}
	}
	sg, err := s.acquireGuest(ctx, grp, sum, path, func() ([]byte, error) { return wasm, nil })
	if err != nil {
		return nil, err
	}
	t.guests = append(t.guests, sg)
	return sg, nil
}

// acquireGuest returns the guest of content sum in group grp with one more
// reference, loading it (wasm gives its bytes) unless it is loaded there
// already: tenants share a loaded guest only when its bytes are the same.
// Give the reference back with releaseGuest.
func (s *Server) acquireGuest(ctx context.Context, grp *group, sum [sha256.Size]byte, source string, wasm func() ([]byte, error)) (*sharedGuest, error) {
	s.mu.Lock()
	sg := grp.guests[sum]
	if sg != nil {
		sg.refs++
	}
	s.mu.Unlock()
	if sg != nil {
		return sg, nil
	}
	b, err := wasm()
	if err != nil {
		return nil, err
	}
	g, err := grp.rt.Load(ctx, source, b)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if other := grp.guests[sum]; other != nil {
		// Loaded meanwhile by another caller: use that one.
		other.refs++
		s.mu.Unlock()
		g.Close(context.Background())
		return other, nil
	}
	sg = &sharedGuest{g: g, sum: sum, grp: grp, refs: 1}
	grp.guests[sum] = sg
	s.mu.Unlock()
	return sg, nil
}

// releaseGuest gives back one reference; the guest is closed (and logged:
// "guest unloaded") after the last. s.mu must not be held.
func (s *Server) releaseGuest(sg *sharedGuest) {
	s.mu.Lock()
	sg.refs--
	last := sg.refs == 0
	if last {
		delete(sg.grp.guests, sg.sum)
	}
	s.mu.Unlock()
	if last {
		err := sg.g.Close(context.Background())
		s.log.Info("guest unloaded", "guest", sg.g.Name(), "hash", sg.hash(), "error", err)
	}
}

// release gives back a retired generation's guests; a guest no generation
// or sync holds any more is closed. s.mu must not be held.
func (s *Server) release(t *tenant) {
	s.mu.Lock()
	guests := t.guests
	t.guests = nil
	s.mu.Unlock()
	for _, sg := range guests {
		s.releaseGuest(sg)
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
