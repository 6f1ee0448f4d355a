package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// ListActions lists the sync lifecycle actions.
func (s *Server) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, a := range []*flight.ActionType{
		{Type: ActionBegin, Description: `Begin a sync: {"destination": NAME, "source_name": S, "sync_id": optional}; returns {"sync": HANDLE, ...}. DoPut PATH [HANDLE, TABLE] then streams tables.`},
		{Type: ActionFinish, Description: `Finish a sync once its streams ended: {"sync": HANDLE}; writes sync summaries, closes the guests, returns the summary.`},
		{Type: ActionAbort, Description: `Abort a sync: {"sync": HANDLE}; stops its streams, closes the guests without summaries.`},
		{Type: ActionListGuests, Description: `List the tenant's deployed guests (DoPut CMD {"deploy": NAME} uploads one).`},
		{Type: ActionDescribeGuest, Description: `Describe a deployed guest: {"name": NAME}; its hash and inspect verdict.`},
		{Type: ActionDeleteGuest, Description: `Delete a deployed guest: {"name": NAME}; running syncs finish on it.`},
		{Type: ActionRollbackGuest, Description: `Make a deployed guest's previous version current again: {"name": NAME}.`},
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
	case ActionListGuests, ActionDescribeGuest, ActionDeleteGuest, ActionRollbackGuest:
		var req GuestRequest
		if a.Type == ActionListGuests && len(a.Body) == 0 {
			a.Body = []byte("{}")
		}
		if err = decodeBody(a.Body, &req); err == nil {
			out, err = s.guestAction(ctx, t, a.Type, req)
		}
	default:
		err = status.Errorf(codes.InvalidArgument, "unknown action %q; actions: %s, %s, %s, %s, %s, %s, %s", a.Type, ActionBegin, ActionFinish, ActionAbort,
			ActionListGuests, ActionDescribeGuest, ActionDeleteGuest, ActionRollbackGuest)
	}
	if err != nil {
		return s.fail(t, err)
	}
	body, _ := json.Marshal(out)
	return stream.Send(&flight.Result{Body: body})
}

// lookup finds an open sync of tenant t. Another tenant's sync is not found,
// exactly as one that does not exist.
func (s *Server) lookup(t *tenant, handle string) (*syncState, error) {
	s.mu.RLock()
	sy := s.syncs[handle]
	s.mu.RUnlock()
	if sy == nil {
		if err := s.elsewhere(handle); err != nil {
			return nil, err
		}
	}
	if sy == nil || sy.gen.cfg.Name != t.cfg.Name {
		return nil, status.Errorf(codes.NotFound, "no open sync %q", handle)
	}
	return sy, nil
}

// newHandle makes a sync handle: 128 random bits, and this replica's
// location when it advertises one (replica.go), so that any replica can
// tell a client where the sync lives.
func (s *Server) newHandle() string {
	h := randomHex(16)
	if s.opts.Advertise != "" {
		h += "." + encodeLocation(s.opts.Advertise)
	}
	return h
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) begin(ctx context.Context, t *tenant, req BeginRequest) (*BeginResult, error) {
	if s.draining.Load() {
		return nil, status.Error(codes.Unavailable, "this replica is draining (shutting down): begin the sync on another")
	}
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
	// The sync runs one guest version to its end: a deployed guest's
	// current hash now, whatever is deployed meanwhile.
	pinned, own := td.guest, (*sharedGuest)(nil)
	if td.deployed() {
		var err error
		if own, err = s.resolveDeployed(ctx, t, td.cfg.Path); err != nil {
			s.unref(t)
			return nil, err
		}
		pinned = own
	}
	syncID := req.SyncID
	if syncID == "" {
		syncID = randomHex(16)
	}
	env := t.env(s, syncID, req.SourceName, pinned)
	d, err := syncer.Open(ctx, env, td.cfg)
	if err != nil {
		if own != nil {
			s.releaseGuest(own)
		}
		s.unref(t)
		return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	sy := &syncState{handle: s.newHandle(), gen: t, guest: pinned, own: own, dest: req.Destination, env: env, dests: []*syncer.Destination{d},
		sess: syncer.NewSession(env, []*syncer.Destination{d}), ctx: sctx, cancel: cancel, idle: time.Now()}
	s.mu.Lock()
	s.syncs[sy.handle] = sy
	s.mu.Unlock()
	s.metrics.syncs.WithLabelValues(t.cfg.Name).Inc()
	s.log.Info("sync begun", "tenant", t.cfg.Name, "destination", req.Destination, "sync", sy.handle, "guest", d.Guest.Name(), "version", d.Guest.Manifest().Version, "hash", pinned.hash())
	return &BeginResult{Sync: sy.handle, SyncID: syncID, SyncTime: abi.FormatTime(env.SyncTime), Guest: d.Guest.Name(), GuestVersion: d.Guest.Manifest().Version,
		GuestHash: pinned.hash(), Location: s.opts.Advertise}, nil
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
	if sy.own != nil {
		s.releaseGuest(sy.own) // the old version closes after its last sync
	}
	s.unref(sy.gen)
	sum := &Summary{Sync: sy.handle, SyncID: sy.env.SyncID, Destination: sy.dest, GuestHash: sy.guest.hash(), DurationMS: time.Since(sy.sess.Started()).Milliseconds()}
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
