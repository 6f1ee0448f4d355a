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
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tetratelabs/wazero"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/batch"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// Flight action types.
const (
	ActionBegin  = "begin"
	ActionFinish = "finish"
	ActionAbort  = "abort"
)

// BeginRequest is the body of a "begin" action.
type BeginRequest struct {
	// Destination names one of the tenant's destinations.
	Destination string `json:"destination"`
	// SourceName fills _cq_source_name and scopes delete-stale.
	SourceName string `json:"source_name"`
	// SyncID fills {{SYNC_ID}}; "" makes one.
	SyncID string `json:"sync_id,omitempty"`
}

// BeginResult is the body of the result of "begin".
type BeginResult struct {
	// Sync is the handle that DoPut descriptors and "finish" name.
	Sync         string `json:"sync"`
	SyncID       string `json:"sync_id"`
	SyncTime     string `json:"sync_time"`
	Guest        string `json:"guest"`
	GuestVersion string `json:"guest_version"`
}

// SyncRequest is the body of "finish" and "abort".
type SyncRequest struct {
	Sync string `json:"sync"`
}

// Summary is the body of the result of "finish" (and "abort").
type Summary struct {
	Sync        string         `json:"sync"`
	SyncID      string         `json:"sync_id"`
	Destination string         `json:"destination"`
	Tables      []TableSummary `json:"tables"`
	DurationMS  int64          `json:"duration_ms"`
	Error       string         `json:"error,omitempty"`
}

// TableSummary is what one table of a sync got.
type TableSummary struct {
	Table string `json:"table"`
	// Rows, Bytes and Batches were written whole by the guest.
	Rows         int64  `json:"rows"`
	Bytes        int64  `json:"bytes"`
	Batches      int64  `json:"batches"`
	Migration    string `json:"migration,omitempty"`
	DeletedStale bool   `json:"deleted_stale,omitempty"`
	Error        string `json:"error,omitempty"`
}

// PutResult is the app_metadata of the PutResult that ends a successful DoPut.
type PutResult struct {
	Table   string `json:"table"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	Records int64  `json:"records"`
}

// Options configure a Server.
type Options struct {
	// ConfigPath is the tenants file (see LoadConfig).
	ConfigPath string
	// CacheDir is the compilation cache (host.Config.CacheDir).
	CacheDir string
	// GuestDirs are searched for builtin guests.
	GuestDirs []string
	// Log receives the server's logs; LogOutput and LogLevel make each
	// tenant's logger (guest logs included, rate limited).
	Log       hclog.Logger
	LogOutput io.Writer
	LogLevel  hclog.Level
	// MaxActiveStreams bounds the DoPut streams running at once over all
	// tenants; more wait, admitted fairly. 0 means 2 x GOMAXPROCS.
	MaxActiveStreams int
	// SyncIdleTimeout aborts a sync with no stream for that long. 0 means 10 minutes.
	SyncIdleTimeout time.Duration
	// MaxMessageBytes bounds one gRPC message (one Flight record batch). 0 means 16 MiB.
	MaxMessageBytes int
	// GuestLogLinesPerSecond is each tenant's log rate limit. 0 means 100.
	GuestLogLinesPerSecond int
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
	closeOnce sync.Once
}

// syncState is one open sync.
type syncState struct {
	handle string
	gen    *tenant
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
		opts.MaxMessageBytes = 16 << 20
	}
	s := &Server{opts: opts, log: opts.Log, sched: newScheduler(opts.MaxActiveStreams), penalty: newPenalties(),
		tenants: map[string]*tenant{}, syncs: map[string]*syncState{}, groups: map[groupKey]*group{}, stopReap: make(chan struct{})}
	s.metrics = newMetrics(s)
	switch dir := opts.CacheDir; dir {
	case "off":
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
		s.cache.Close(ctx)
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
		s.cache.Close(ctx)
	})
	return nil
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

// ListActions lists the sync lifecycle actions.
func (s *Server) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, a := range []*flight.ActionType{
		{Type: ActionBegin, Description: `Begin a sync: {"destination": NAME, "source_name": S, "sync_id": optional}; returns {"sync": HANDLE, ...}. DoPut PATH [HANDLE, TABLE] then streams tables.`},
		{Type: ActionFinish, Description: `Finish a sync once its streams ended: {"sync": HANDLE}; writes sync summaries, closes the guests, returns the summary.`},
		{Type: ActionAbort, Description: `Abort a sync: {"sync": HANDLE}; stops its streams, closes the guests without summaries.`},
	} {
		if err := stream.Send(a); err != nil {
			return err
		}
	}
	return nil
}

// DoAction runs begin, finish and abort.
func (s *Server) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	ctx := stream.Context()
	t := tenantFrom(ctx)
	var out any
	var err error
	switch a.Type {
	case ActionBegin:
		var req BeginRequest
		if err = decodeBody(a.Body, &req); err == nil {
			out, err = s.begin(ctx, t, req)
		}
	case ActionFinish, ActionAbort:
		var req SyncRequest
		if err = decodeBody(a.Body, &req); err == nil {
			var sy *syncState
			if sy, err = s.lookup(t, req.Sync); err == nil {
				out, err = s.endSync(ctx, sy, a.Type == ActionFinish)
			}
		}
	default:
		err = status.Errorf(codes.InvalidArgument, "unknown action %q; actions: %s, %s, %s", a.Type, ActionBegin, ActionFinish, ActionAbort)
	}
	if err != nil {
		return s.fail(t, err)
	}
	body, _ := json.Marshal(out)
	return stream.Send(&flight.Result{Body: body})
}

func decodeBody(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return status.Errorf(codes.InvalidArgument, "action body is not the JSON expected: %v", err)
	}
	return nil
}

// lookup finds an open sync of tenant t. Another tenant's sync is not found,
// exactly as one that does not exist.
func (s *Server) lookup(t *tenant, handle string) (*syncState, error) {
	s.mu.RLock()
	sy := s.syncs[handle]
	s.mu.RUnlock()
	if sy == nil || sy.gen.cfg.Name != t.cfg.Name {
		return nil, status.Errorf(codes.NotFound, "no open sync %q", handle)
	}
	return sy, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) begin(ctx context.Context, t *tenant, req BeginRequest) (*BeginResult, error) {
	td := t.dests[req.Destination]
	if td == nil {
		return nil, status.Errorf(codes.NotFound, "no destination %q", req.Destination)
	}
	if td.err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "destination %q cannot be used: %v", req.Destination, td.err)
	}
	s.mu.Lock()
	open := 0
	for _, sy := range s.syncs {
		if sy.gen.cfg.Name == t.cfg.Name {
			open++
		}
	}
	if open >= t.cfg.MaxSyncs {
		s.mu.Unlock()
		return nil, status.Errorf(codes.ResourceExhausted, "tenant has %d open syncs, its limit: finish one first", open)
	}
	if t.retired {
		// Reloaded between authentication and now: use the current generation.
		cur := s.tenants[t.cfg.Name]
		s.mu.Unlock()
		if cur == nil {
			return nil, errUnauthenticated
		}
		return s.begin(ctx, cur, req)
	}
	t.refs++ // keep this generation's runtime open while the sync is
	s.mu.Unlock()
	syncID := req.SyncID
	if syncID == "" {
		syncID = randomHex(16)
	}
	env := t.env(s, syncID, req.SourceName)
	d, err := syncer.Open(ctx, env, td.cfg)
	if err != nil {
		s.unref(t)
		return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	sy := &syncState{handle: randomHex(16), gen: t, dest: req.Destination, env: env, dests: []*syncer.Destination{d},
		sess: syncer.NewSession(env, []*syncer.Destination{d}), ctx: sctx, cancel: cancel, idle: time.Now()}
	s.mu.Lock()
	s.syncs[sy.handle] = sy
	s.mu.Unlock()
	s.metrics.syncs.WithLabelValues(t.cfg.Name).Inc()
	s.log.Info("sync begun", "tenant", t.cfg.Name, "destination", req.Destination, "sync", sy.handle, "guest", d.Guest.Name(), "version", d.Guest.Manifest.Version)
	return &BeginResult{Sync: sy.handle, SyncID: syncID, SyncTime: syncer.FormatTime(env.SyncTime), Guest: d.Guest.Name(), GuestVersion: d.Guest.Manifest.Version}, nil
}

func (s *Server) unref(t *tenant) {
	s.mu.Lock()
	t.refs--
	done := t.retired && t.refs == 0
	s.mu.Unlock()
	if done {
		s.release(t)
	}
}

// endSync finishes (summaries) or aborts a sync. It waits for its streams,
// which an abort cancels.
func (s *Server) endSync(ctx context.Context, sy *syncState, finish bool) (*Summary, error) {
	sy.mu.Lock()
	if sy.closing {
		sy.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "sync %q is already finishing", sy.handle)
	}
	sy.closing = true
	sy.mu.Unlock()
	if !finish {
		sy.cancel()
	}
	done := make(chan struct{})
	go func() { sy.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		sy.cancel()
		<-done
	}
	err := sy.sess.Finish(context.WithoutCancel(ctx), finish)
	sy.cancel()
	s.mu.Lock()
	delete(s.syncs, sy.handle)
	s.mu.Unlock()
	s.metrics.syncs.WithLabelValues(sy.gen.cfg.Name).Dec()
	s.unref(sy.gen)
	sum := &Summary{Sync: sy.handle, SyncID: sy.env.SyncID, Destination: sy.dest, DurationMS: time.Since(sy.sess.Started()).Milliseconds()}
	for _, st := range sy.sess.Stats() {
		ts := TableSummary{Table: st.Table, Rows: st.Rows, Bytes: st.Bytes, Batches: st.Batches, Migration: st.Migration, DeletedStale: st.DeletedStale}
		if st.Err != nil {
			ts.Error = st.Err.Error()
		}
		sum.Tables = append(sum.Tables, ts)
	}
	sort.Slice(sum.Tables, func(i, j int) bool { return sum.Tables[i].Table < sum.Tables[j].Table })
	if err != nil {
		sum.Error = err.Error()
		return nil, status.Errorf(codes.Aborted, "finish: %v", err)
	}
	return sum, nil
}

// DoPut streams one table into an open sync. The descriptor is a PATH
// [SYNC, TABLE] (TABLE may be left out when the schema's cq:table_name
// names it). The stream ends with one PutResult whose app_metadata is a
// PutResult JSON, once every batch was written.
func (s *Server) DoPut(stream flight.FlightService_DoPutServer) (err error) {
	ctx := stream.Context()
	t := tenantFrom(ctx)
	defer func() {
		if err != nil {
			err = s.fail(t, err)
		}
	}()
	rdr, err := flight.NewRecordReader(stream, ipc.WithMetadataSizeLimit(host.MaxMetadataBytes), ipc.WithBodySizeLimit(int64(s.opts.MaxMessageBytes)))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "DoPut: %v", err)
	}
	// The input releases the reader when syncer closes it; until then, and
	// on every way out before, release it here.
	handed := false
	defer func() {
		if !handed {
			rdr.Release()
		}
	}()
	desc := rdr.LatestFlightDescriptor()
	if desc == nil || desc.Type != flight.DescriptorPATH || len(desc.Path) < 1 || len(desc.Path) > 2 {
		return status.Error(codes.InvalidArgument, "DoPut needs a PATH descriptor [SYNC, TABLE] (TABLE optional when the schema has cq:table_name)")
	}
	sy, err := s.lookup(t, desc.Path[0])
	if err != nil {
		return err
	}
	sc := rdr.Schema()
	table, ok := sc.Metadata().GetValue(abi.MetaTableName)
	if !ok || table == "" {
		if len(desc.Path) < 2 || desc.Path[1] == "" {
			return status.Error(codes.InvalidArgument, "the table has no name: put it in the descriptor PATH [SYNC, TABLE] or the schema's cq:table_name")
		}
		table = desc.Path[1]
	} else if len(desc.Path) == 2 && desc.Path[1] != "" && desc.Path[1] != table {
		return status.Errorf(codes.InvalidArgument, "descriptor names table %q but the schema's cq:table_name is %q", desc.Path[1], table)
	}
	// Register the stream before waiting for a slot, so that finish waits for it.
	sy.mu.Lock()
	if sy.closing {
		sy.mu.Unlock()
		return status.Errorf(codes.FailedPrecondition, "sync %q is finishing", sy.handle)
	}
	sy.active++
	sy.streams.Add(1)
	sy.mu.Unlock()
	defer func() {
		sy.mu.Lock()
		sy.active--
		sy.idle = time.Now()
		sy.mu.Unlock()
		sy.streams.Done()
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sy.ctx, cancel)
	defer stop()

	name := t.cfg.Name
	s.metrics.streams.WithLabelValues(name, "waiting").Inc()
	err = s.penalty.wait(sctx, name)
	var release func()
	if err == nil {
		release, err = s.sched.acquire(sctx, name, sy.gen.cfg.MaxConcurrentWrites)
	}
	s.metrics.streams.WithLabelValues(name, "waiting").Dec()
	if err != nil {
		return status.FromContextError(err).Err()
	}
	defer release()
	s.metrics.streams.WithLabelValues(name, "running").Inc()
	defer s.metrics.streams.WithLabelValues(name, "running").Dec()

	guest := sy.dests[0].Guest.Name()
	in := &flightInput{table: arrowio.Table{Name: table, Schema: sc}, rdr: rdr, gen: sy.gen,
		rows: s.metrics.rows.WithLabelValues(name, guest), bytes: s.metrics.bytes.WithLabelValues(name, guest),
		records: s.metrics.records.WithLabelValues(name, guest), done: make(chan struct{})}
	for _, f := range sc.Fields() {
		if v, _ := f.Metadata.GetValue(abi.MetaPrimaryKey); v == abi.MetaTrue {
			in.table.PrimaryKeys = append(in.table.PrimaryKeys, f.Name)
		}
		if v, _ := f.Metadata.GetValue(abi.MetaUnique); v == abi.MetaTrue {
			in.table.Unique = append(in.table.Unique, f.Name)
		}
	}
	handed = true
	err = sy.sess.Stream(sctx, in)
	if err != nil {
		// syncer's reading goroutine may still wait in Recv: it ends when
		// the handler has returned (gRPC then ends the stream) and releases
		// the reader then.
		if sy.ctx.Err() != nil && ctx.Err() == nil {
			return status.Errorf(codes.Aborted, "sync %q was aborted", sy.handle)
		}
		return err
	}
	<-in.done
	meta, _ := json.Marshal(PutResult{Table: table, Rows: in.nrows, Bytes: in.nbytes, Records: in.nrecords})
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}

// fail maps an error to a gRPC status for the client, counts it, and says
// clearly that the batch was not written.
func (s *Server) fail(t *tenant, err error) error {
	st := statusOf(err)
	name := ""
	if t != nil {
		name = t.cfg.Name
	}
	s.metrics.streamErrors.WithLabelValues(name, st.Code().String()).Inc()
	return st.Err()
}

func statusOf(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	var ce *host.CallError
	if errors.As(err, &ce) {
		switch errorKind(err) {
		case "timeout":
			return status.New(codes.DeadlineExceeded, err.Error()+" (the guest call ran past the tenant's call_timeout; the batch was not written)")
		case "oom":
			return status.New(codes.ResourceExhausted, err.Error()+" (the guest ran out of the tenant's memory_limit_mib; the batch was not written)")
		}
		return status.New(codes.Aborted, err.Error())
	}
	if errors.Is(err, context.Canceled) {
		return status.New(codes.Canceled, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	return status.New(codes.FailedPrecondition, err.Error())
}

// flightInput is a syncer.Input fed by a DoPut stream: records as the client
// sends them, throttled by the tenant's rows and bytes per minute.
type flightInput struct {
	table                   arrowio.Table
	rdr                     *flight.Reader
	gen                     *tenant
	rows, bytes, records    interface{ Add(float64) }
	nrows, nbytes, nrecords int64
	once                    sync.Once
	done                    chan struct{}
}

func (f *flightInput) Table() arrowio.Table { return f.table }

func (f *flightInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !f.rdr.Next() {
		if err := f.rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("table %q: reading the stream: %w", f.table.Name, err)
		}
		return nil, io.EOF
	}
	rec := f.rdr.RecordBatch()
	if !rec.Schema().Equal(f.table.Schema) {
		return nil, fmt.Errorf("table %q: a record's schema differs from the stream's", f.table.Name)
	}
	rec.Retain()
	n, size := rec.NumRows(), batch.RecordSize(rec)
	if err := f.gen.rows.take(ctx, n); err != nil {
		rec.Release()
		return nil, err
	}
	if err := f.gen.bytes.take(ctx, size); err != nil {
		rec.Release()
		return nil, err
	}
	f.nrows += n
	f.nbytes += size
	f.nrecords++
	f.rows.Add(float64(n))
	f.bytes.Add(float64(size))
	f.records.Add(1)
	return rec, nil
}

func (f *flightInput) Close() error {
	f.once.Do(func() {
		f.rdr.Release()
		close(f.done)
	})
	return nil
}
