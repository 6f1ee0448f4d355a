package syncer_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// gatedInput is an Input that calls before(i) before returning its record i
// (i == len(recs) before io.EOF).
type gatedInput struct {
	table  arrowio.Table
	recs   []arrow.RecordBatch
	n      int
	before func(i int)
}

func (g *gatedInput) Table() arrowio.Table { return g.table }
func (g *gatedInput) Close() error {
	for _, r := range g.recs[g.n:] {
		r.Release()
	}
	g.n = len(g.recs)
	return nil
}
func (g *gatedInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if g.before != nil {
		g.before(g.n)
	}
	if g.n == len(g.recs) {
		return nil, io.EOF
	}
	g.n++
	return g.recs[g.n-1], nil
}

// pgEnv is an Env with syncTime as the sync's start.
func pgEnv(t *testing.T, syncTime time.Time) *syncer.Env {
	env := newEnv(t)
	env.SyncTime = syncTime
	return env
}

func openPostgres(t *testing.T, env *syncer.Env, url string, batchRows int) *syncer.Destination {
	t.Helper()
	d, err := syncer.Open(context.Background(), env, config.Destination{
		Name: "pg", Registry: config.RegistryLocal, Path: testenv.BuildGuest(t, "guests/postgres"),
		WriteMode: abi.WriteModeOverwriteDeleteStale, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Spec: map[string]any{"connection_string": url, "batch_size": batchRows}, File: "test.toml", Line: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// syncRunner runs one input through either Sync.Run (wasmdest run) or
// Session.Stream (wasmdest serve).
type syncRunner interface {
	Stats() []syncer.TableStats
	run(ctx context.Context, in syncer.Input) error
}

type runSync struct{ *syncer.Sync }

func (r runSync) run(ctx context.Context, in syncer.Input) error {
	return r.Run(ctx, []syncer.Input{in})
}

type sessionSync struct{ *syncer.Session }

func (s sessionSync) run(ctx context.Context, in syncer.Input) error { return s.Stream(ctx, in) }

func newRunner(t *testing.T, mode string, env *syncer.Env, d *syncer.Destination) syncRunner {
	ctx := context.Background()
	if mode == "session" {
		s := syncer.NewSession(env, []*syncer.Destination{d})
		t.Cleanup(func() { s.Finish(ctx, false) })
		return sessionSync{s}
	}
	s := syncer.New(env, []*syncer.Destination{d})
	t.Cleanup(func() { s.Finish(ctx) })
	return runSync{s}
}

// waitFor polls cond every 20 ms until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("waited a minute for %s", what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two overlapping syncs of one source into one table, same keys,
// overwrite-delete-stale: the earlier sync (A) must not overwrite keys after
// the later one (B) wrote them only for B's delete-stale to delete them.
// The inputs are gated so that, without serialisation, exactly that
// happens: A waits (after planning) until B has written every row, and B
// ends its input only after A is done. With serialisation B waits for A's
// lock, which A sees in pg_locks, and the syncs run one after the other.
func TestConcurrentSyncsOfOneTableKeepEveryRow(t *testing.T) {
	const rows, batch = 20000, 1000
	for _, mode := range []string{"run", "session"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			url := testenv.PostgresURL(t)
			watch, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close(ctx)
			waiting := func() bool {
				var n int
				if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n); err != nil {
					t.Error(err)
					return true
				}
				return n > 0
			}
			envA, envB := pgEnv(t, syncTime), pgEnv(t, syncTime.Add(time.Second))
			a := newRunner(t, mode, envA, openPostgres(t, envA, url, batch))
			b := newRunner(t, mode, envB, openPostgres(t, envB, url, batch))
			recs := func() []arrow.RecordBatch {
				var out []arrow.RecordBatch
				for i := 0; i < rows; i += batch {
					out = append(out, users("users", i, batch))
				}
				return out
			}
			aReady, aDone, bDone := make(chan struct{}), make(chan error, 1), make(chan error, 1)
			inA := &gatedInput{table: arrowio.Table{Name: "users", Schema: usersSchema("users")}, recs: recs(), before: func(i int) {
				if i != 0 {
					return
				}
				close(aReady)
				waitFor(t, "sync B to write every row or wait for a lock", func() bool {
					return waiting() || len(b.Stats()) > 0 && b.Stats()[0].Rows >= rows
				})
			}}
			aFinished := make(chan struct{})
			inB := &gatedInput{table: arrowio.Table{Name: "users", Schema: usersSchema("users")}, recs: recs(), before: func(i int) {
				if i == rows/batch {
					select {
					case <-aFinished:
					case <-time.After(time.Minute):
						t.Error("waited a minute for sync A to finish")
					}
				}
			}}
			go func() {
				err := a.run(ctx, inA)
				close(aFinished)
				aDone <- err
			}()
			<-aReady
			go func() { bDone <- b.run(ctx, inB) }()
			if err := <-aDone; err != nil {
				t.Errorf("sync A: %v", err)
			}
			if err := <-bDone; err != nil {
				t.Errorf("sync B: %v", err)
			}
			var n int
			if err := watch.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != rows {
				t.Errorf("the table holds %d rows after two syncs of the same %d keys, want %d", n, rows, rows)
			}
		})
	}
}

// A sync that waits longer than Env.LockWait for another sync of its table
// fails, naming the table and saying why; with a negative LockWait it does
// not wait at all.
func TestSyncWaitingTooLongForTheTableLockFails(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	envA := pgEnv(t, syncTime)
	a := syncer.New(envA, []*syncer.Destination{openPostgres(t, envA, url, 10)})
	held, release := make(chan struct{}), make(chan struct{})
	inA := &gatedInput{table: arrowio.Table{Name: "users", Schema: usersSchema("users")},
		recs: []arrow.RecordBatch{users("users", 0, 10)}, before: func(i int) {
			if i == 0 {
				close(held)
				<-release
			}
		}}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(ctx, []syncer.Input{inA}) }()
	<-held
	for _, wait := range []time.Duration{200 * time.Millisecond, -1} {
		envB := pgEnv(t, syncTime.Add(time.Second))
		envB.LockWait = wait
		b := syncer.New(envB, []*syncer.Destination{openPostgres(t, envB, url, 10)})
		err := b.Run(ctx, []syncer.Input{input("users", users("users", 0, 10))})
		b.Finish(ctx)
		if err == nil || !strings.Contains(err.Error(), `table "users": another sync of source "src" into this table is running`) {
			t.Errorf("lock wait %s: got %v, want the table's lock refused", wait, err)
		}
		if wait > 0 && !strings.Contains(err.Error(), "waited 200ms") {
			t.Errorf("lock wait %s: %v does not say how long it waited", wait, err)
		}
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	a.Finish(ctx)
}

// Two syncs creating one new table at once: the one whose CREATE TABLE
// loses sees the table the other made and goes on. The other sync is played
// by a test connection creating the table (like one an earlier sync made)
// after the sync described the table as missing: committed before the
// sync's CREATE TABLE (42P07), or in a transaction still open while the
// sync's CREATE TABLE runs (23505 on the catalog).
func TestSyncLosingTheCreateTableRaceGoesOn(t *testing.T) {
	for _, mode := range []string{"committed", "in flight"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			url := testenv.PostgresURL(t)
			admin, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(ctx)
			env := pgEnv(t, syncTime)
			if _, err := run(t, env, openPostgres(t, env, url, 10), input("template", users("template", 0, 1))); err != nil {
				t.Fatal(err)
			}
			const create = "CREATE TABLE users (LIKE template INCLUDING ALL)"
			var once sync.Once
			var tx pgx.Tx
			env = pgEnv(t, syncTime.Add(time.Second))
			env.ObserveCall = func(_ string, op abi.Op, _ time.Duration, _ error) {
				if op != abi.OpDescribe {
					return
				}
				once.Do(func() {
					if mode == "committed" {
						if _, err := admin.Exec(ctx, create); err != nil {
							t.Error(err)
						}
						return
					}
					if tx, err = admin.Begin(ctx); err != nil {
						t.Fatal(err)
					}
					if _, err := tx.Exec(ctx, create); err != nil {
						t.Error(err)
					}
					go func() {
						watch, err := pgx.Connect(ctx, url)
						if err != nil {
							t.Error(err)
							return
						}
						defer watch.Close(ctx)
						waitFor(t, "the sync's CREATE TABLE to wait", func() bool {
							var n int
							watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
								AND wait_event_type = 'Lock' AND query LIKE 'CREATE TABLE%'`).Scan(&n)
							return n > 0
						})
						if err := tx.Commit(ctx); err != nil {
							t.Error(err)
						}
					}()
				})
			}
			s, err := run(t, env, openPostgres(t, env, url, 10), input("users", users("users", 0, 10)))
			if err != nil {
				t.Fatalf("the sync that lost the race to create the table failed: %v", err)
			}
			if st := s.Stats(); st[0].Rows != 10 {
				t.Errorf("stats %+v, want 10 rows", st[0])
			}
			var n int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 10 {
				t.Errorf("the table holds %d rows, want 10", n)
			}
		})
	}
}
