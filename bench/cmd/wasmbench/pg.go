package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
)

// pgdb is the benchmark's database and a connection for housekeeping.
type pgdb struct {
	url  string
	conn *pgx.Conn
}

func (p *pgdb) exec(ctx context.Context, sql string, args ...any) error {
	_, err := p.conn.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", strings.SplitN(sql, "\n", 2)[0], err)
	}
	return nil
}

func (p *pgdb) count(ctx context.Context) (int64, error) {
	var n int64
	err := p.conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// settle makes the server's state the same before every timed run: no
// dirty buffers left to write, statistics fresh, no autovacuum running into
// the measurement.
func (p *pgdb) settle(ctx context.Context) error {
	for _, sql := range []string{"VACUUM ANALYZE " + table, "CHECKPOINT"} {
		if err := p.exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// noAutovacuum keeps autovacuum off the table, so it never runs during a
// measurement (settle vacuums before each).
func (p *pgdb) noAutovacuum(ctx context.Context) error {
	return p.exec(ctx, "ALTER TABLE "+table+" SET (autovacuum_enabled = off)")
}

// preload copies generated rows [from, to) of an earlier sync (seed 2,
// sync time t0) into the table.
func (p *pgdb) preload(ctx context.Context, cols []string, from, to int, o syncOpts) error {
	return p.preloadAt(ctx, cols, from, to, o, o.t0)
}

// preloadAt copies generated rows [from, to) (seed 2) of a sync at time at
// into the table.
func (p *pgdb) preloadAt(ctx context.Context, cols []string, from, to int, o syncOpts, at time.Time) error {
	src, err := newRowSource(gen{seed: 2}, o.schema(abi.WriteModeAppend, at), from, to)
	if err != nil {
		return err
	}
	_, err = p.conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	return err
}

// chunks splits rows into batches of genBatch rows.
func chunks(rows [][]any) [][][]any {
	var out [][][]any
	for i := 0; i < len(rows); i += genBatch {
		out = append(out, rows[i:min(i+genBatch, len(rows))])
	}
	return out
}

// parallel runs fn over the batches on conns connections, batches handed
// out in order as connections get free.
func parallel(ctx context.Context, url string, conns int, batches [][][]any, fn func(context.Context, *pgx.Conn, [][]any) error) error {
	cs := make([]*pgx.Conn, conns)
	for i := range cs {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		cs[i] = c
	}
	return timedParallel(ctx, cs, batches, fn)
}

func timedParallel(ctx context.Context, cs []*pgx.Conn, batches [][][]any, fn func(context.Context, *pgx.Conn, [][]any) error) error {
	work := make(chan [][]any)
	errs := make(chan error, len(cs))
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := fn(ctx, c, b); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// copyFrom is the ceiling of appends: pgx CopyFrom (binary COPY) of a batch.
func copyFrom(cols []string) func(context.Context, *pgx.Conn, [][]any) error {
	return func(ctx context.Context, c *pgx.Conn, rows [][]any) error {
		_, err := c.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	}
}

// setCols is "c = excluded.c" for every column but the key.
func setCols(cols []string, key string) string {
	var set []string
	for _, c := range cols {
		if c != key {
			q := pgx.Identifier{c}.Sanitize()
			set = append(set, q+" = excluded."+q)
		}
	}
	return strings.Join(set, ", ")
}

// stagingUpsert is the hand-written upsert: per batch, in one transaction,
// a binary COPY into a temporary staging table and one INSERT ... SELECT
// ... ON CONFLICT DO UPDATE. The staging table is made once per connection.
func stagingUpsert(cols []string) func(context.Context, *pgx.Conn, [][]any) error {
	var list []string
	for _, c := range cols {
		list = append(list, pgx.Identifier{c}.Sanitize())
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM stage ON CONFLICT (id) DO UPDATE SET %s",
		table, strings.Join(list, ", "), strings.Join(list, ", "), setCols(cols, "id"))
	var mu sync.Mutex
	made := map[*pgx.Conn]bool{}
	return func(ctx context.Context, c *pgx.Conn, rows [][]any) error {
		mu.Lock()
		first := !made[c]
		made[c] = true
		mu.Unlock()
		if first {
			if _, err := c.Exec(ctx, "CREATE TEMP TABLE stage (LIKE "+table+") ON COMMIT DELETE ROWS"); err != nil {
				return err
			}
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage"}, cols, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, insert)
			return err
		})
	}
}

// rowUpserts is the reference destination's method: one INSERT ... ON
// CONFLICT DO UPDATE per row, a batch's statements sent as one pgx batch.
func rowUpserts(cols []string) func(context.Context, *pgx.Conn, [][]any) error {
	var list, params []string
	for i, c := range cols {
		list = append(list, pgx.Identifier{c}.Sanitize())
		params = append(params, fmt.Sprintf("$%d", i+1))
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (id) DO UPDATE SET %s",
		table, strings.Join(list, ", "), strings.Join(params, ", "), setCols(cols, "id"))
	return func(ctx context.Context, c *pgx.Conn, rows [][]any) error {
		var b pgx.Batch
		for _, r := range rows {
			b.Queue(insert, r...)
		}
		return c.SendBatch(ctx, &b).Close()
	}
}

// deleteStale is the hand-written delete-stale.
func deleteStale(ctx context.Context, c *pgx.Conn, o syncOpts) error {
	_, err := c.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = $1 AND %s < $2", table,
		pgx.Identifier{abi.ColSourceName}.Sanitize(), pgx.Identifier{abi.ColSyncTime}.Sanitize()),
		o.source, o.t1)
	return err
}

// timeIt runs fn and measures its wall time, this process's CPU and the
// cluster's CPU.
func timeIt(serverPID int, fn func() error) (m measure, err error) {
	db0 := settledClusterCPU(serverPID)
	cpu0, start := selfCPU(), time.Now()
	err = fn()
	m.seconds = time.Since(start).Seconds()
	m.cpu = (selfCPU() - cpu0).Seconds()
	m.dbCPU = (settledClusterCPU(serverPID) - db0).Seconds()
	return m, err
}

type measure struct{ seconds, cpu, dbCPU float64 }
