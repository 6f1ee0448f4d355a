package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// Session is a sync whose inputs arrive one at a time, possibly
// concurrently and over the network, instead of all at once as Run takes
// them: a server streams each table into it as its client sends it. The
// semantics are Run's, table by table: Stream plans and migrates its table
// (in migrate_mode safe an unsafe change fails that Stream before anything
// of it is written), batches and writes it, and after a successful input
// deletes the table's stale rows where the write mode asks for it (rows this
// sync wrote carry its sync time and are never stale). Finish writes the
// sync summaries for every table streamed, then ends the sync as Sync.Finish
// does.
type Session struct {
	*Sync
	planMu sync.Mutex // one table's plan and migration at a time
	// prepared holds the targets Migrate made, until a Stream of their
	// table takes them (under planMu).
	prepared map[string][]*target
	mu       sync.Mutex
	tables   []string
}

// NewSession starts a sync of env's destinations whose inputs come with Stream.
func NewSession(env *Env, dests []*Destination) *Session {
	s := &Session{Sync: New(env, dests)}
	s.start = time.Now()
	return s
}

// Stream syncs one input into every destination of the session and closes
// it. Streams of different tables may run at once; calls into one
// destination's guests are serialised by its pool.
func (s *Session) Stream(ctx context.Context, in Input) error {
	table := in.Table().Name
	locks, err := lockTables(ctx, s.lockRequests([]string{table}), s.lockWait())
	defer unlockAll(locks)
	if err != nil {
		in.Close()
		return err
	}
	s.planMu.Lock()
	targets, err := s.takePrepared(in.Table())
	if targets == nil && err == nil {
		targets, err = s.plan(ctx, []Input{in}, s.dests)
	}
	s.planMu.Unlock()
	if err != nil {
		in.Close()
		return err
	}
	s.mu.Lock()
	if !slices.Contains(s.tables, table) {
		s.tables = append(s.tables, table)
	}
	s.mu.Unlock()
	return s.copyInput(ctx, in, targets[table])
}

// takePrepared returns the targets Migrate made for t, or nil when it made
// none. Called with planMu held.
func (s *Session) takePrepared(t arrowio.Table) (map[string][]*target, error) {
	tgs, ok := s.prepared[t.Name]
	if !ok {
		return nil, nil
	}
	delete(s.prepared, t.Name)
	if len(tgs) > 0 && !tgs[0].wanted.Equal(t.Schema) {
		return nil, fmt.Errorf("table %q is streamed with another schema than it was migrated with", t.Name)
	}
	return map[string][]*target{t.Name: tgs}, nil
}

// Migrate plans and migrates tables before any of them is streamed, as a
// CloudQuery CLI's migrate_table messages ask, all of them as one, the way
// Run does: in migrate_mode safe, one unsafe change among them refuses them
// all, with every change listed, before any DDL anywhere. forced[i] true
// means migrate_mode forced for tables[i] (the message's migrate_force);
// false means the destination's migrate_mode. The next Stream of each table
// writes into what was planned here; migrating a table again replaces the
// plan.
func (s *Session) Migrate(ctx context.Context, tables []arrowio.Table, forced []bool) error {
	s.planMu.Lock()
	defer s.planMu.Unlock()
	var all []*target
	byTable := map[string][]*target{}
	for i, t := range tables {
		if _, dup := byTable[t.Name]; dup {
			return fmt.Errorf("table %q is migrated twice in one go", t.Name)
		}
		for _, d := range s.dests {
			tg, err := s.newTarget(d, t)
			if err != nil {
				return err
			}
			if i < len(forced) && forced[i] {
				tg.migrateMode = abi.MigrateModeForced
			}
			byTable[t.Name] = append(byTable[t.Name], tg)
			all = append(all, tg)
		}
	}
	if err := s.migrate(ctx, all, s.dests); err != nil {
		return err
	}
	if s.prepared == nil {
		s.prepared = map[string][]*target{}
	}
	for name, tgs := range byTable {
		s.prepared[name] = tgs
	}
	return nil
}

// DeleteStale deletes, in every destination of the session, the rows of
// table that an earlier sync of sourceName wrote before syncTime, as a
// CloudQuery CLI's delete message asks. Call it once the table's Stream
// has returned, so that every batch of it is written first. A guest
// without delete-stale refuses it.
func (s *Session) DeleteStale(ctx context.Context, table, sourceName string, syncTime time.Time) error {
	for _, d := range s.dests {
		if !d.Guest.HasFeature(abi.FeatureDeleteStale) {
			return fmt.Errorf("destination %q: table %q: guest %s cannot delete stale rows (its manifest lacks the %q feature): use write_mode overwrite or append", d.Name, table, d.Guest.Name(), abi.FeatureDeleteStale)
		}
		req := abi.DeleteStaleRequest{Table: table, SourceName: sourceName, SyncTime: abi.FormatTime(syncTime)}
		if err := d.Pool.Call(ctx, nil, abi.OpDeleteStale, req, nil, nil); err != nil {
			err = fmt.Errorf("destination %q: table %q: delete stale: %w", d.Name, table, err)
			s.update(d.Name, table, func(st *TableStats) { st.Err = err })
			return err
		}
		s.update(d.Name, table, func(st *TableStats) { st.DeletedStale = true })
	}
	return nil
}

// DeleteRecord deletes, in every destination of the session, the rows
// req's predicates match (a CloudQuery delete_record message), through the
// guest's optional delete_record operation (ABI 1.1). A guest without it
// refuses it. Call it once the table's Stream has returned.
func (s *Session) DeleteRecord(ctx context.Context, req abi.DeleteRecordRequest) error {
	for _, d := range s.dests {
		if !d.Guest.HasFeature(abi.FeatureDeleteRecord) {
			return fmt.Errorf("destination %q: table %q: guest %s cannot delete records: it does not implement the optional delete_record operation (ABI 1.1, feature %q)", d.Name, req.Table, d.Guest.Name(), abi.FeatureDeleteRecord)
		}
		if err := d.Pool.Call(ctx, nil, abi.OpDeleteRecord, req, nil, nil); err != nil {
			err = fmt.Errorf("destination %q: table %q: delete record: %w", d.Name, req.Table, err)
			s.update(d.Name, req.Table, func(st *TableStats) { st.Err = err })
			return err
		}
	}
	return nil
}

// Finish writes the sync summaries of the destinations that ask for them
// (when summaries is true and every table streamed so far), then runs
// Sync.Finish. Call it once, after every Stream has returned.
func (s *Session) Finish(ctx context.Context, summaries bool) error {
	var err error
	if summaries {
		s.mu.Lock()
		var ins []Input
		for _, t := range s.tables {
			ins = append(ins, tableOnly{arrowio.Table{Name: t}})
		}
		s.mu.Unlock()
		err = s.sendSummaries(ctx, ins)
	}
	return errors.Join(err, s.Sync.Finish(ctx))
}

// tableOnly names a table for sendSummaries.
type tableOnly struct{ t arrowio.Table }

func (t tableOnly) Table() arrowio.Table { return t.t }
func (tableOnly) Next(context.Context) (arrow.RecordBatch, error) {
	return nil, errors.New("no records")
}
func (tableOnly) Close() error { return nil }
