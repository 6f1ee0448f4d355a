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

// LoadBegin starts the bulk load of req; the rows follow with LoadData.
func (s *Session) LoadBegin(ctx context.Context, req abi.SQLLoadRequest) error {
	const fn = abi.ImportSQLLoad
	if s.load != nil {
		return s.fail(ctx, fn, errors.New("a load is already in progress: one at a time per instance"))
	}
	if req.SQL == "" {
		return s.fail(ctx, fn, errors.New("bad request: no sql"))
	}
	d := s.db.driver
	if !slices.Contains(d.methods, req.Method) {
		return s.fail(ctx, fn, fmt.Errorf("bad request: load method %q is not one of driver %s's: %s", req.Method, d.name, strings.Join(d.methods, ", ")))
	}
	if req.Method != abi.SQLLoadRows && !strings.Contains(req.SQL, abi.SQLLoadSource) {
		return s.fail(ctx, fn, fmt.Errorf("bad request: a %s load's sql reads its rows from %s, which it does not name", req.Method, abi.SQLLoadSource))
	}
	l := &load{tx: req.Tx, done: make(chan struct{})}
	var conn *sql.Conn
	if req.Tx != 0 {
		c, ok := s.txs[req.Tx]
		if !ok {
			return s.fail(ctx, fn, errNoTx(req.Tx))
		}
		conn = c
	} else {
		c, err := s.db.db.Conn(ctx)
		if err != nil {
			return s.fail(ctx, fn, err)
		}
		if _, err := c.ExecContext(ctx, d.begin()); err != nil {
			c.Close()
			return s.fail(ctx, fn, err)
		}
		l.own, conn = c, c
	}
	pr, pw := io.Pipe()
	l.pw = pw
	go func() {
		defer close(l.done)
		l.n, l.err = s.runLoad(ctx, conn, req, pr)
		if l.own != nil {
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

// runLoad reads the Arrow IPC stream from r and loads its rows by the
// request's method.
func (s *Session) runLoad(ctx context.Context, conn *sql.Conn, req abi.SQLLoadRequest, r io.Reader) (int64, error) {
	rdr, err := ipc.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("read the rows (an Arrow IPC stream): %w", err)
	}
	defer rdr.Release()
	var n int64
	switch req.Method {
	case abi.SQLLoadRows:
		n, err = loadRows(ctx, conn, req.SQL, rdr)
	case abi.SQLLoadInfile:
		n, err = loadInfile(ctx, conn, req.SQL, rdr)
	case abi.SQLLoadArrow:
		n, err = s.db.driver.loadArrow(ctx, conn, req.SQL, rdr)
	}
	if err == nil {
		err = rdr.Err()
	}
	// Read the stream to its end, so that the writer is never left blocked.
	io.Copy(io.Discard, r)
	return n, err
}

// LoadData passes p, any part of the load's Arrow IPC stream, on to the
// load before it returns.
func (s *Session) LoadData(ctx context.Context, p []byte) error {
	const fn = abi.ImportSQLLoadData
	l := s.load
	if l == nil {
		return s.fail(ctx, fn, errors.New("no load in progress: start one with sql_load"))
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
func loadRows(ctx context.Context, conn *sql.Conn, query string, rdr recordSource) (int64, error) {
	stmt, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
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
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
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
