package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
)

// recordSource is the rows of a load, read from the guest's Arrow IPC stream.
type recordSource = array.RecordReader

// load is a bulk load in progress: a goroutine runs the load's statement
// and reads what sql_load_data writes into the pipe.
type load struct {
	tx int64 // 0 when the load has a transaction of its own
	// own is the connection of a load with its own transaction.
	own  *sql.Conn
	pw   *io.PipeWriter
	done chan struct{}
	n    int64 // valid after done
	err  error // valid after done
	// aborted is set when the host ends the load (abort).
	aborted atomic.Bool
	// batch is set for a batch load, done when sql_load returns.
	batch bool
}

var errLoadAborted = errors.New("load aborted by the host: the guest's operation ended before sql_load_end")

// finish waits for the load to end and returns the rows loaded.
func (l *load) finish() (int64, error) {
	<-l.done
	return l.n, l.err
}

// abort ends an unfinished load; whatever it loaded is rolled back (its own
// transaction here, the guest's when the operation ends).
func (l *load) abort() {
	l.aborted.Store(true)
	l.pw.CloseWithError(errLoadAborted)
	<-l.done
}

// LoadBegin starts the bulk load of req; the rows follow with LoadData. A
// batch load (req.Batch) is LoadRecords'.
func (s *Session) LoadBegin(ctx context.Context, req abi.SQLLoadRequest) error {
	const fn = abi.ImportSQLLoad
	if req.Batch {
		return s.fail(ctx, fn, errors.New("bad request: a batch load loads the records of a running write operation, and this operation has none: send the rows with sql_load_data instead"))
	}
	l, conn, err := s.startLoad(ctx, req)
	if err != nil {
		return s.fail(ctx, fn, err)
	}
	pr, pw := io.Pipe()
	l.pw = pw
	go func() {
		defer close(l.done)
		l.n, l.err = s.runLoad(ctx, conn, req, pr)
		s.endOwn(ctx, l)
		// Unblock a sql_load_data still writing, with the reason.
		if l.err != nil {
			pr.CloseWithError(l.err)
		} else {
			pr.CloseWithError(errors.New("the load has ended"))
		}
	}()
	s.load = l
	return nil
}

// LoadRecords runs the whole bulk load of req (a batch load) on recs, of
// schema: the records of the running write operation, by reference. LoadEnd
// then ends it and returns the rows loaded.
func (s *Session) LoadRecords(ctx context.Context, req abi.SQLLoadRequest, schema *arrow.Schema, recs []arrow.RecordBatch) error {
	const fn = abi.ImportSQLLoad
	if err := checkEncodings(req, schema); err != nil {
		return s.fail(ctx, fn, err)
	}
	l, conn, err := s.startLoad(ctx, req)
	if err != nil {
		return s.fail(ctx, fn, err)
	}
	_, l.pw = io.Pipe()
	l.batch = true
	l.n, l.err = s.loadEncoded(ctx, conn, req, schema, recs)
	s.endOwn(ctx, l)
	close(l.done)
	if l.err != nil {
		return s.fail(ctx, fn, l.err)
	}
	s.load = l
	return nil
}

// startLoad checks req and returns its load and the connection it runs on.
func (s *Session) startLoad(ctx context.Context, req abi.SQLLoadRequest) (*load, *sql.Conn, error) {
	if s.load != nil {
		return nil, nil, errors.New("a load is already in progress: one at a time per instance")
	}
	if req.SQL == "" {
		return nil, nil, errors.New("bad request: no sql")
	}
	d := s.db.driver
	if !slices.Contains(d.methods, req.Method) {
		return nil, nil, fmt.Errorf("bad request: load method %q is not one of driver %s's: %s", req.Method, d.name, strings.Join(d.methods, ", "))
	}
	if req.Method != abi.SQLLoadRows && !strings.Contains(req.SQL, abi.SQLLoadSource) {
		return nil, nil, fmt.Errorf("bad request: a %s load's sql reads its rows from %s, which it does not name", req.Method, abi.SQLLoadSource)
	}
	l := &load{tx: req.Tx, done: make(chan struct{})}
	if req.Tx != 0 {
		c, ok := s.txs[req.Tx]
		if !ok {
			return nil, nil, errNoTx(req.Tx)
		}
		return l, c, nil
	}
	c, err := s.db.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.ExecContext(ctx, d.begin()); err != nil {
		c.Close()
		return nil, nil, err
	}
	l.own = c
	return l, c, nil
}

// endOwn commits the transaction of a load that has its own, or rolls it
// back when the load failed.
func (s *Session) endOwn(ctx context.Context, l *load) {
	if l.own == nil {
		return
	}
	if l.err == nil {
		if _, err := l.own.ExecContext(ctx, "COMMIT"); err != nil {
			l.err = fmt.Errorf("commit: %w", err)
		}
	}
	if l.err != nil {
		s.rollback(context.WithoutCancel(ctx), l.own)
	}
	l.own.Close()
}

// runLoad reads the Arrow IPC stream from r and loads its rows by the
// request's method.
func (s *Session) runLoad(ctx context.Context, conn *sql.Conn, req abi.SQLLoadRequest, r io.Reader) (int64, error) {
	// Read the stream to its end when done, so that the writer is never
	// left blocked.
	defer io.Copy(io.Discard, r)
	rdr, err := ipc.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("read the rows (an Arrow IPC stream): %w", err)
	}
	defer rdr.Release()
	if len(req.Encodings) == 0 && len(req.LastOfKeys) == 0 {
		n, err := s.loadBy(ctx, conn, req, rdr)
		if err == nil {
			err = rdr.Err()
		}
		return n, err
	}
	// Encodings and last_of_keys take the whole stream first.
	if err := checkEncodings(req, rdr.Schema()); err != nil {
		return 0, err
	}
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		return 0, fmt.Errorf("read the rows (an Arrow IPC stream): %w", err)
	}
	return s.loadEncoded(ctx, conn, req, rdr.Schema(), recs)
}

// loadEncoded loads recs, of schema, after req's encodings and last_of_keys.
func (s *Session) loadEncoded(ctx context.Context, conn *sql.Conn, req abi.SQLLoadRequest, schema *arrow.Schema, recs []arrow.RecordBatch) (int64, error) {
	encoded, out, err := encodeRecords(req, schema, recs)
	if err != nil {
		return 0, err
	}
	rdr, err := array.NewRecordReader(out, encoded)
	for _, r := range encoded {
		r.Release()
	}
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	return s.loadBy(ctx, conn, req, rdr)
}

// loadBy loads rdr's rows by the request's method.
func (s *Session) loadBy(ctx context.Context, conn *sql.Conn, req abi.SQLLoadRequest, rdr recordSource) (int64, error) {
	switch req.Method {
	case abi.SQLLoadRows:
		return loadRows(ctx, conn, req.SQL, rdr, s.db.driver.file)
	case abi.SQLLoadInfile:
		return loadInfile(ctx, conn, req.SQL, rdr)
	case abi.SQLLoadArrow:
		return s.db.driver.loadArrow(ctx, conn, req.SQL, rdr)
	}
	return 0, fmt.Errorf("bad request: load method %q", req.Method)
}

// LoadData passes p, any part of the load's Arrow IPC stream, on to the
// load before it returns.
func (s *Session) LoadData(ctx context.Context, p []byte) error {
	const fn = abi.ImportSQLLoadData
	l := s.load
	if l == nil {
		return s.fail(ctx, fn, errors.New("no load in progress: start one with sql_load"))
	}
	if l.batch {
		return s.fail(ctx, fn, errors.New("bad request: a batch load takes no rows of the guest's: end it with sql_load_end"))
	}
	if _, err := l.pw.Write(p); err != nil {
		s.load = nil
		_, lerr := l.finish()
		if lerr == nil {
			lerr = err
		}
		return s.fail(ctx, fn, lerr)
	}
	return nil
}

// LoadEnd ends the load and returns the rows loaded. A load with its own
// transaction is committed now.
func (s *Session) LoadEnd(ctx context.Context) (int64, error) {
	const fn = abi.ImportSQLLoadEnd
	l := s.load
	if l == nil {
		return 0, s.fail(ctx, fn, errors.New("no load in progress: start one with sql_load"))
	}
	s.load = nil
	l.pw.Close()
	n, err := l.finish()
	if err != nil {
		return 0, s.fail(ctx, fn, err)
	}
	return n, nil
}

// loadRows runs the prepared statement once per row, binding each column.
// With local (a file database, which never waits on a network), each row's
// statement runs without the context's cancellation and the context is
// checked between rows instead: modernc.org/sqlite starts a goroutine per
// statement to watch a cancellable context, which cost more CPU than the
// insert itself in profiles of a bulk load.
func loadRows(ctx context.Context, conn *sql.Conn, query string, rdr recordSource, local bool) (int64, error) {
	stmt, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	execCtx := ctx
	if local {
		execCtx = context.WithoutCancel(ctx)
	}
	var n int64
	for rdr.Next() {
		rec := rdr.RecordBatch()
		binders := make([]func(int) any, rec.NumCols())
		for j, col := range rec.Columns() {
			if binders[j], err = binder(col); err != nil {
				return n, fmt.Errorf("column %q: %w", rec.ColumnName(j), err)
			}
		}
		args := make([]any, len(binders))
		for i := 0; i < int(rec.NumRows()); i++ {
			for j, b := range binders {
				args[j] = b(i)
			}
			if local {
				if err := ctx.Err(); err != nil {
					return n, err
				}
			}
			if _, err := stmt.ExecContext(execCtx, args...); err != nil {
				return n, &RowError{Row: n, Err: err}
			}
			n++
		}
	}
	return n, nil
}

// RowError is an error about one row of a load; Row counts from 0 across
// the load's record batches.
type RowError struct {
	Row int64
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d of the load: %v", e.Row, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }
