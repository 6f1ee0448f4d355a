package syncer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// writesPerInstance sums the misbehave guest's "write TABLE N" operations
// over n instances of the pool, held at once so that they are n different
// ones.
func writesPerInstance(t *testing.T, d *syncer.Destination, table string, n int) (rows, batches int, busy int) {
	t.Helper()
	ctx := context.Background()
	var held []*host.Instance
	defer func() {
		for _, in := range held {
			d.Pool.Release(ctx, in)
		}
	}()
	for range n {
		in, err := d.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, in)
	}
	for _, in := range held {
		var buf bytes.Buffer
		sc := arrow.NewSchema([]arrow.Field{{Name: "op", Type: arrow.BinaryTypes.String}}, nil)
		if err := d.Pool.Call(ctx, in, abi.OpRead, abi.TableRequest{Table: "__ops"}, host.RecordBody(sc), &buf); err != nil {
			t.Fatal(err)
		}
		wrote := 0
		for _, r := range readAll(t, &buf) {
			col := r.Column(0).(*array.String)
			for i := 0; i < int(r.NumRows()); i++ {
				f := strings.Fields(col.Value(i))
				if len(f) == 3 && f[0] == "write" && f[1] == table {
					k, _ := strconv.Atoi(f[2])
					rows += k
					batches++
					wrote++
				}
			}
			r.Release()
		}
		if wrote > 0 {
			busy++
		}
	}
	return rows, batches, busy
}

// Appends are spread over the writers; every batch is written once.
func TestWritersSpreadAppendsAndLoseNothing(t *testing.T) {
	env := newEnv(t)
	env.Writers = 3
	d := misbehave(t, env, func(d *config.Destination) { d.WriteMode = abi.WriteModeAppend }, map[string]any{"batch_size": 10})
	in := input("users", users("users", 0, 45), users("users", 45, 50))
	s, err := run(t, env, d, in)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); len(st) != 1 || st[0].Rows != 95 || st[0].Batches != 10 || st[0].Pending != 0 {
		t.Errorf("stats %+v, want 95 rows in 10 batches", st)
	}
	rows, batches, _ := writesPerInstance(t, d, "users", 3)
	if rows != 95 || batches != 10 {
		t.Errorf("the guest instances wrote %d rows in %d batches, want 95 in 10", rows, batches)
	}
}

// A table with a primary key is upserted batch after batch, in order, and
// deleted from only after its last batch, whatever the number of writers.
func TestWritersKeepUpsertsInOrder(t *testing.T) {
	env := newEnv(t)
	env.Writers = 3
	d := misbehave(t, env, nil, map[string]any{"batch_size": 10})
	in1 := input("users", users("users", 0, 7), users("users", 7, 11), users("users", 18, 7))
	in2 := input("groups", users("groups", 0, 3))
	if _, err := run(t, env, d, in1, in2); err != nil {
		t.Fatal(err)
	}
	ts := abi.FormatTime(syncTime)
	want := []string{
		"migrate users create", "migrate groups create",
		"write users 10", "write users 10", "write users 5", "delete_stale users src " + ts,
		"write groups 3", "delete_stale groups src " + ts,
	}
	// One batch at a time: the pool never needed a second instance, so
	// this one saw every operation.
	if got := ops(t, d); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("operations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A write that fails in the background fails the run; only whole batches
// are counted.
func TestWritersFailureStopsTheRun(t *testing.T) {
	env := newEnv(t)
	env.Writers = 2
	d := misbehave(t, env, func(d *config.Destination) { d.WriteMode = abi.WriteModeAppend },
		map[string]any{"batch_size": 4, "fail": map[string]any{"write": "error"}, "after": 1})
	s, err := run(t, env, d, input("users", users("users", 0, 40)))
	if err == nil || !strings.Contains(err.Error(), "batch of 4 rows not written") || !strings.Contains(err.Error(), "misbehave: error in write") {
		t.Fatalf("got %v, want the failed batch's error", err)
	}
	st := s.Stats()[0]
	if st.Rows%4 != 0 || st.Rows >= 40 || st.Err == nil {
		t.Errorf("stats %+v, want whole batches of 4 rows, fewer than 40, and the error", st)
	}
}

// postgresDest opens a destination of the postgres guest with writers
// writers and spec (the connection string added).
func postgresDest(t *testing.T, env *syncer.Env, url string, mode abi.WriteMode, writers int, spec map[string]any) *syncer.Destination {
	t.Helper()
	env.Writers = writers
	spec["connection_string"] = url
	d, err := syncer.Open(context.Background(), env, config.Destination{
		Name: "pg", Registry: config.RegistryLocal, Path: testenv.BuildGuest(t, "guests/postgres"),
		WriteMode: mode, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Spec: spec, File: "test.toml", Line: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitingOnLock counts the statements matching like (SQL LIKE) that wait
// on a lock. Ask on a connection of its own: within a transaction
// pg_stat_activity stays as it was at its first look.
func waitingOnLock(t *testing.T, watch *pgx.Conn, like string) int {
	t.Helper()
	var n int
	err := watch.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, like).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// With the postgres guest, appends run on several connections at once:
// while a test transaction locks the table, two COPYs wait at the same time
// (copy_transaction_bytes 0: a COPY per batch, which waits for the server).
func TestWritersCopyOverSeveralConnectionsAtOnce(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	env := newEnv(t)
	env.Capabilities = capability.Builtin()
	open := func(writers int) *syncer.Destination {
		return postgresDest(t, env, url, abi.WriteModeAppend, writers, map[string]any{"batch_size": 5, "copy_transaction_bytes": 0})
	}
	// The table exists before it is locked.
	if _, err := run(t, env, open(1), input("users", users("users", 0, 1))); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	d := open(2)
	done := make(chan error, 1)
	var s *syncer.Sync
	go func() {
		var err error
		s, err = run(t, env, d, input("users", users("users", 1, 15)))
		done <- err
	}()
	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for waiting := 0; waiting < 2; {
		waiting = waitingOnLock(t, watch, "COPY%")
		if time.Now().After(deadline) {
			t.Fatalf("%d COPY waiting on the locked table after 60s, want 2 at once (Writers = 2)", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := lock.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st[0].Rows != 15 || st[0].Batches != 3 {
		t.Errorf("stats %+v, want 15 rows in 3 batches", st[0])
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 16 {
		t.Errorf("the table holds %d rows, want 16", n)
	}
}

// named is rows [from, from+n) of usersSchema(table), named prefix + key.
func named(table string, from, n int, prefix string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, usersSchema(table))
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%s %d", prefix, i))
	}
	return b.NewRecordBatch()
}

// With the postgres guest (feature parallel_upserts), upserts of batches
// sharing no key run on several connections at once, and a batch sharing a
// key with one being written waits for it, so the last write of each key
// wins: while a test transaction locks the table, two INSERTs of disjoint
// batches wait at the server at the same time, but only one of batches
// that share keys.
func TestWritersUpsertBatchesWithoutCommonKeysSideBySide(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	env := newEnv(t)
	env.Capabilities = capability.Builtin()
	open := func(writers int) *syncer.Destination {
		return postgresDest(t, env, url, abi.WriteModeOverwrite, writers, map[string]any{"batch_size": 5})
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS upserts"); err != nil {
		t.Fatal(err)
	}
	// The table exists before it is locked.
	if _, err := run(t, env, open(1), input("upserts", named("upserts", 0, 1, "first"))); err != nil {
		t.Fatal(err)
	}
	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	waitingInserts := func() int { return waitingOnLock(t, watch, "INSERT INTO%upserts%") }
	// syncLocked runs a sync of recs with the table locked until want
	// INSERTs wait at the server; then it checks that no more come and
	// lets them through.
	syncLocked := func(want int, recs ...arrow.RecordBatch) {
		t.Helper()
		lock, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback(ctx)
		if _, err := lock.Exec(ctx, "LOCK TABLE upserts IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := run(t, env, open(3), input("upserts", recs...))
			done <- err
		}()
		deadline := time.Now().Add(60 * time.Second)
		for waitingInserts() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d INSERTs waiting on the locked table after 60s, want %d at once", waitingInserts(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		if n := waitingInserts(); n != want {
			t.Errorf("%d INSERTs wait at the server at once, want %d", n, want)
		}
		if err := lock.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Three batches of keys 1-5, 6-10, 11-15: all three at once.
	syncLocked(3, named("upserts", 1, 15, "second"))
	// Keys 0-4, then 0-4 again, then 2-6: one at a time, in order.
	syncLocked(1, named("upserts", 0, 5, "third"), named("upserts", 0, 5, "fourth"), named("upserts", 2, 5, "fifth"))
	rows, err := conn.Query(ctx, "SELECT id, name FROM upserts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"fourth 0", "fourth 1", "fifth 2", "fifth 3", "fifth 4", "fifth 5", "fifth 6",
		"second 7", "second 8", "second 9", "second 10", "second 11", "second 12", "second 13", "second 14", "second 15"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("names %q, want %q", got, want)
	}
}
