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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/config"
	"github.com/wasmdest/wasmdest/host/syncer"
)

// tenant is one generation of a tenant: its configuration as of one load,
// with its own runtime (memory cap, interruptible or not) and its guests
// loaded. A reload that changes a tenant, or the content of one of its
// guests, makes a new generation for new syncs; syncs begun on the old one
// finish on it, and the old runtime is closed after the last of them.
type tenant struct {
	cfg         TenantConfig
	fingerprint string
	rt          *host.Runtime
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

// fingerprint identifies a tenant's configuration and guest contents.
func fingerprint(c TenantConfig, guestDirs []string) string {
	h := sha256.New()
	b, _ := json.Marshal(c)
	h.Write(b)
	h.Write(c.hash[:])
	for _, d := range c.Destinations {
		b, _ := json.Marshal(d)
		h.Write(b)
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
		Name:   "tenant." + c.Name,
		Level:  s.opts.LogLevel,
		Output: newLogLimiter(out, s.opts.GuestLogLinesPerSecond, func(n int) { s.metrics.logDropped.WithLabelValues(c.Name).Add(float64(n)) }),
	})
	rt, err := host.NewRuntime(ctx, host.Config{
		Cache:         s.cache,
		Logger:        t.log,
		MemoryLimit:   uint64(c.MemoryLimitMiB) << 20,
		Interruptible: !c.Trusted,
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", c.Name, err)
	}
	t.rt = rt
	loaded := map[string]*host.Guest{}
	for _, d := range c.Destinations {
		td := &tenantDest{cfg: d}
		t.dests[d.Name] = td
		td.wasm, td.err = syncer.ResolveGuest(d, s.opts.GuestDirs)
		if td.err != nil {
			continue
		}
		g, ok := loaded[td.wasm]
		if !ok {
			if g, td.err = rt.LoadFile(ctx, td.wasm); td.err != nil {
				continue
			}
			loaded[td.wasm] = g
		}
		td.guest = g
		for _, cap := range g.Manifest.Capabilities {
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
		SourceName: source, GuestDirs: s.opts.GuestDirs, Log: t.log, CallTimeout: t.cfg.CallTimeout.Duration,
		LoadGuest: func(ctx context.Context, path string) (*host.Guest, error) {
			for _, td := range t.dests {
				if td.wasm == path && td.guest != nil {
					return td.guest, nil
				}
			}
			return nil, fmt.Errorf("guest %s is not loaded for tenant %q", path, name)
		},
		OpenPostgres: func(ctx context.Context, spec map[string]any) (*pgxpool.Pool, error) {
			if !t.cfg.granted(abi.CapPostgres) {
				return nil, fmt.Errorf("tenant %q is not granted the postgres capability", name)
			}
			cs, _ := spec["connection_string"].(string)
			level, _ := spec["pgx_log_level"].(string)
			return host.OpenPostgres(ctx, cs, level, t.log.Named("pgx"))
		},
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
