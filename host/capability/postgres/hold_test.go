package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/host/capability/postgres"
)

// countHC counts the rows of hc that match where, as another session sees
// them (committed rows only).
func countHC(t *testing.T, db *pgxpool.Pool, where string) int {
	t.Helper()
	return countIn(t, db, "hc", where)
}

// TestCopyHold: batch COPYs with hold, in separate write operations, go
// into one COPY statement: nothing is visible until pg_copy_end commits
// it, then every row is, all with the same transaction id (xmin). While a
// COPY is held, other COPYs and a held COPY of other SQL are refused.
func TestCopyHold(t *testing.T) {
	defer postgres.SetHeldCopyIdle(time.Hour)()
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{1, 2, 3})
	if err := batchScenario(p, "hold held=3", s, recs); err != nil {
		t.Fatal(err)
	}
	s, recs = batchRecords(t, []int32{4, 5}, []int32{6})
	if err := batchScenario(p, "hold held=6", s, recs); err != nil {
		t.Fatal(err)
	}
	if n := countHC(t, db, "true"); n != 0 {
		t.Fatalf("%d rows visible while the COPY is held, want 0", n)
	}
	if err := batchScenario(p, "hold-other", s, recs); err != nil {
		t.Fatal(err)
	}
	if err := batchScenario(p, "hold-end held=6", s, recs); err != nil {
		t.Fatal(err)
	}
	if n := countHC(t, db, "i BETWEEN 1 AND 6"); n != 6 {
		t.Fatalf("%d rows after pg_copy_end, want 6", n)
	}
	var xmins int
	if err := db.QueryRow(context.Background(), "SELECT count(DISTINCT xmin::text) FROM hc").Scan(&xmins); err != nil {
		t.Fatal(err)
	}
	if xmins != 1 {
		t.Fatalf("the rows of three batches came in %d transactions, want 1", xmins)
	}
}

// TestCopyHoldIdleCommit: a held COPY no operation continues is committed
// by the host; the next held COPY reports the rows it committed.
func TestCopyHoldIdleCommit(t *testing.T) {
	defer postgres.SetHeldCopyIdle(100 * time.Millisecond)()
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{10, 11, 12})
	if err := batchScenario(p, "hold held=3", s, recs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for countHC(t, db, "i BETWEEN 10 AND 12") != 3 {
		if time.Now().After(deadline) {
			t.Fatal("the idle held COPY was not committed within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s, recs = batchRecords(t, []int32{13})
	if err := batchScenario(p, "hold held=1 committed=3", s, recs); err != nil {
		t.Fatal(err)
	}
	if err := batchScenario(p, "hold-end held=1", s, recs); err != nil {
		t.Fatal(err)
	}
	if n := countHC(t, db, "i BETWEEN 10 AND 13"); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
}

// TestCopyHoldAbortedWhenInstanceEnds: a held COPY the guest never ends is
// aborted when its instance ends, whether the guest trapped or the pool
// closed it: nothing of it is stored.
func TestCopyHoldAbortedWhenInstanceEnds(t *testing.T) {
	defer postgres.SetHeldCopyIdle(time.Hour)()
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{20, 21})
	if err := batchScenario(p, "hold-then-panic", s, recs); err == nil || !strings.Contains(err.Error(), "crash while holding") {
		t.Fatalf("got %v, want the guest's panic", err)
	}
	s, recs = batchRecords(t, []int32{22, 23, 24})
	if err := batchScenario(p, "hold held=3", s, recs); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countHC(t, db, "i BETWEEN 20 AND 24"); n != 0 {
		t.Fatalf("%d rows of held COPYs that were never ended, want 0", n)
	}
	var copies int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'COPY hc%' AND state <> 'idle'`).Scan(&copies); err != nil {
		t.Fatal(err)
	}
	if copies != 0 {
		t.Fatalf("%d COPYs still running, want 0", copies)
	}
}

// TestCopyHoldRefusedValue: a value the server refuses in a later batch
// aborts the held COPY (its error comes with that batch or with
// pg_copy_end, as the server reads the data), and the error says the held
// rows are lost; nothing of it is stored.
func TestCopyHoldRefusedValue(t *testing.T) {
	defer postgres.SetHeldCopyIdle(time.Hour)()
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{30, 31})
	if err := batchScenario(p, "hold held=2", s, recs); err != nil {
		t.Fatal(err)
	}
	s, recs = batchRecords(t, []int32{32, 2000000})
	err := batchScenario(p, "hold-fail", s, recs)
	if err == nil || !strings.Contains(err.Error(), "are lost") || !strings.Contains(err.Error(), "sqlstate=23514") {
		t.Fatalf("got %v, want the check violation and the held rows lost", err)
	}
	if n := countHC(t, db, "i BETWEEN 30 AND 32"); n != 0 {
		t.Fatalf("%d rows stored of the aborted COPY, want 0", n)
	}
	// The instance holds nothing now: a new held COPY begins.
	s, recs = batchRecords(t, []int32{33})
	if err := batchScenario(p, "hold held=1", s, recs); err != nil {
		t.Fatal(err)
	}
	if err := batchScenario(p, "hold-end held=1", s, recs); err != nil {
		t.Fatal(err)
	}
	if n := countHC(t, db, "i = 33"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}
