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

// midBatchHold makes the next write of a table stop, deterministically, in
// the middle of writing its rows: a row trigger on the table takes an
// advisory lock when row 150000 arrives (during the COPY into the table when
// appending, during the INSERT from the staging table when upserting), and a
// session of the test holds that lock. The write waits there until that
// session ends (terminated, the server stopped, or free called).
type midBatchHold struct {
	e      *env
	table  string
	conn   *pgx.Conn
	holder int // the holding session's pid
}

func holdMidBatch(e *env, table string) *midBatchHold {
	e.t.Helper()
	const key = 15000042
	conn, err := pgx.Connect(e.ctx, e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	h := &midBatchHold{e: e, table: table, conn: conn}
	stmts := []string{
		fmt.Sprintf(`CREATE FUNCTION hold_mid_batch() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM pg_advisory_xact_lock(%d); RETURN NEW; END $$`, key),
		fmt.Sprintf(`CREATE TRIGGER hold_mid_batch BEFORE INSERT ON %s FOR EACH ROW
			WHEN (NEW.id = 150000) EXECUTE FUNCTION hold_mid_batch()`, pgx.Identifier{table}.Sanitize()),
	}
	for _, q := range stmts {
		if _, err := conn.Exec(e.ctx, q); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
	err = conn.QueryRow(e.ctx, fmt.Sprintf(`SELECT pg_backend_pid() FROM pg_advisory_lock(%d)`, key)).Scan(&h.holder)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// free ends the holding session (if it is still there), letting the write
// go on.
func (h *midBatchHold) free() { h.conn.Close(context.Background()) }

// release frees the write, reconnects the test's own session (which a
// terminate or a restart ended too) and drops the trigger.
func (h *midBatchHold) release() {
	h.e.t.Helper()
	h.free()
	h.e.reconnect()
	if _, err := h.e.raw.Exec(h.e.ctx, fmt.Sprintf(`DROP TRIGGER hold_mid_batch ON %s`, pgx.Identifier{h.table}.Sanitize())); err != nil {
		h.e.t.Fatal(err)
	}
}

// wait waits until a session of the env's database waits for the hold, and
// checks that it is writing the rows of a batch with mode's statement.
func (h *midBatchHold) wait(ctx context.Context, mode abi.WriteMode) error {
	query, err := waitHeld(ctx, h.e.url, h.holder)
	if err != nil {
		return err
	}
	// The COPY into the table when appending, the INSERT from the staging
	// table when upserting.
	want := "INSERT INTO "
	if mode == abi.WriteModeAppend {
		want = "COPY "
	}
	if !strings.HasPrefix(query, want) {
		return fmt.Errorf("the session waiting mid-batch runs %q, want %s...", query, want)
	}
	return nil
}

// waitHeld waits until a session of the env's database waits for holder's
// lock, and returns that session's statement.
func waitHeld(ctx context.Context, url string, holder int) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	for {
		var query string
		err := conn.QueryRow(ctx, `SELECT query FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid)) LIMIT 1`, holder).Scan(&query)
		if err == nil {
			return query, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
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
				hold := holdMidBatch(e, "gone")
				killed := make(chan error, 1)
				go func() {
					if err := hold.wait(ctx, mode); err != nil {
						hold.free()
						killed <- err
						return
					}
					if how == "stop" {
						testenv.StopPostgres(t)
						killed <- nil
						return
					}
					// The write's session, the holder and the test's own.
					if n := testenv.TerminateBackends(t, e.url); n < 2 {
						killed <- fmt.Errorf("%d backends terminated, want the write's and the holder's", n)
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
				hold.release()
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

// TestBatchLargerThanGuestMemory: a batch with a 40 MiB value is written by
// a guest whose memory is capped at 64 MiB, which decoding and encoding the
// batch in the guest did not fit in (the guest trapped mid-COPY): the host
// encodes the batch by reference (pg_copy_from with batch), and the guest
// never holds its rows. That a guest dying while its COPY or transaction is
// open leaves nothing stored is the host's guarantee, tested with a guest
// that dies there on purpose (host/capability/postgres,
// TestPgOperationEndCleansUp: panic-in-tx, exit-in-tx, leave-copy-open).
func TestBatchLargerThanGuestMemory(t *testing.T) {
	for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode), memLimit: 64 << 20})
			small := bulkRecords(t, "big", mode != abi.WriteModeAppend, 20000, e.opts)
			// Then a record with one 40 MiB value.
			big := bulkRecords(t, "big", mode != abi.WriteModeAppend, 1, e.opts)[0]
			b := array.NewRecordBuilder(memory.DefaultAllocator, big.Schema())
			b.Field(0).AppendNull() // _cq_sync_time
			b.Field(1).(*array.StringBuilder).Append("x")
			b.Field(2).(*array.Int64Builder).Append(-1)
			b.Field(3).(*array.StringBuilder).Append(strings.Repeat("y", 40<<20))
			huge := b.NewRecordBatch()
			e.mustMigrate(big.Schema(), abi.MigrateModeSafe)
			e.mustWrite(append(small, huge)...)
			if n := e.count("big"); n != 20001 {
				t.Fatalf("%d rows stored, want 20001", n)
			}
			if n := e.query(`SELECT length(payload) FROM big WHERE length(payload) > 1000`); len(n) != 1 || n[0][0].(int32) != 40<<20 {
				t.Fatalf("the big value: %v, want one of %d bytes", n, 40<<20)
			}
			if open := e.query(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`); open[0][0].(int64) != 0 {
				t.Errorf("%v sessions left idle in a transaction", open[0][0])
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
			hold := holdMidBatch(e, "cancel")
			ctx, cancel := context.WithCancel(e.ctx)
			waited := make(chan error, 1)
			go func() {
				waited <- hold.wait(ctx, mode)
				cancel()
			}()
			err := e.pool.Call(ctx, nil, abi.OpWrite, abi.TableRequest{Table: "cancel"}, host.RecordBody(recs[0].Schema(), recs...), nil)
			if err == nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want the write cancelled", err)
			}
			if werr := <-waited; werr != nil {
				t.Fatal(werr)
			}
			t.Logf("cancelled: %v", err)
			hold.release()
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
