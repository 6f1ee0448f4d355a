package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/host/capability/postgres"
)

// copyChunks and copyChunkBytes are what pgprobe's copy-many-chunks and
// copy-bad-mid scenarios send.
const (
	copyChunks     = 64
	copyChunkBytes = 256 << 10
)

// TestCopyQueueIsBounded: a guest that sends many chunks while the server
// waits for a lock fills the host's COPY queue to its bound and no further
// (pg_copy_data waits), and everything arrives once the lock is released.
func TestCopyQueueIsBounded(t *testing.T) {
	if copyChunks*copyChunkBytes < 8*postgres.CopyQueueBytes {
		t.Fatal("the scenario sends too little to fill the queue and the socket buffers")
	}
	p, db := probePool(t)
	ctx := context.Background()
	lock, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, "LOCK TABLE c IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	postgres.ResetCopyQueueHighWater()
	done := make(chan error, 1)
	go func() { done <- scenario(p, "copy-many-chunks") }()
	// Wait (not a timing assertion: the deadline only stops a hung test)
	// until the queue is full, which it must become while the server
	// reads nothing.
	deadline := time.Now().Add(2 * time.Minute)
	for postgres.CopyQueueHighWater() < postgres.CopyQueueBytes {
		select {
		case err := <-done:
			t.Fatalf("the COPY ended while the table was locked: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue never filled: high-water mark %d of %d bytes", postgres.CopyQueueHighWater(), postgres.CopyQueueBytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var waiting int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'COPY c%' AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 1 {
		t.Fatalf("%d COPYs waiting for the lock, want 1", waiting)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if hw := postgres.CopyQueueHighWater(); hw > postgres.CopyQueueBytes {
		t.Fatalf("the queue held %d bytes, more than its bound of %d", hw, postgres.CopyQueueBytes)
	}
	if n := count(t, db, "i >= 200000"); n == 0 {
		t.Fatal("nothing copied")
	}
}

// TestCopyErrorMidPipeline: a value the server refuses in the third of many
// chunks fails the COPY with the server's fields (SQLSTATE, the row in
// Where), reported by a later pg_copy_data or by pg_copy_end, and nothing of
// the COPY is stored.
func TestCopyErrorMidPipeline(t *testing.T) {
	p, db := probePool(t)
	err := scenario(p, "copy-bad-mid")
	if err == nil {
		t.Fatal("the bad value was accepted")
	}
	for _, w := range []string{"sqlstate=22P02", `invalid input syntax for type integer: \"not a number\"`, `where="COPY c, line `} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if n := count(t, db, "i >= 300000"); n != 0 {
		t.Fatalf("%d rows of the failed COPY are stored", n)
	}
	// The instance and its connections are usable again.
	if err := scenario(p, "copy"); err != nil {
		t.Fatal(err)
	}
	if st := db.Stat(); st.AcquiredConns() != 0 {
		t.Fatalf("%d pool connections still acquired", st.AcquiredConns())
	}
}
