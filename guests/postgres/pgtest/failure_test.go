//go:build !wasip1

package pgtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// bulkRecords makes n rows of (id, payload) in records of 10,000 rows, with
// the internal columns.
func bulkRecords(t testing.TB, table string, pk bool, n int, o schema.Options) []arrow.RecordBatch {
	t.Helper()
	id := field("id", arrow.PrimitiveTypes.Int64, false)
	if pk {
		id = idPK
	}
	s := sourceSchema(table, id, field("payload", arrow.BinaryTypes.String, true))
	var recs []arrow.RecordBatch
	payload := strings.Repeat("p", 100)
	for from := 0; from < n; from += 10000 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for i := from; i < min(from+10000, n); i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(payload)
		}
		recs = append(recs, withInternal(t, b.NewRecordBatch(), o))
		b.Release()
	}
	return recs
}

// waitForCopy waits until a COPY into the env's database is running and
// returns its backend's pid.
func waitForCopy(ctx context.Context, url string) (int, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	for {
		var pid int
		err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active'
			AND query LIKE 'COPY %FROM STDIN%' LIMIT 1`, cfg.Database).Scan(&pid)
		if err == nil {
			return pid, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestServerGoesAwayMidBatch: the server ends the session (or shuts down)
// while a batch is being copied. The write fails with a clear error,
// nothing of the batch is stored, and writing it again succeeds.
func TestServerGoesAwayMidBatch(t *testing.T) {
	for _, how := range []string{"terminate", "stop"} {
		for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
			t.Run(how+"/"+string(mode), func(t *testing.T) {
				if how == "stop" {
					// Stopping needs the harness's own server (it skips,
					// saying so, under WASMDEST_TEST_PG_URL).
					testenv.StartPostgres(t)
				}
				e := newEnv(t, envConfig{opts: optsFor(mode)})
				recs := bulkRecords(t, "gone", mode != abi.WriteModeAppend, 300000, e.opts)
				e.mustMigrate(recs[0].Schema(), abi.MigrateModeSafe)
				ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
				defer cancel()
				killed := make(chan error, 1)
				go func() {
					pid, err := waitForCopy(ctx, e.url)
					if err != nil {
						killed <- err
						return
					}
					time.Sleep(50 * time.Millisecond) // well into the COPY
					if how == "stop" {
						testenv.StopPostgres(t)
						killed <- nil
						return
					}
					if n := testenv.TerminateBackends(t, e.url); n == 0 {
						killed <- fmt.Errorf("no backend to terminate (COPY pid %d)", pid)
						return
					}
					killed <- nil
				}()
				start := time.Now()
				err := e.write(recs...)
				if kerr := <-killed; kerr != nil {
					t.Fatal(kerr)
				}
				if err == nil {
					t.Fatalf("the write succeeded although the server went away (after %v)", time.Since(start))
				}
				t.Logf("write failed after %v: %v", time.Since(start), err)
				var ce *host.CallError
				if !errors.As(err, &ce) || ce.Trapped || ce.Op != abi.OpWrite {
					t.Fatalf("error %#v: want a CallError of write, not a trap", err)
				}
				if !strings.Contains(err.Error(), `table "gone"`) {
					t.Errorf("error %q does not name the table", err)
				}
				// The server's 57P01 (terminated by an administrator), when
				// it arrives before the socket closes, else a lost connection.
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					if how == "terminate" && pe.Code != "57P01" {
						t.Errorf("error %q: want the server's 57P01 (admin shutdown)", err)
					}
				} else if !strings.Contains(err.Error(), "the connection to the database was lost") {
					t.Errorf("error %q: want the server's error or a lost connection", err)
				}
				if how == "stop" {
					testenv.StartPostgres(t)
				}
				e.reconnect() // the test's own session went away too
				if n := e.count("gone"); n != 0 {
					t.Fatalf("%d rows of the failed batch are stored, want none", n)
				}
				// The same pool (and instance) writes the batch again.
				e.mustWrite(recs...)
				if n := e.count("gone"); n != 300000 {
					t.Fatalf("%d rows after the rerun, want 300000", n)
				}
			})
		}
	}
}

// reconnect replaces the env's own connection after a server restart.
func (e *env) reconnect() {
	e.t.Helper()
	conn, err := pgx.Connect(e.ctx, e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	old := e.raw
	e.raw = conn
	old.Close(e.ctx)
	e.t.Cleanup(func() { conn.Close(context.Background()) })
}

// TestGuestTrapMidBatchLeavesNothing: the guest dies (out of memory) in the
// middle of a batch whose first rows already reached the server; the host
// aborts the COPY and rolls back the transaction, so nothing is stored.
func TestGuestTrapMidBatchLeavesNothing(t *testing.T) {
	for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode), memLimit: 64 << 20})
			small := bulkRecords(t, "trap", mode != abi.WriteModeAppend, 20000, e.opts)
			// Then a record with one 40 MiB value: decoding it and
			// encoding it do not fit in 64 MiB.
			big := bulkRecords(t, "trap", mode != abi.WriteModeAppend, 1, e.opts)[0]
			b := array.NewRecordBuilder(memory.DefaultAllocator, big.Schema())
			b.Field(0).AppendNull() // _cq_sync_time
			b.Field(1).(*array.StringBuilder).Append("x")
			b.Field(2).(*array.Int64Builder).Append(-1)
			b.Field(3).(*array.StringBuilder).Append(strings.Repeat("y", 40<<20))
			huge := b.NewRecordBatch()
			e.mustMigrate(big.Schema(), abi.MigrateModeSafe)
			err := e.write(append(small, huge)...)
			var ce *host.CallError
			if !errors.As(err, &ce) || !ce.Trapped || !strings.Contains(err.Error(), "out of memory") {
				t.Fatalf("got %v, want the guest to run out of memory", err)
			}
			if n := e.count("trap"); n != 0 {
				t.Fatalf("%d rows of the batch the guest died in are stored, want none", n)
			}
			if open := e.query(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`); open[0][0].(int64) != 0 {
				t.Errorf("%v sessions left idle in a transaction", open[0][0])
			}
			e.mustWrite(small...)
			if n := e.count("trap"); n != 20000 {
				t.Fatalf("%d rows after the rerun in a new instance, want 20000", n)
			}
		})
	}
}

// TestCancelMidBatch: the caller's context ends during a COPY; the write
// stops, nothing is stored, and the next write works.
func TestCancelMidBatch(t *testing.T) {
	for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode)})
			recs := bulkRecords(t, "cancel", mode != abi.WriteModeAppend, 300000, e.opts)
			e.mustMigrate(recs[0].Schema(), abi.MigrateModeSafe)
			ctx, cancel := context.WithCancel(e.ctx)
			go func() {
				if _, err := waitForCopy(ctx, e.url); err == nil {
					time.Sleep(50 * time.Millisecond)
				}
				cancel()
			}()
			err := e.pool.Call(ctx, nil, abi.OpWrite, abi.TableRequest{Table: "cancel"}, host.RecordBody(recs[0].Schema(), recs...), nil)
			if err == nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want the write cancelled", err)
			}
			t.Logf("cancelled: %v", err)
			if n := e.count("cancel"); n != 0 {
				t.Fatalf("%d rows of the cancelled batch are stored, want none", n)
			}
			e.mustWrite(recs...)
			if n := e.count("cancel"); n != 300000 {
				t.Fatalf("%d rows after the rerun, want 300000", n)
			}
		})
	}
}
