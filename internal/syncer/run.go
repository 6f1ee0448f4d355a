package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/batch"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// Input is one table's Arrow data. *arrowio.Reader is one.
type Input interface {
	Table() arrowio.Table
	// Next returns the next record, io.EOF at the end. The caller releases it.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	Close() error
}

// Sync is one run of inputs into destinations. Make it with New, run it with
// Run; Stats may be called from other goroutines meanwhile.
type Sync struct {
	env   *Env
	dests []*Destination
	log   hclog.Logger
	start time.Time

	mu    sync.Mutex
	stats map[key]*TableStats
	order []key
	// heldBy is, per instance, the rows it holds and has not made durable
	// yet, by table (abi.WriteResult): when the pool discards an instance,
	// they are lost.
	heldBy map[*host.Instance]map[key]int64

	// summaryTables are the tables of the sync summaries; deferredSummaries
	// the destinations whose summary waits for Finish.
	summaryTables     []string
	deferredSummaries []*Destination
}

type key struct{ dest, table string }

// TableStats counts what reached one destination for one table.
type TableStats struct {
	Destination, Table string
	// Rows and Bytes were committed by the guest (whole batches), durably.
	Rows, Bytes, Batches int64
	// Held rows were accepted by the guest but are not durable until the
	// destination finishes (abi.WriteResult: the file guest's no_rotate
	// file). Finish moves them to Rows, or drops them if finishing fails.
	Held                   int64
	heldBytes, heldBatches int64
	// Pending rows were read but not yet written.
	Pending int64
	// Migration is what was done to the table before writing ("" for nothing).
	Migration abi.MigrateAction
	// DeletedStale is true when delete-stale ran for the table.
	DeletedStale bool
	// NotAttempted is true when the run stopped (another table failed)
	// before it began this table: nothing of it was read or written.
	NotAttempted bool
	Err          error
}

// New prepares a sync of env's destinations.
func New(env *Env, dests []*Destination) *Sync {
	s := &Sync{env: env, dests: dests, log: env.Log, stats: map[key]*TableStats{}, heldBy: map[*host.Instance]map[key]int64{}}
	for _, d := range dests {
		d.discarded = s.instanceDiscarded
	}
	return s
}

// instanceDiscarded counts the rows an instance of d held as lost: it
// trapped or was stopped, and the host rolled back what it held.
func (s *Sync) instanceDiscarded(d *Destination, in *host.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.heldBy[in] {
		st := s.stats[k]
		if st == nil || n <= 0 {
			continue
		}
		st.loseHeld(n)
		lost := fmt.Errorf("%d rows of earlier batches are lost: the guest instance that held them (not yet durable) failed", n)
		if st.Err == nil {
			st.Err = lost
		} else {
			st.Err = fmt.Errorf("%w; %w", st.Err, lost)
		}
	}
	delete(s.heldBy, in)
}

// holdRows adds n rows of k to what instance in holds (s.mu held).
func (s *Sync) holdRows(in *host.Instance, k key, n int64) {
	if n == 0 {
		return
	}
	m := s.heldBy[in]
	if m == nil {
		m = map[key]int64{}
		s.heldBy[in] = m
	}
	if m[k] += n; m[k] <= 0 {
		delete(m, k)
	}
}

// Stats returns a copy of the per destination and table counts so far.
func (s *Sync) Stats() []TableStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TableStats, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, *s.stats[k])
	}
	return out
}

// Started returns when Run started.
func (s *Sync) Started() time.Time { return s.start }

func (s *Sync) update(dest, table string, f func(*TableStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{dest, table}
	st := s.stats[k]
	if st == nil {
		st = &TableStats{Destination: dest, Table: table}
		s.stats[k] = st
		s.order = append(s.order, k)
	}
	f(st)
}

// target is one table in one destination.
type target struct {
	d        *Destination
	table    string
	wanted   *arrow.Schema
	appender *schema.Appender
	batcher  *batch.Batcher
	// inputsLeft counts inputs of this table not yet finished.
	inputsLeft int
	failed     bool
	// migrateMode is the destination's migrate_mode, or what a
	// Session.Migrate asked for this table.
	migrateMode abi.MigrateMode
	// inflight holds one token per batch of this table being written in the
	// background (Env.Writers; 1 for a table with a primary key and no
	// keys gate); nil when batches are written as they come (Env.Writers <= 1).
	inflight chan struct{}
	// keys, for a table with a primary key whose guest upserts side by
	// side, keeps batches sharing a key from being written at once.
	keys     *keyGate
	writes   sync.WaitGroup
	errMu    sync.Mutex
	writeErr error // the first background write that failed
}

// wait waits for the table's background writes and returns the first error
// among them.
func (tg *target) wait() error {
	tg.writes.Wait()
	tg.errMu.Lock()
	defer tg.errMu.Unlock()
	return tg.writeErr
}

// failedWrite returns the first background write error so far.
func (tg *target) failedWrite() error {
	tg.errMu.Lock()
	defer tg.errMu.Unlock()
	return tg.writeErr
}

func (s *Sync) options(d *Destination) schema.Options {
	return schema.Options{
		WriteMode: d.Config.WriteMode, PKMode: d.Config.PKMode, SyncGroupID: d.SyncGroupID,
		SourceName: s.env.SourceName, SyncTime: s.env.SyncTime, AsIs: s.env.Shaped,
	}
}

// Run syncs inputs into every destination and closes the inputs. Call
// Finish afterwards, also after a failed Run.
//
// Before anything is written anywhere, every table of every destination is
// planned; in migrate_mode safe, one unsafe change anywhere stops the run
// with every change listed. Then records stream through batching into the
// guests. A batch is written whole or not at all. When an input fails, what
// was read of it before the failure is written, delete-stale is skipped for
// its table, and the run stops with the input's error: the tables it did
// not begin are marked NotAttempted. With Env.KeepGoing it goes on with the
// other tables instead and returns every table's error at the end.
func (s *Sync) Run(ctx context.Context, inputs []Input) error {
	s.start = time.Now()
	started := 0
	defer func() {
		// copyInput closes the inputs it started.
		for _, in := range inputs[started:] {
			in.Close()
		}
	}()
	var tables []string
	for _, in := range inputs {
		if !slices.Contains(tables, in.Table().Name) {
			tables = append(tables, in.Table().Name)
		}
	}
	locks, err := lockTables(ctx, s.lockRequests(tables), s.lockWait())
	defer unlockAll(locks)
	if err != nil {
		return err
	}
	targets, err := s.plan(ctx, inputs, s.dests)
	if err != nil {
		s.notAttempted(tables)
		return err
	}
	var errs []error
	failed := map[string]bool{}
	for i, in := range inputs {
		started++
		table := in.Table().Name
		if failed[table] {
			in.Close() // an earlier input of the table failed: its state is unknown
			continue
		}
		err := s.copyInput(ctx, in, targets[table])
		if err == nil {
			continue
		}
		failed[table] = true
		s.tableFailed(table, err)
		errs = append(errs, err)
		if !s.env.KeepGoing || ctx.Err() != nil {
			var rest []string
			for _, later := range inputs[i+1:] {
				if t := later.Table().Name; !failed[t] && !slices.Contains(rest, t) {
					rest = append(rest, t)
				}
			}
			s.notAttempted(rest)
			return err
		}
	}
	if err := s.sendSummaries(ctx, inputs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// notAttempted marks tables that no input of has begun yet as not
// attempted.
func (s *Sync) notAttempted(tables []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.order {
		st := s.stats[k]
		if slices.Contains(tables, k.table) && st.Rows == 0 && st.Held == 0 && st.Pending == 0 && st.Err == nil {
			st.NotAttempted = true
		}
	}
}

// tableFailed records err on the table's stats that have no error yet (an
// input that failed to read fails the table in every destination).
func (s *Sync) tableFailed(table string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.order {
		if st := s.stats[k]; k.table == table && st.Err == nil {
			st.Err = err
		}
	}
}

// Finish ends the sync in every destination: it runs OpClose on every guest
// instance (which, for example, gives files their final names) and
// releases the destinations.
//
// A destination whose guest held rows until it finishes (abi.WriteResult)
// gets its sync summary only now, through a fresh pool, so that the
// summary counts what finishing made durable.
func (s *Sync) Finish(ctx context.Context) error {
	var errs []error
	for _, d := range s.dests {
		err := d.Pool.Close(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("destination %q: finish: %w", d.Name, err))
		}
		s.settleHeld(d, err)
		if slices.Contains(s.deferredSummaries, d) {
			if err := s.lateSummary(ctx, d); err != nil {
				errs = append(errs, fmt.Errorf("destination %q: %w", d.Name, err))
			}
		}
		d.Close()
	}
	return errors.Join(errs...)
}

// plan makes the targets of inputs in dests and runs the migration phase.
func (s *Sync) plan(ctx context.Context, inputs []Input, dests []*Destination) (map[string][]*target, error) {
	targets := map[string][]*target{}
	schemas := map[string]*arrow.Schema{}
	var tables []string
	for _, in := range inputs {
		t := in.Table()
		if prev, ok := schemas[t.Name]; ok {
			if !prev.Equal(t.Schema) {
				return nil, fmt.Errorf("table %q comes from two inputs with different schemas", t.Name)
			}
			for _, tg := range targets[t.Name] {
				tg.inputsLeft++
			}
			continue
		}
		schemas[t.Name] = t.Schema
		tables = append(tables, t.Name)
		for _, d := range dests {
			tg, err := s.newTarget(d, t)
			if err != nil {
				return nil, err
			}
			targets[t.Name] = append(targets[t.Name], tg)
		}
	}
	var all []*target
	for _, name := range tables {
		all = append(all, targets[name]...)
	}
	return targets, s.migrate(ctx, all, dests)
}

func (s *Sync) newTarget(d *Destination, t arrowio.Table) (*target, error) {
	in := t.Schema
	if v, _ := in.Metadata().GetValue(abi.MetaTableName); v != t.Name {
		// The table's name came from the file name (cq:table_name is
		// missing or empty): say it in the schema.
		md := in.Metadata()
		keys, vals := slices.Clone(md.Keys()), slices.Clone(md.Values())
		if i := md.FindKey(abi.MetaTableName); i >= 0 {
			vals[i] = t.Name
		} else {
			keys, vals = append(keys, abi.MetaTableName), append(vals, t.Name)
		}
		in = arrow.NewSchema(in.Fields(), ptr(arrow.NewMetadata(keys, vals)))
	}
	o := s.options(d)
	wanted, err := schema.Transform(in, o)
	if err != nil {
		return nil, fmt.Errorf("destination %q: table %q: %w", d.Name, t.Name, err)
	}
	app, err := schema.NewAppender(wanted, o, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("destination %q: table %q: %w", d.Name, t.Name, err)
	}
	tg := &target{d: d, table: t.Name, wanted: wanted, appender: app, inputsLeft: 1, migrateMode: d.Config.MigrateMode}
	if d.writeSlots != nil {
		n := cap(d.writeSlots)
		if pk := arrowtypes.PrimaryKeys(wanted); len(pk) > 0 {
			// Upserts stay in order: batches sharing no key side by side
			// when the guest can (keyGate), else one at a time.
			if d.Guest.HasFeature(abi.FeatureParallelUpserts) {
				tg.keys = newKeyGate(wanted, pk)
			}
			if tg.keys == nil {
				n = 1
			}
		}
		tg.inflight = make(chan struct{}, n)
	}
	tg.batcher = batch.New(d.Batch, func(ctx context.Context, recs []arrow.RecordBatch) error {
		return s.writeBatch(ctx, tg, recs)
	})
	s.update(d.Name, t.Name, func(*TableStats) {})
	return tg, nil
}

func ptr[T any](v T) *T { return &v }

// migrate describes every target, plans, refuses unsafe changes in safe mode
// before any DDL anywhere, then migrates and verifies.
func (s *Sync) migrate(ctx context.Context, targets []*target, dests []*Destination) error {
	type planned struct {
		tg   *target
		plan migrate.Plan
	}
	type destMode struct {
		d    *Destination
		mode abi.MigrateMode
	}
	var plans []planned
	byDest := map[destMode][]migrate.Plan{}
	var order []destMode
	for _, tg := range targets {
		st, err := describe(ctx, tg)
		if host.IsUnsupported(err) {
			continue // a destination without schemas (files)
		}
		if err != nil {
			return fmt.Errorf("destination %q: %w", tg.d.Name, err)
		}
		p, err := migrate.PlanTable(tg.wanted, st, tg.migrateMode)
		if err != nil {
			return fmt.Errorf("destination %q: %w", tg.d.Name, err)
		}
		if p.Action == abi.MigrateRecreate && !tg.d.Guest.HasFeature(abi.FeatureMigrateForced) {
			return fmt.Errorf("destination %q: table %q needs to be dropped and recreated, which guest %s cannot do: migrate it by hand", tg.d.Name, tg.table, tg.d.Guest.Name())
		}
		plans = append(plans, planned{tg, p})
		k := destMode{tg.d, tg.migrateMode}
		if _, ok := byDest[k]; !ok {
			order = append(order, k)
		}
		byDest[k] = append(byDest[k], p)
	}
	var errs []error
	for _, k := range order {
		if err := migrate.Check(byDest[k], k.mode); err != nil {
			errs = append(errs, fmt.Errorf("destination %q: %w", k.d.Name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, p := range plans {
		if p.plan.Action == "" {
			continue
		}
		tg := p.tg
		s.log.Info("migrating table", "destination", tg.d.Name, "table", tg.table, "action", p.plan.Action, "changes", len(p.plan.Changes))
		if err := tg.d.Pool.Call(ctx, nil, abi.OpMigrate, p.plan.Request(), host.RecordBody(tg.wanted), nil); err != nil {
			return fmt.Errorf("destination %q: table %q: %w", tg.d.Name, tg.table, err)
		}
		after, err := describe(ctx, tg)
		if err != nil {
			return fmt.Errorf("destination %q: after migrating: %w", tg.d.Name, err)
		}
		if err := migrate.VerifyApplied(tg.wanted, after); err != nil {
			return fmt.Errorf("destination %q: guest %s did not migrate as asked: %w", tg.d.Name, tg.d.Guest.Name(), err)
		}
		s.update(tg.d.Name, tg.table, func(st *TableStats) { st.Migration = p.plan.Action })
	}
	return nil
}

func describe(ctx context.Context, tg *target) (abi.TableState, error) {
	var out bufferWriter
	if err := tg.d.Pool.Call(ctx, nil, abi.OpDescribe, abi.TableRequest{Table: tg.table}, host.RecordBody(tg.wanted), &out); err != nil {
		return abi.TableState{}, err
	}
	st, err := decodeJSON[abi.TableState](out.b)
	if err != nil {
		return st, fmt.Errorf("table %q: guest's describe output: %w", tg.table, err)
	}
	return st, nil
}

// copyInput streams one input into its targets, and closes it. Reading runs
// in its own goroutine, which also closes the input when it stops, so that
// batch_timeout fires while the input is slow and a failed write never
// closes an input under a read in progress.
func (s *Sync) copyInput(ctx context.Context, in Input, targets []*target) error {
	table := in.Table().Name
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// However copying ends, background writes end before it returns (and
	// before cancel stops them).
	defer func() {
		for _, tg := range targets {
			tg.writes.Wait()
		}
	}()
	type item struct {
		rec arrow.RecordBatch
		err error
	}
	ch := make(chan item, 1)
	go func() {
		defer close(ch)
		defer in.Close()
		for {
			rec, err := in.Next(ctx)
			select {
			case ch <- item{rec, err}:
			case <-ctx.Done():
				if rec != nil {
					rec.Release()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		resetTimer(timer, targets)
		var it item
		select {
		case it = <-ch:
		case <-timer.C:
			for _, tg := range targets {
				if dl, ok := tg.batcher.Deadline(); ok && !time.Now().Before(dl) {
					if err := tg.batcher.Flush(ctx); err != nil {
						return s.fail(tg, err)
					}
				}
			}
			continue
		case <-ctx.Done():
			return ctx.Err()
		}
		if it.err != nil {
			if !errors.Is(it.err, io.EOF) {
				// Keep what was read before the failure, then stop.
				for _, tg := range targets {
					tg.failed = true
					err := tg.batcher.Flush(ctx)
					if err == nil {
						err = tg.wait()
					}
					if err != nil {
						return errors.Join(it.err, s.fail(tg, err))
					}
				}
				return it.err
			}
			return s.finishInput(ctx, table, targets)
		}
		for _, tg := range targets {
			out, err := tg.appender.Apply(it.rec)
			if err != nil {
				it.rec.Release()
				return fmt.Errorf("destination %q: table %q: %w", tg.d.Name, table, err)
			}
			n := out.NumRows()
			s.update(tg.d.Name, table, func(st *TableStats) { st.Pending += n })
			err = tg.batcher.Add(ctx, out)
			out.Release()
			if err != nil {
				it.rec.Release()
				return s.fail(tg, err)
			}
		}
		it.rec.Release()
	}
}

func resetTimer(t *time.Timer, targets []*target) {
	next := time.Now().Add(time.Hour)
	for _, tg := range targets {
		if dl, ok := tg.batcher.Deadline(); ok && dl.Before(next) {
			next = dl
		}
	}
	t.Reset(time.Until(next))
}

func (s *Sync) fail(tg *target, err error) error {
	tg.failed = true
	s.update(tg.d.Name, tg.table, func(st *TableStats) {
		if st.Err != nil && st.Err != err {
			// Held rows lost with the failed instance: keep saying so.
			st.Err = fmt.Errorf("%w; %w", err, st.Err)
			return
		}
		st.Err = err
	})
	return err
}

// finishInput flushes a finished input's targets and, after the last input of
// a table, deletes stale rows where the write mode asks for it.
func (s *Sync) finishInput(ctx context.Context, table string, targets []*target) error {
	for _, tg := range targets {
		if err := tg.batcher.Flush(ctx); err != nil {
			return s.fail(tg, err)
		}
		if err := tg.wait(); err != nil {
			return s.fail(tg, err)
		}
		tg.inputsLeft--
		if tg.inputsLeft > 0 || tg.failed || tg.d.Config.WriteMode != abi.WriteModeOverwriteDeleteStale || s.env.Shaped {
			continue
		}
		if !tg.d.Guest.HasFeature(abi.FeatureDeleteStale) {
			continue // Open refused such a write mode unless the manifest allows it
		}
		req := abi.DeleteStaleRequest{Table: table, SourceName: s.env.SourceName, SyncTime: abi.FormatTime(s.env.SyncTime)}
		if err := tg.d.Pool.Call(ctx, nil, abi.OpDeleteStale, req, nil, nil); err != nil {
			return s.fail(tg, fmt.Errorf("destination %q: table %q: delete stale: %w", tg.d.Name, table, err))
		}
		s.update(tg.d.Name, table, func(st *TableStats) { st.DeletedStale = true })
	}
	return nil
}

// writeBatch writes one batch: at once when the destination writes one
// batch at a time, else in the background, once the table and the
// destination have a writer free. A background write that failed fails the
// next batch of its table, and wait.
func (s *Sync) writeBatch(ctx context.Context, tg *target, recs []arrow.RecordBatch) error {
	if tg.inflight == nil {
		return s.write(ctx, tg, recs)
	}
	failed := func() error {
		if err := tg.failedWrite(); err != nil {
			return fmt.Errorf("not written after an earlier batch failed: %w", err)
		}
		return nil
	}
	if err := failed(); err != nil {
		return err
	}
	leave := func() {}
	if tg.keys != nil {
		ks := tg.keys.keys(recs)
		if err := tg.keys.enter(ctx, ks); err != nil {
			return err
		}
		leave = func() { tg.keys.leave(ks) }
	}
	select {
	case tg.inflight <- struct{}{}:
	case <-ctx.Done():
		leave()
		return ctx.Err()
	}
	select {
	case tg.d.writeSlots <- struct{}{}:
	case <-ctx.Done():
		<-tg.inflight
		leave()
		return ctx.Err()
	}
	if err := failed(); err != nil {
		<-tg.d.writeSlots
		<-tg.inflight
		leave()
		return err
	}
	// The batcher releases recs when this returns: keep them for the write.
	for _, r := range recs {
		r.Retain()
	}
	tg.writes.Add(1)
	go func() {
		defer tg.writes.Done()
		err := s.write(ctx, tg, recs)
		for _, r := range recs {
			r.Release()
		}
		if err != nil {
			tg.errMu.Lock()
			if tg.writeErr == nil {
				tg.writeErr = err
			}
			tg.errMu.Unlock()
		}
		<-tg.d.writeSlots
		<-tg.inflight
		leave()
	}()
	return nil
}

// write sends one batch to a guest, in messages of at most MaxMessageBytes.
func (s *Sync) write(ctx context.Context, tg *target, recs []arrow.RecordBatch) error {
	var rows, bytes int64
	for _, r := range recs {
		rows += r.NumRows()
		bytes += batch.RecordSize(r)
	}
	msgs := sliceMessages(recs, MaxMessageBytes)
	defer func() {
		for _, m := range msgs {
			m.Release()
		}
	}()
	// The instance is taken here, not by Call, to know which one holds
	// the rows the guest reports held (instanceDiscarded).
	in, err := tg.d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("destination %q: table %q: batch of %d rows not written: %w", tg.d.Name, tg.table, rows, err)
	}
	defer tg.d.Pool.Release(ctx, in)
	var out bufferWriter
	err = tg.d.Pool.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: tg.table}, host.RecordBody(tg.wanted, msgs...), &out)
	var res abi.WriteResult
	if len(out.b) > 0 {
		if derr := json.Unmarshal(out.b, &res); derr != nil && err == nil {
			err = fmt.Errorf("guest's write output: %w", derr)
		}
	}
	res.HeldRows = min(max(res.HeldRows, 0), rows)
	s.settleEarlier(in, tg.d.Name, res)
	s.update(tg.d.Name, tg.table, func(st *TableStats) {
		if res.LostRows > 0 {
			st.loseHeld(res.LostRows)
			s.holdRows(in, key{tg.d.Name, tg.table}, -res.LostRows)
		}
		if err != nil {
			return
		}
		held := res.HeldRows
		s.holdRows(in, key{tg.d.Name, tg.table}, held)
		heldBytes := bytes * held / max(rows, 1)
		st.Rows += rows - held
		st.Bytes += bytes - heldBytes
		st.Held += held
		st.heldBytes += heldBytes
		if held > 0 {
			st.heldBatches++
		} else {
			st.Batches++
		}
		st.Pending -= rows
	})
	if err != nil {
		return fmt.Errorf("destination %q: table %q: batch of %d rows not written: %w", tg.d.Name, tg.table, rows, err)
	}
	return nil
}

// settleEarlier applies what a write says of rows held by earlier writes
// of destination dest (abi.WriteResult.Durable and Lost, ABI 1.7): they
// count as written, or are lost. Tables the destination holds no rows of
// are ignored (a guest cannot make rows up).
func (s *Sync) settleEarlier(in *host.Instance, dest string, res abi.WriteResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for table, n := range res.Durable {
		if st := s.stats[key{dest, table}]; st != nil && n > 0 {
			st.releaseHeld(n)
			s.holdRows(in, key{dest, table}, -n)
		}
	}
	for table, n := range res.Lost {
		if st := s.stats[key{dest, table}]; st != nil && n > 0 {
			st.loseHeld(n)
			s.holdRows(in, key{dest, table}, -n)
		}
	}
}

// takeHeld takes n held rows (all when n is at least Held) out of the held
// ones, with their share of the held bytes and batches, and returns them.
func (st *TableStats) takeHeld(n int64) (rows, bytes, batches int64) {
	rows, bytes, batches = min(n, st.Held), st.heldBytes, st.heldBatches
	if rows < st.Held {
		bytes, batches = st.heldBytes*rows/st.Held, st.heldBatches*rows/st.Held
	}
	st.Held -= rows
	st.heldBytes -= bytes
	st.heldBatches -= batches
	return rows, bytes, batches
}

// releaseHeld counts n held rows (all when n is at least Held) as written.
func (st *TableStats) releaseHeld(n int64) {
	rows, bytes, batches := st.takeHeld(n)
	st.Rows += rows
	st.Bytes += bytes
	st.Batches += batches
}

// loseHeld drops n held rows (all when n is at least Held).
func (st *TableStats) loseHeld(n int64) { st.takeHeld(n) }

// settleHeld ends the held rows of destination d once it finished: durable
// when finishing succeeded, lost (with err) when it failed.
func (s *Sync) settleHeld(d *Destination, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.order {
		st := s.stats[k]
		if k.dest != d.Name || st.Held == 0 {
			continue
		}
		if err != nil {
			if st.Err == nil {
				st.Err = fmt.Errorf("%d rows not written: the destination failed to finish: %w", st.Held, err)
			}
			st.loseHeld(st.Held)
			continue
		}
		st.releaseHeld(st.Held)
	}
}

// holds says whether destination d holds rows that are not yet durable.
func (s *Sync) holds(d *Destination) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.order {
		if k.dest == d.Name && s.stats[k].Held > 0 {
			return true
		}
	}
	return false
}
