// Package serve is `wasmdest serve`: one long-running process that hosts
// many tenants' destination guests behind an Arrow Flight server, so that
// no tenant can hurt another or the host.
//
// A tenant authenticates with a bearer token (stored as its SHA-256) and
// reaches only its own destinations. Its guests run on a runtime of its own
// with its memory cap, interruptible unless it is trusted, every call bounded
// by its time limit, its streams bounded in number and admitted fairly
// against other tenants', its rows and bytes per minute throttled, and its
// guests granted only the capabilities its configuration lists. The sync
// semantics are internal/syncer's (a syncer.Session per sync); docs/serve.md
// maps them onto Flight.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tetratelabs/wazero"
	"google.golang.org/grpc"

	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/gueststore"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// DefaultMaxMessageBytes is the largest gRPC message (one Flight record
// batch) a server accepts and a Client sends unless told otherwise: 16 MiB.
const DefaultMaxMessageBytes = 16 << 20

// Options configure a Server.
type Options struct {
	// ConfigPath is the tenants file (see LoadConfig).
	ConfigPath string
	// CacheDir is the compilation cache (host.Config.CacheDir).
	CacheDir string
	// Cache, if set, is a compilation cache shared with the caller (tests
	// share one per process) instead of one opened on CacheDir; the server
	// does not close it. CacheDir should then name the directory it was
	// opened on: the child process that compiles an upload compiles into
	// that directory, so that the server's own load of it is a cache hit.
	Cache wazero.CompilationCache
	// CompileExecutable is the program run as the child process that
	// compiles and inspects an upload (internal/compilejail); it must call
	// compilejail.Main first thing. "" means this executable.
	CompileExecutable string
	// GuestDirs are searched for builtin guests.
	GuestDirs []string
	// Log receives the server's logs; LogOutput and LogLevel make each
	// tenant's logger (guest logs included, rate limited).
	Log       hclog.Logger
	LogOutput io.Writer
	LogLevel  hclog.Level
	// LogJSON makes the tenants' loggers write JSON lines.
	LogJSON bool
	// MemoryLimitMiB caps each guest instance's memory for tenants that
	// set no memory_limit_mib. 0 means DefaultMemoryLimitMiB.
	MemoryLimitMiB int
	// MaxActiveStreams bounds the DoPut streams running at once over all
	// tenants; more wait, admitted fairly. 0 means 2 x GOMAXPROCS.
	MaxActiveStreams int
	// SyncIdleTimeout aborts a sync with no stream for that long. 0 means 10 minutes.
	SyncIdleTimeout time.Duration
	// MaxMessageBytes bounds one gRPC message (one Flight record batch). 0
	// means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// GuestLogLinesPerSecond is each tenant's log rate limit. 0 means 100.
	GuestLogLinesPerSecond int
	// GuestStore is where the guests tenants deploy are kept
	// (internal/gueststore): a directory, or s3://BUCKET/PREFIX; "" means
	// tenants cannot deploy. Replicas share it (docs/scaling.md).
	GuestStore string
	// GuestStoreS3 says how to reach an s3:// GuestStore.
	GuestStoreS3 gueststore.S3Options
	// Advertise is this replica's Flight location as clients reach it
	// ("grpc+tcp://10.0.0.5:8815"): a sync's handle carries it, and
	// GetFlightInfo on the handle returns it, so that any replica sends
	// the client to the one that owns the sync. "" for a single replica.
	Advertise string
}

// Server hosts tenants' guests over Arrow Flight.
type Server struct {
	flight.BaseFlightServer
	opts    Options
	log     hclog.Logger
	metrics *metrics
	sched   *scheduler
	penalty *penalties

	reloadMu sync.Mutex
	groupMu  sync.Mutex // making a runtime group
	mu       sync.RWMutex
	tenants  map[string]*tenant // current generations by name
	auth     []*tenant          // the same, for authenticate
	syncs    map[string]*syncState
	groups   map[groupKey]*group // runtimes by settings, under mu

	// cache is the compilation cache every tenant's runtime shares, so that
	// a guest's machine code is in memory once, not once per tenant.
	cache     wazero.CompilationCache
	grpc      *grpc.Server
	stopReap  chan struct{}
	deploys   deployState
	draining  atomic.Bool
	closeOnce sync.Once
}

// syncState is one open sync.
type syncState struct {
	handle string
	gen    *tenant
	// guest is the guest version the sync runs; own is the reference the
	// sync holds on it when it is a deployed guest (released at its end).
	guest  *sharedGuest
	own    *sharedGuest
	dest   string
	env    *syncer.Env
	sess   *syncer.Session
	dests  []*syncer.Destination
	ctx    context.Context // cancelled by abort
	cancel context.CancelFunc

	mu      sync.Mutex
	active  int
	closing bool
	idle    time.Time
	streams sync.WaitGroup
}

// New loads the tenants file and makes a server. Serve it with ServeFlight
// and HTTPHandler; Reload re-reads the tenants file; Close ends it.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = hclog.Default()
	}
	if opts.MaxActiveStreams <= 0 {
		opts.MaxActiveStreams = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.SyncIdleTimeout <= 0 {
		opts.SyncIdleTimeout = 10 * time.Minute
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.MemoryLimitMiB == 0 {
		opts.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if err := checkMemoryLimit(opts.MemoryLimitMiB); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log, sched: newScheduler(opts.MaxActiveStreams), penalty: newPenalties(),
		tenants: map[string]*tenant{}, syncs: map[string]*syncState{}, groups: map[groupKey]*group{}, stopReap: make(chan struct{})}
	s.metrics = newMetrics(s)
	if err := s.deploys.init(opts.GuestStore, opts.GuestStoreS3); err != nil {
		return nil, err
	}
	switch dir := opts.CacheDir; dir {
	case "off":
	case "":
		s.deploys.cacheDir, _ = host.DefaultCacheDir() // none: the child compiles without
	default:
		s.deploys.cacheDir = dir
	}
	switch dir := opts.CacheDir; {
	case opts.Cache != nil:
		s.cache = opts.Cache // the caller's: not closed here
	case dir == "off":
		s.cache = wazero.NewCompilationCache()
	default:
		if dir == "" {
			var err error
			if dir, err = host.DefaultCacheDir(); err != nil {
				return nil, err
			}
		}
		c, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
		}
		s.cache = c
	}
	if err := s.Reload(ctx); err != nil {
		s.closeCache(ctx)
		return nil, err
	}
	s.grpc = grpc.NewServer(
		grpc.UnaryInterceptor(s.unaryAuth),
		grpc.StreamInterceptor(s.streamAuth),
		grpc.MaxRecvMsgSize(opts.MaxMessageBytes),
	)
	flight.RegisterFlightServiceServer(s.grpc, s)
	go s.reap()
	return s, nil
}

// Reload re-reads the tenants file. Tenants that are new get a generation,
// changed ones (their settings, destinations, or a guest's .wasm content) a
// new generation for new syncs while their running syncs finish on the old,
// and removed ones take no new requests. Unchanged tenants, and every
// stream in progress, are not touched. A file that fails to parse changes
// nothing.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	c, err := LoadConfig(s.opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	s.mu.RLock()
	old := s.tenants
	s.mu.RUnlock()
	next := map[string]*tenant{}
	var errs []error
	added, changed := 0, 0
	for _, tc := range c.Tenants {
		fp := fingerprint(tc, s.opts.GuestDirs)
		if t := old[tc.Name]; t != nil && t.fingerprint == fp {
			next[tc.Name] = t
			continue
		}
		t, err := s.newTenant(ctx, tc, fp)
		if err != nil {
			errs = append(errs, err)
			if o := old[tc.Name]; o != nil {
				next[tc.Name] = o // keep serving the old one
			}
			continue
		}
		if old[tc.Name] != nil {
			changed++
		} else {
			added++
		}
		next[tc.Name] = t
	}
	var auth []*tenant
	for _, t := range next {
		auth = append(auth, t)
	}
	s.mu.Lock()
	s.tenants, s.auth = next, auth
	var retire []*tenant
	for name, t := range old {
		if next[name] != t {
			t.retired = true
			if t.refs == 0 {
				retire = append(retire, t)
			}
		}
	}
	s.mu.Unlock()
	for _, t := range retire {
		s.release(t)
	}
	removed := 0
	for name := range old {
		if next[name] == nil {
			removed++
		}
	}
	s.log.Info("tenants loaded", "file", c.Path, "tenants", len(next), "added", added, "changed", changed, "removed", removed)
	return errors.Join(errs...)
}

// ServeFlight serves Arrow Flight on lis until Close.
func (s *Server) ServeFlight(lis net.Listener) error { return s.grpc.Serve(lis) }

// HTTPHandler serves /healthz and /metrics (Prometheus).
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s.mu.RLock()
		n, open := len(s.tenants), len(s.syncs)
		s.mu.RUnlock()
		w.Header().Set("Content-Type", "application/json")
		if s.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"draining","tenants":%d,"syncs":%d}`+"\n", n, open)
			return
		}
		fmt.Fprintf(w, `{"status":"ok","tenants":%d,"syncs":%d}`+"\n", n, open)
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// Close stops serving, aborts open syncs and releases every runtime.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.stopReap)
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
		}
		s.mu.RLock()
		var open []*syncState
		for _, sy := range s.syncs {
			open = append(open, sy)
		}
		s.mu.RUnlock()
		for _, sy := range open {
			s.endSync(ctx, sy, false)
		}
		s.mu.Lock()
		for _, t := range s.tenants {
			t.retired = true
		}
		s.tenants, s.auth = map[string]*tenant{}, nil
		groups := s.groups
		s.groups = map[groupKey]*group{}
		s.mu.Unlock()
		for _, g := range groups {
			g.rt.Close(ctx) // and every guest loaded in it
		}
		s.closeCache(ctx)
	})
	return nil
}

// closeCache closes the compilation cache unless it is the caller's
// (Options.Cache). The cache itself is passed to wazero as it is: wazero
// accepts only its own cache type, so it cannot be wrapped.
func (s *Server) closeCache(ctx context.Context) {
	if s.opts.Cache == nil {
		s.cache.Close(ctx)
	}
}

func (s *Server) reap() {
	tick := time.NewTicker(min(s.opts.SyncIdleTimeout/4, 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.stopReap:
			return
		case <-tick.C:
		}
		var idle []*syncState
		s.mu.RLock()
		for _, sy := range s.syncs {
			sy.mu.Lock()
			removed := s.tenants[sy.gen.cfg.Name] == nil // its tenant cannot finish it any more
			if sy.active == 0 && !sy.closing && (removed || time.Since(sy.idle) > s.opts.SyncIdleTimeout) {
				idle = append(idle, sy)
			}
			sy.mu.Unlock()
		}
		s.mu.RUnlock()
		for _, sy := range idle {
			s.log.Warn("aborting idle sync", "tenant", sy.gen.cfg.Name, "sync", sy.handle)
			s.endSync(context.Background(), sy, false)
		}
	}
}
