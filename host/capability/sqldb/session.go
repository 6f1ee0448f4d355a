package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
)

// cleanupTimeout bounds how long the end of an operation may spend rolling
// back what the guest left open.
const cleanupTimeout = 30 * time.Second

// handles numbers transactions across the process, so that a handle kept
// by mistake past its operation never names another transaction.
var handles atomic.Int64

// Session is the sql capability's state during one operation: its open
// transactions, each a connection of its own with BEGIN run on it, and its
// load in progress.
type Session struct {
	db   *DB
	log  hclog.Logger
	txs  map[int64]*sql.Conn
	load *load
}

// NewSession starts the state of one operation on db.
func NewSession(db *DB, log hclog.Logger) *Session {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Session{db: db, log: log, txs: map[int64]*sql.Conn{}}
}

// Error is an error of an sql host function. It gives the guest the
// database's error fields (abi.HostError) and keeps the driver's error
// reachable with errors.As.
type Error struct {
	Fn  string
	Err error
	db  *DB
}

func (e *Error) Error() string { return e.Fn + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// HostError returns the error's ABI fields but Message.
func (e *Error) HostError() *abi.HostError {
	he := &abi.HostError{}
	if e.db != nil && e.db.driver.hostError != nil {
		e.db.driver.hostError(e.Err, he)
	}
	return he
}

// fail wraps err of host function fn, saying when the connection broke.
func (s *Session) fail(ctx context.Context, fn string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", cerr, err)
	} else if connectionLost(err) {
		err = fmt.Errorf("the connection to the database was lost: %w", err)
	}
	return &Error{Fn: fn, Err: err, db: s.db}
}

func errNoTx(h int64) error {
	return fmt.Errorf("no open transaction with handle %d (transactions end with the operation that began them)", h)
}

// conn returns the connection of transaction tx, or for tx 0 one from the
// pool (release it).
func (s *Session) conn(ctx context.Context, tx int64) (*sql.Conn, func(), error) {
	if tx != 0 {
		c, ok := s.txs[tx]
		if !ok {
			return nil, nil, errNoTx(tx)
		}
		if s.load != nil && s.load.tx == tx {
			return nil, nil, fmt.Errorf("transaction %d is busy with a load: end it with sql_load_end first", tx)
		}
		return c, func() {}, nil
	}
	c, err := s.db.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Close() }, nil
}

// DecodeRequest decodes an SQLRequest, keeping numbers exact.
func DecodeRequest(b []byte) (abi.SQLRequest, error) {
	var req abi.SQLRequest
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		return req, fmt.Errorf("bad request: %w", err)
	}
	if req.SQL == "" {
		return req, errors.New("bad request: no sql")
	}
	return req, nil
}

// DecodeLoadRequest decodes an SQLLoadRequest.
func DecodeLoadRequest(b []byte) (abi.SQLLoadRequest, error) {
	var req abi.SQLLoadRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return req, fmt.Errorf("bad request: %w", err)
	}
	return req, nil
}

// args turns the JSON arguments into driver values: integers that fit
// int64 as int64, others numbers as float64 (or their text when they fit
// neither), strings, booleans and nil.
func args(in []any) ([]any, error) {
	out := make([]any, len(in))
	for i, a := range in {
		switch v := a.(type) {
		case nil, string, bool:
			out[i] = v
		case json.Number:
			if n, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
				out[i] = n
			} else if _, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
				out[i] = v.String()
			} else if f, err := strconv.ParseFloat(v.String(), 64); err == nil {
				out[i] = f
			} else {
				out[i] = v.String()
			}
		case float64, int64, int:
			out[i] = v // from Go callers; JSON numbers are json.Number
		default:
			return nil, fmt.Errorf("bad request: argument %d is a JSON %T; arguments are strings, numbers, booleans or null", i+1, v)
		}
	}
	return out, nil
}

// Exec runs req and returns the rows it affected.
func (s *Session) Exec(ctx context.Context, req abi.SQLRequest) (int64, error) {
	const fn = abi.ImportSQLExec
	a, err := args(req.Args)
	if err != nil {
		return 0, s.fail(ctx, fn, err)
	}
	c, release, err := s.conn(ctx, req.Tx)
	if err != nil {
		return 0, s.fail(ctx, fn, err)
	}
	defer release()
	res, err := c.ExecContext(ctx, req.SQL, a...)
	if err != nil {
		return 0, s.fail(ctx, fn, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		n = 0 // drivers that do not count (DuckDB for DDL)
	}
	return n, nil
}

// Query runs req and returns its rows as an Arrow IPC stream.
func (s *Session) Query(ctx context.Context, req abi.SQLRequest) ([]byte, error) {
	const fn = abi.ImportSQLQuery
	a, err := args(req.Args)
	if err != nil {
		return nil, s.fail(ctx, fn, err)
	}
	c, release, err := s.conn(ctx, req.Tx)
	if err != nil {
		return nil, s.fail(ctx, fn, err)
	}
	defer release()
	rows, err := c.QueryContext(ctx, req.SQL, a...)
	if err != nil {
		return nil, s.fail(ctx, fn, err)
	}
	defer rows.Close()
	out, err := rowsToArrow(rows, req.Types, ResultLimit)
	if err != nil {
		return nil, s.fail(ctx, fn, err)
	}
	return out, nil
}

// Begin begins a transaction on a connection of its own and returns its
// handle. Each transaction holds a connection until it ends.
func (s *Session) Begin(ctx context.Context) (int64, error) {
	const fn = abi.ImportSQLBegin
	if max := s.db.db.Stats().MaxOpenConnections; max > 0 && len(s.txs) >= max {
		return 0, s.fail(ctx, fn, fmt.Errorf("the operation already holds %d of the pool's %d connections: end a transaction first", len(s.txs), max))
	}
	c, err := s.db.db.Conn(ctx)
	if err != nil {
		return 0, s.fail(ctx, fn, err)
	}
	if _, err := c.ExecContext(ctx, s.db.driver.begin()); err != nil {
		c.Close()
		return 0, s.fail(ctx, fn, err)
	}
	h := handles.Add(1)
	s.txs[h] = c
	return h, nil
}

// begin is the statement that starts a transaction.
func (d *driverInfo) begin() string {
	if d.name == abi.SQLDriverSQLite {
		return "BEGIN IMMEDIATE"
	}
	return "BEGIN"
}

// Commit commits transaction h.
func (s *Session) Commit(ctx context.Context, h int64) error {
	const fn = abi.ImportSQLCommit
	c, ok := s.txs[h]
	if !ok {
		return s.fail(ctx, fn, errNoTx(h))
	}
	if s.load != nil && s.load.tx == h {
		return s.fail(ctx, fn, fmt.Errorf("transaction %d is busy with a load: end it with sql_load_end first", h))
	}
	delete(s.txs, h)
	defer c.Close()
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		s.rollback(ctx, c)
		return s.fail(ctx, fn, err)
	}
	return nil
}

// Rollback rolls transaction h back, aborting its load if one runs.
func (s *Session) Rollback(ctx context.Context, h int64) error {
	const fn = abi.ImportSQLRollback
	c, ok := s.txs[h]
	if !ok {
		return s.fail(ctx, fn, errNoTx(h))
	}
	if s.load != nil && s.load.tx == h {
		s.load.abort()
		s.load = nil
	}
	delete(s.txs, h)
	defer c.Close()
	if err := s.rollback(ctx, c); err != nil && !connectionLost(err) {
		return s.fail(ctx, fn, err)
	}
	return nil
}

// rollback runs ROLLBACK on c; a connection it fails on is discarded from
// the pool rather than reused in an unknown state.
func (s *Session) rollback(ctx context.Context, c *sql.Conn) error {
	_, err := c.ExecContext(ctx, "ROLLBACK")
	if err != nil {
		c.Raw(func(any) error { return driverErrBadConn })
	}
	return err
}

// End runs when the operation ends, however it ends: it aborts an
// unfinished load and rolls back every transaction the guest left open.
func (s *Session) End(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if s.load != nil {
		s.load.abort()
		s.load = nil
		s.log.Debug("aborted a load the guest left unfinished")
	}
	for h, c := range s.txs {
		if err := s.rollback(ctx, c); err != nil {
			s.log.Debug("roll back a transaction the guest left open", "tx", h, "error", err)
		} else {
			s.log.Debug("rolled back a transaction the guest left open", "tx", h)
		}
		c.Close()
	}
	s.txs = map[int64]*sql.Conn{}
}
