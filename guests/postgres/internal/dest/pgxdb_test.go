//go:build !wasip1

package dest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// pgxDB is dest.DB on pgx, with the host's semantics (abi/ABI.md section 3,
// host/capability/postgres): parameters and results in text form, several
// statements allowed without arguments, transactions by handle, a COPY
// streamed while the guest encodes it, and *abi.HostError for what the
// server reports.
type pgxDB struct {
	ctx  context.Context
	pool *pgxpool.Pool

	mu   sync.Mutex
	txs  map[int64]*pgxpool.Conn
	next int64
	copy *pgxCopy
}

// pgxCopy is a COPY ... FROM STDIN in progress.
type pgxCopy struct {
	w    *io.PipeWriter
	done chan struct{}
	tag  pgconn.CommandTag
	err  error
}

func newPgxDB(t *testing.T) *pgxDB {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &pgxDB{ctx: ctx, pool: pool, txs: map[int64]*pgxpool.Conn{}}
	t.Cleanup(func() {
		for _, c := range db.txs {
			c.Release()
		}
	})
	return db
}

// hostError is what the host returns for a database error.
func hostError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	return &abi.HostError{Message: pe.Message, SQLState: pe.Code, Detail: pe.Detail, Hint: pe.Hint,
		Table: pe.TableName, Column: pe.ColumnName, Constraint: pe.ConstraintName, Where: pe.Where}
}

// conn returns the connection of tx, or one of the pool for tx 0.
func (db *pgxDB) conn(tx int64) (*pgconn.PgConn, func(), error) {
	if tx != 0 {
		db.mu.Lock()
		c, ok := db.txs[tx]
		db.mu.Unlock()
		if !ok {
			return nil, nil, fmt.Errorf("no transaction %d", tx)
		}
		return c.Conn().PgConn(), func() {}, nil
	}
	c, err := db.pool.Acquire(db.ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.Conn().PgConn(), c.Release, nil
}

// textArgs encodes arguments as the host does: text, typed by the server.
func textArgs(args []any) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		if a != nil {
			out[i] = fmt.Append(nil, a)
		}
	}
	return out
}

func (db *pgxDB) Exec(tx int64, sql string, args ...any) (int64, error) {
	c, release, err := db.conn(tx)
	if err != nil {
		return 0, err
	}
	defer release()
	if len(args) == 0 {
		results, err := c.Exec(db.ctx, sql).ReadAll()
		var n int64
		for _, r := range results {
			n += r.CommandTag.RowsAffected()
		}
		return n, hostError(err)
	}
	tag, err := c.ExecParams(db.ctx, sql, textArgs(args), nil, nil, nil).Close()
	return tag.RowsAffected(), hostError(err)
}

func (db *pgxDB) Query(tx int64, sql string, args ...any) (*abi.PgQueryResult, error) {
	c, release, err := db.conn(tx)
	if err != nil {
		return nil, err
	}
	defer release()
	res := &abi.PgQueryResult{Columns: []string{}, Rows: [][]*string{}}
	rr := c.ExecParams(db.ctx, sql, textArgs(args), nil, nil, nil)
	for _, f := range rr.FieldDescriptions() {
		res.Columns = append(res.Columns, f.Name)
	}
	for rr.NextRow() {
		row := make([]*string, len(rr.Values()))
		for i, v := range rr.Values() {
			if v != nil {
				s := string(v)
				row[i] = &s
			}
		}
		res.Rows = append(res.Rows, row)
	}
	_, err = rr.Close()
	return res, hostError(err)
}

func (db *pgxDB) Begin() (int64, error) {
	c, err := db.pool.Acquire(db.ctx)
	if err != nil {
		return 0, err
	}
	if _, err := c.Exec(db.ctx, "BEGIN"); err != nil {
		c.Release()
		return 0, hostError(err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.next++
	db.txs[db.next] = c
	return db.next, nil
}

func (db *pgxDB) end(tx int64, sql string) error {
	db.mu.Lock()
	c, ok := db.txs[tx]
	delete(db.txs, tx)
	db.mu.Unlock()
	if !ok {
		return fmt.Errorf("no transaction %d", tx)
	}
	defer c.Release()
	tag, err := c.Exec(db.ctx, sql)
	if err == nil && sql == "COMMIT" && tag.String() == "ROLLBACK" {
		return errors.New("the transaction was rolled back: a statement in it failed")
	}
	return hostError(err)
}

func (db *pgxDB) Commit(tx int64) error   { return db.end(tx, "COMMIT") }
func (db *pgxDB) Rollback(tx int64) error { return db.end(tx, "ROLLBACK") }

func (db *pgxDB) copyFrom(tx int64, sql string) error {
	if db.copy != nil {
		return errors.New("a COPY is in progress")
	}
	c, release, err := db.conn(tx)
	if err != nil {
		return err
	}
	r, w := io.Pipe()
	cp := &pgxCopy{w: w, done: make(chan struct{})}
	go func() {
		defer close(cp.done)
		defer release()
		cp.tag, cp.err = c.CopyFrom(db.ctx, r, sql)
		r.CloseWithError(io.ErrClosedPipe) // a failed COPY stops the writer
	}()
	db.copy = cp
	return nil
}

func (db *pgxDB) copyData(p []byte) error {
	if db.copy == nil {
		return errors.New("no COPY in progress")
	}
	if _, err := db.copy.w.Write(p); err != nil {
		<-db.copy.done
		return hostError(db.copy.err)
	}
	return nil
}

func (db *pgxDB) copyEnd() (int64, error) {
	cp := db.copy
	if cp == nil {
		return 0, errors.New("no COPY in progress")
	}
	db.copy = nil
	cp.w.Close()
	<-cp.done
	return cp.tag.RowsAffected(), hostError(cp.err)
}

// CopyBatch encodes records with the host's encoder (pgbinary.Batch), as
// the host does for a batch COPY, and streams them into the COPY.
func (db *pgxDB) CopyBatch(req abi.PgRequest, records array.RecordReader) (abi.PgCopyBatchResult, error) {
	b, err := pgbinary.NewBatch(records.Schema(), req.Columns, req.Keys, req.Ordinal)
	if err != nil {
		return abi.PgCopyBatchResult{}, fmt.Errorf("bad request: %w", err)
	}
	if err := db.copyFrom(req.Tx, req.SQL); err != nil {
		return abi.PgCopyBatchResult{}, err
	}
	flush := func(p []byte) ([]byte, error) { return p[:0], db.copyData(p) }
	buf := b.Header(nil)
	for records.Next() {
		if buf, err = b.Encode(records.RecordBatch(), buf, 256<<10, flush); err != nil {
			break
		}
	}
	if err == nil {
		_, err = flush(b.Trailer(buf))
	}
	if err != nil {
		cp := db.copy
		db.copy = nil
		cp.w.CloseWithError(errors.New("aborted"))
		<-cp.done
		var re *pgbinary.RowError
		if errors.As(err, &re) {
			return abi.PgCopyBatchResult{}, &abi.HostError{Message: "pg_copy_from: " + re.Error(), Column: re.Column, Where: fmt.Sprintf("row %d of the batch", re.Row+1)}
		}
		return abi.PgCopyBatchResult{}, err
	}
	n, err := db.copyEnd()
	return abi.PgCopyBatchResult{Rows: n, DuplicateKeys: b.Duplicates()}, err
}

func (db *pgxDB) CopyTo(tx int64, sql string) ([]byte, error) {
	c, release, err := db.conn(tx)
	if err != nil {
		return nil, err
	}
	defer release()
	var b strings.Builder
	_, err = c.CopyTo(db.ctx, &b, sql)
	return []byte(b.String()), hostError(err)
}

// rawSQL runs a query returning one text column on the test's own
// connection and returns its values.
func (db *pgxDB) rawSQL(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := db.pool.Query(db.ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
