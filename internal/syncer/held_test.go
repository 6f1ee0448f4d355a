package syncer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/capability"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// heldSync syncs inputs into a fresh database through the postgres guest in
// write mode append with batch_size 5 and the given spec keys; it returns
// the stats after Run, the stats after Finish and a connection to the
// database.
func heldSync(t *testing.T, spec map[string]any, inputs ...syncer.Input) (ran, finished []syncer.TableStats, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	env := newEnv(t)
	env.Capabilities = capability.Builtin()
	s := map[string]any{"connection_string": url, "batch_size": 5}
	for k, v := range spec {
		s[k] = v
	}
	d, err := syncer.Open(ctx, env, config.Destination{
		Name: "pg", Registry: config.RegistryLocal, Path: testenv.BuildGuest(t, "guests/postgres"),
		WriteMode: abi.WriteModeAppend, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Spec: s, File: "test.toml", Line: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	sy := syncer.New(env, []*syncer.Destination{d})
	if err := sy.Run(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	ran = sy.Stats()
	if err := sy.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	finished = sy.Stats()
	if conn, err = pgx.Connect(ctx, url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return ran, finished, conn
}

// transactions returns how many rows table holds and in how many
// transactions they came.
func transactions(t *testing.T, conn *pgx.Conn, table string) (rows, txs int) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT xmin::text) FROM "+table).Scan(&rows, &txs); err != nil {
		t.Fatal(err)
	}
	return rows, txs
}

// TestHeldCopyGathersBatches: the postgres guest copies the batches of a
// table that come back to back into one COPY statement and transaction;
// they count as held until it commits, then as written, whole batches.
func TestHeldCopyGathersBatches(t *testing.T) {
	ran, fin, conn := heldSync(t, nil, input("users", users("users", 0, 7), users("users", 7, 7), users("users", 14, 9)))
	if ran[0].Held != 23 || ran[0].Rows != 0 {
		t.Errorf("after the run: %d rows held and %d written, want 23 held until the COPY commits at close", ran[0].Held, ran[0].Rows)
	}
	if st := fin[0]; st.Rows != 23 || st.Held != 0 || st.Batches != 5 || st.Err != nil {
		t.Errorf("finished: %+v, want 23 rows written in 5 batches", st)
	}
	if rows, txs := transactions(t, conn, "users"); rows != 23 || txs != 1 {
		t.Errorf("%d rows in %d transactions, want 23 in 1", rows, txs)
	}
}

// TestHeldCopyEachBatchDurable: with copy_transaction_bytes 0 every batch
// is its own COPY and transaction; with 1, every batch fills the held COPY
// and commits it. Either way each batch is durable when its write returns.
func TestHeldCopyEachBatchDurable(t *testing.T) {
	for _, limit := range []int{0, 1} {
		ran, _, conn := heldSync(t, map[string]any{"copy_transaction_bytes": limit}, input("users", users("users", 0, 23)))
		if ran[0].Held != 0 || ran[0].Rows != 23 {
			t.Errorf("copy_transaction_bytes %d: after the run %d rows held and %d written, want all 23 written", limit, ran[0].Held, ran[0].Rows)
		}
		if rows, txs := transactions(t, conn, "users"); rows != 23 || txs != 5 {
			t.Errorf("copy_transaction_bytes %d: %d rows in %d transactions, want 23 in 5", limit, rows, txs)
		}
	}
}

// TestHeldCopyOtherTable: a batch of another table commits the held COPY
// first, and its write says so (abi.WriteResult.Durable): the first table's
// rows count as written before the sync finishes.
func TestHeldCopyOtherTable(t *testing.T) {
	ran, fin, conn := heldSync(t, nil, input("a", users("a", 0, 12)), input("b", users("b", 0, 8)))
	byTable := func(sts []syncer.TableStats) map[string]syncer.TableStats {
		m := map[string]syncer.TableStats{}
		for _, st := range sts {
			m[st.Table] = st
		}
		return m
	}
	r, f := byTable(ran), byTable(fin)
	if r["a"].Rows != 12 || r["a"].Held != 0 || r["a"].Batches != 3 {
		t.Errorf("after the run, table a: %+v, want 12 rows written in 3 batches (committed when b came)", r["a"])
	}
	if r["b"].Held != 8 {
		t.Errorf("after the run, table b: %+v, want 8 rows held", r["b"])
	}
	if f["b"].Rows != 8 || f["b"].Held != 0 || f["b"].Batches != 2 {
		t.Errorf("finished, table b: %+v, want 8 rows written in 2 batches", f["b"])
	}
	for _, tc := range []struct {
		table string
		rows  int
	}{{"a", 12}, {"b", 8}} {
		if rows, txs := transactions(t, conn, tc.table); rows != tc.rows || txs != 1 {
			t.Errorf("table %s: %d rows in %d transactions, want %d in 1", tc.table, rows, txs, tc.rows)
		}
	}
}

// TestHeldRowsOfATrappedInstanceAreLost: rows an instance held (reported
// held, not yet durable) are lost when it traps and the pool discards it:
// the stats say so and never count them as written, even though the other
// instances finish without error.
func TestHeldRowsOfATrappedInstanceAreLost(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) { d.WriteMode = abi.WriteModeAppend },
		map[string]any{"batch_size": 4, "hold": true, "fail": map[string]any{"write": "panic"}, "after": 2})
	sy := syncer.New(env, []*syncer.Destination{d})
	err := sy.Run(context.Background(), []syncer.Input{input("users", users("users", 0, 20))})
	if err == nil || !strings.Contains(err.Error(), "panic in write") {
		t.Fatalf("got %v, want the third write's panic", err)
	}
	if err := sy.Finish(context.Background()); err != nil {
		t.Fatalf("finish: %v (the instances left did not fail)", err)
	}
	st := sy.Stats()[0]
	if st.Rows != 0 || st.Held != 0 || st.Err == nil {
		t.Fatalf("stats %+v, want no row written or held, and an error", st)
	}
	if !strings.Contains(fmt.Sprint(st.Err), "8 rows of earlier batches are lost") {
		t.Errorf("error %v, want the 8 held rows lost", st.Err)
	}
}
