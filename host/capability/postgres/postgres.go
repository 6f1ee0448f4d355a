// Package postgres is the postgres capability of the host (abi.CapPostgres):
// the pg_* host functions on a connection pool the host opens from the
// destination spec's connection_string, a secret the guest never sees.
// Transactions and COPYs never outlive the operation that began them.
package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// ResultLimit caps what one pg_query or pg_copy_to call may return through
// the result slot: abi.MaxResultBytes, 256 MiB. Those functions are meant for
// catalog queries and reading back, and the result must fit in guest memory
// (512 MiB by default) next to the guest's own data. Beyond it the call
// fails and, for pg_copy_to, the connection is closed.
const ResultLimit = abi.MaxResultBytes

// pgCleanupTimeout bounds how long the end of an operation may spend rolling
// back what the guest left open.
const pgCleanupTimeout = 30 * time.Second

// LogLevels returns the values of the postgres spec's pgx_log_level, from the
// least to the most verbose.
func LogLevels() []string { return []string{"error", "warn", "info", "debug", "trace"} }

// PoolOptions configure OpenPool.
type PoolOptions struct {
	// ConnString is a DSN ("host=... dbname=...") or a URL
	// ("postgres://user:pass@host:5432/db?sslmode=..."), in every form pgx
	// accepts, including unix sockets ("postgres:///db?host=/tmp", "dbname=db").
	ConnString string
	// LogLevel is the spec's pgx_log_level: pgx call events at it (one of
	// LogLevels; "" means "error") and above are logged to Logger, pgx's
	// levels mapped to hclog's. At info and more verbose they include SQL
	// and arguments, i.e. data.
	LogLevel string
	// Logger receives pgx's events. nil means hclog.Default().
	Logger hclog.Logger
	// ApplicationName is the sessions' application_name (pg_stat_activity)
	// unless the connection string (or PGAPPNAME) sets one. "" means "wasmdest".
	ApplicationName string
}

// OpenPool opens the connection pool of the postgres capability. Every
// session runs in time zone UTC, whatever the connection string says.
//
// It connects once to fail early. Errors never contain the connection string
// (it holds credentials). The caller closes the pool, after the host Pools
// that use it.
func OpenPool(ctx context.Context, o PoolOptions) (*pgxpool.Pool, error) {
	pgxLogLevel := o.LogLevel
	if pgxLogLevel == "" {
		pgxLogLevel = "error"
	}
	if !slices.Contains(LogLevels(), pgxLogLevel) {
		return nil, fmt.Errorf("postgres: pgx_log_level %q is not one of %s", pgxLogLevel, strings.Join(LogLevels(), ", "))
	}
	level, _ := tracelog.LogLevelFromString(pgxLogLevel) // one of LogLevels
	cfg, err := pgxpool.ParseConfig(o.ConnString)
	if err != nil {
		return nil, fmt.Errorf("postgres: connection_string is not valid (not shown: it may hold a password): %s", parseErrorReason(err))
	}
	log := o.Logger
	if log == nil {
		log = hclog.Default()
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		name := o.ApplicationName
		if name == "" {
			name = "wasmdest"
		}
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	cfg.ConnConfig.Tracer = &tracelog.TraceLog{Logger: hclogAdapter{log}, LogLevel: level}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return pool, nil
}

// parseErrorReason returns why pgx could not parse a connection string,
// without the string itself ("cannot parse `...`: reason").
func parseErrorReason(err error) string {
	msg := err.Error()
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return msg[i+3:]
		}
		return "cannot parse it"
	}
	return msg
}

// hclogAdapter logs pgx's trace events to an hclog.Logger.
type hclogAdapter struct{ log hclog.Logger }

func (a hclogAdapter) Log(_ context.Context, level tracelog.LogLevel, msg string, data map[string]any) {
	l := hclog.Error
	switch level {
	case tracelog.LogLevelTrace:
		l = hclog.Trace
	case tracelog.LogLevelDebug:
		l = hclog.Debug
	case tracelog.LogLevelInfo:
		l = hclog.Info
	case tracelog.LogLevelWarn:
		l = hclog.Warn
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kv := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, data[k])
	}
	a.log.Log(l, msg, kv...)
}

// pgHandles numbers transactions across the process, so that a handle kept
// by mistake past its operation never names another transaction.
var pgHandles atomic.Int64

// session is what the postgres host functions hold for one operation.
type session struct {
	pool *pgxpool.Pool
	log  hclog.Logger
	txs  map[int64]pgx.Tx
	copy *pgCopy
	// held is the instance's held COPY (abi.PgRequest.Hold), which
	// outlives the operation.
	held *held
}

// sessionOf returns the operation's session of the running host function.
func sessionOf(c *host.Call) *session { return c.Session().(*session) }

// pgCopy is a COPY ... FROM STDIN in progress: pgconn's CopyFrom runs in a
// goroutine and drains the queue pg_copy_data fills (CopyQueueBytes), so
// that the guest's encoding overlaps the transfer and the server's ingest.
type pgCopy struct {
	tx    int64          // 0 when outside a transaction
	batch bool           // the host encodes the data (abi.PgRequest.Batch)
	held  bool           // a held COPY (abi.PgRequest.Hold): no trailer per batch
	conn  *pgxpool.Conn  // the connection acquired for it when tx is 0
	pg    *pgconn.PgConn // the connection it runs on
	q     *copyQueue
	done  chan struct{}
	tag   pgconn.CommandTag // valid after done
	err   error             // valid after done
	// aborted is set when the host ends the COPY (abort).
	aborted atomic.Bool
}

// finish waits for the COPY to end and releases what it holds.
func (c *pgCopy) finish() (pgconn.CommandTag, error) {
	<-c.done
	c.q.release()
	if c.conn != nil {
		c.conn.Release()
		c.conn = nil
	}
	return c.tag, c.err
}

// abort ends an unfinished COPY: what is queued is dropped, the server gets
// a CopyFail and throws away what it received. If the server does not answer
// before ctx ends, the connection is closed under the COPY.
func (c *pgCopy) abort(ctx context.Context) {
	c.abortWith(ctx, errors.New("COPY aborted by the host: the guest's operation ended before pg_copy_end"))
}

// abortWith is abort with the reason why.
func (c *pgCopy) abortWith(ctx context.Context, why error) {
	c.aborted.Store(true)
	c.q.abort(why)
	select {
	case <-c.done:
	case <-ctx.Done():
		c.pg.Conn().Close()
	}
	c.finish()
}

// pgError is an error of a postgres host function. It gives the guest the
// database's error fields (HostError) and keeps the original error, e.g. a
// *pgconn.PgError, reachable with errors.As from the CallError.
type pgError struct {
	fn  string
	err error
}

func (e *pgError) Error() string {
	var pe *pgconn.PgError
	if errors.As(e.err, &pe) {
		// The SQLSTATE is added by abi.HostError.Error.
		msg := e.fn + ": " + pe.Severity + ": " + pe.Message
		var le *lostError
		if errors.As(e.err, &le) {
			msg += " (" + le.note() + ")"
		}
		return msg
	}
	return e.fn + ": " + e.err.Error()
}

func (e *pgError) Unwrap() error { return e.err }

func (e *pgError) HostError() *abi.HostError {
	var re *rowError
	if errors.As(e.err, &re) {
		return re.HostError()
	}
	he := &abi.HostError{}
	var pe *pgconn.PgError
	if errors.As(e.err, &pe) {
		he.SQLState, he.Detail, he.Hint = pe.Code, pe.Detail, pe.Hint
		he.Table, he.Column, he.Constraint, he.Where = pe.TableName, pe.ColumnName, pe.ConstraintName, pe.Where
	}
	return he
}

// fail returns err of host function fn to the guest.
func fail(ctx context.Context, c *host.Call, stack []uint64, fn string, err error) {
	var pe *pgconn.PgError
	switch cerr := ctx.Err(); {
	case cerr != nil && !errors.Is(err, cerr):
		// When the call was stopped, pgconn may report only the broken
		// connection: say why it broke.
		err = fmt.Errorf("%w (%w)", cerr, err)
	case !errors.As(err, &pe) && connectionLost(err):
		// The server's last words (e.g. 57P01, terminated by an
		// administrator) can be lost in the race with the closing socket.
		err = fmt.Errorf("the connection to the database was lost: %w", err)
	}
	c.ReturnError(stack, &pgError{fn: fn, err: err})
}

// connectionLost reports whether err is a broken connection rather than an
// answer from the server.
func connectionLost(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func errNoTx(h int64) error {
	return fmt.Errorf("no open transaction with handle %d (transactions end with the operation that began them)", h)
}

// pgConn returns the connection to run a statement on: the transaction's
// connection for tx > 0, else one acquired from the pool (release it).
func (ps *session) conn(ctx context.Context, tx int64) (conn *pgx.Conn, release func(), err error) {
	if tx != 0 {
		t, ok := ps.txs[tx]
		if !ok {
			return nil, nil, errNoTx(tx)
		}
		if ps.copy != nil && ps.copy.tx == tx {
			return nil, nil, fmt.Errorf("transaction %d is busy with a COPY: end it with pg_copy_end first", tx)
		}
		return t.Conn(), func() {}, nil
	}
	c, err := ps.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.Conn(), c.Release, nil
}

// End runs when an operation ends however it ends: it aborts an unfinished
// COPY and rolls back every transaction the guest left open.
func (ps *session) End(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgCleanupTimeout)
	defer cancel()
	if ps.copy != nil {
		ps.copy.abort(ctx)
		ps.log.Debug("aborted a COPY the guest left unfinished")
	}
	if ps.held != nil {
		// A held COPY outlives the operation: the host commits it when no
		// operation continues it for HeldCopyIdle.
		ps.held.idle()
	}
	for h, tx := range ps.txs {
		if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			ps.log.Debug("roll back a transaction the guest left open", "tx", h, "error", err)
		} else {
			ps.log.Debug("rolled back a transaction the guest left open", "tx", h)
		}
	}
}

// readRequest decodes the PgRequest at the first two stack slots.
func readRequest(c *host.Call, stack []uint64) (abi.PgRequest, error) {
	var req abi.PgRequest
	d := json.NewDecoder(bytes.NewReader(c.Memory(uint32(stack[0]), uint32(stack[1]))))
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		return req, fmt.Errorf("bad request: %w", err)
	}
	if req.SQL == "" {
		return req, errors.New("bad request: no sql")
	}
	return req, nil
}

// textArgs turns the JSON arguments into parameters in text format, which
// the server parses as the types it infers for $1, $2, ...: a JSON number
// is sent as written (exact, whatever its size), a boolean as true or false.
func textArgs(args []any) ([][]byte, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
		case string:
			out[i] = []byte(v)
		case json.Number:
			out[i] = []byte(v.String())
		case bool:
			out[i] = []byte(fmt.Sprint(v))
		default:
			return nil, fmt.Errorf("bad request: argument $%d is a JSON %T; arguments are strings, numbers, booleans or null", i+1, v)
		}
	}
	return out, nil
}

// traced runs fn under the connection's pgx tracer (pgx_log_level), as pgx
// does for its own calls: the host functions use pgconn directly to keep
// parameters and results in text form and to stream COPY.
func traced(ctx context.Context, conn *pgx.Conn, sql string, args [][]byte, fn func(context.Context) (pgconn.CommandTag, error)) (pgconn.CommandTag, error) {
	ctx, end := traceStart(ctx, conn, sql, args)
	tag, err := fn(ctx)
	end(tag, err)
	return tag, err
}

// traceStart starts tracing a statement; call end with its outcome.
func traceStart(ctx context.Context, conn *pgx.Conn, sql string, args [][]byte) (context.Context, func(pgconn.CommandTag, error)) {
	tracer, _ := conn.Config().Tracer.(pgx.QueryTracer)
	if tracer == nil {
		return ctx, func(pgconn.CommandTag, error) {}
	}
	targs := make([]any, len(args))
	for i, a := range args {
		if a != nil {
			targs[i] = string(a)
		}
	}
	ctx = tracer.TraceQueryStart(ctx, conn, pgx.TraceQueryStartData{SQL: sql, Args: targs})
	return ctx, func(tag pgconn.CommandTag, err error) {
		tracer.TraceQueryEnd(ctx, conn, pgx.TraceQueryEndData{CommandTag: tag, Err: err})
	}
}

// statement reads the PgRequest of a pg_exec or pg_query call, encodes its
// arguments and gets the connection of its transaction (or the pool's).
func (ps *session) statement(ctx context.Context, c *host.Call, stack []uint64) (abi.PgRequest, [][]byte, *pgx.Conn, func(), error) {
	req, err := readRequest(c, stack)
	if err != nil {
		return req, nil, nil, nil, err
	}
	args, err := textArgs(req.Args)
	if err != nil {
		return req, nil, nil, nil, err
	}
	conn, release, err := ps.conn(ctx, req.Tx)
	return req, args, conn, release, err
}

func pgExec(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgExec
	req, args, conn, release, err := sessionOf(c).statement(ctx, c, stack)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	defer release()
	var rows int64
	_, err = traced(ctx, conn, req.SQL, args, func(ctx context.Context) (pgconn.CommandTag, error) {
		if len(req.Args) == 0 {
			// Simple protocol: several statements may follow each other.
			results, err := conn.PgConn().Exec(ctx, req.SQL).ReadAll()
			var tag pgconn.CommandTag
			for _, r := range results {
				rows += r.CommandTag.RowsAffected()
				tag = r.CommandTag
			}
			return tag, err
		}
		tag, err := conn.PgConn().ExecParams(ctx, req.SQL, args, nil, nil, nil).Close()
		rows = tag.RowsAffected()
		return tag, err
	})
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	b, _ := json.Marshal(abi.PgExecResult{RowsAffected: rows})
	c.ReturnResult(stack, b)
}

var errResultTooLarge = fmt.Errorf("result is larger than the %d MiB the host returns", ResultLimit>>20)

func pgQuery(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgQuery
	req, args, conn, release, err := sessionOf(c).statement(ctx, c, stack)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	defer release()
	res := abi.PgQueryResult{Columns: []string{}, Rows: [][]*string{}}
	_, err = traced(ctx, conn, req.SQL, args, func(ctx context.Context) (pgconn.CommandTag, error) {
		// Parameters and results in text format (nil formats).
		rr := conn.PgConn().ExecParams(ctx, req.SQL, args, nil, nil, nil)
		for _, f := range rr.FieldDescriptions() {
			res.Columns = append(res.Columns, f.Name)
		}
		size := 0
		for rr.NextRow() {
			vals := rr.Values()
			row := make([]*string, len(vals))
			for i, v := range vals {
				if v != nil {
					s := string(v)
					row[i] = &s
					size += len(v)
				}
			}
			res.Rows = append(res.Rows, row)
			if size > ResultLimit {
				rr.Close()
				return pgconn.CommandTag{}, errResultTooLarge
			}
		}
		return rr.Close()
	})
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	if len(b) > ResultLimit {
		fail(ctx, c, stack, fn, errResultTooLarge)
		return
	}
	c.ReturnResult(stack, b)
}

func pgBegin(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgBegin
	ps := sessionOf(c)
	pool := ps.pool
	// Each transaction holds a connection until the operation ends: one
	// operation holding them all would wait forever for another.
	held := len(ps.txs)
	if ps.copy != nil && ps.copy.tx == 0 {
		held++
	}
	if max := int(pool.Config().MaxConns); held >= max {
		fail(ctx, c, stack, fn, fmt.Errorf("the operation already holds %d of the pool's %d connections: end a transaction first", held, max))
		return
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	h := pgHandles.Add(1)
	ps.txs[h] = tx
	c.ReturnValue(stack, h)
}

// tx returns the open transaction with handle h.
// endedCopy ends the session's COPY cp after err stopped sending to it and
// returns the error to report: the COPY's own (the server refused a value,
// the connection broke) where it has one, else err.
func (ps *session) endedCopy(cp *pgCopy, err error) error {
	ps.copy = nil
	if _, cerr := cp.finish(); cerr != nil {
		return cerr
	}
	if errors.Is(err, errStopped) {
		return errors.New("the COPY has ended")
	}
	return err
}

func (ps *session) tx(h int64) (pgx.Tx, error) {
	tx, ok := ps.txs[h]
	if !ok {
		return nil, errNoTx(h)
	}
	return tx, nil
}

func pgCommit(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgCommit
	h := int64(stack[0])
	ps := sessionOf(c)
	tx, err := ps.tx(h)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	if ps.copy != nil && ps.copy.tx == h {
		fail(ctx, c, stack, fn, fmt.Errorf("transaction %d is busy with a COPY: end it with pg_copy_end first", h))
		return
	}
	delete(ps.txs, h)
	if err := tx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			err = errors.New("the transaction had failed, so COMMIT rolled it back")
		}
		fail(ctx, c, stack, fn, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func pgRollback(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgRollback
	h := int64(stack[0])
	ps := sessionOf(c)
	tx, err := ps.tx(h)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	if ps.copy != nil && ps.copy.tx == h {
		ps.copy.abort(ctx)
		ps.copy = nil
	}
	delete(ps.txs, h)
	// A transaction whose connection broke is rolled back by the server:
	// that is success here.
	if err := tx.Rollback(ctx); err != nil && !tx.Conn().IsClosed() {
		fail(ctx, c, stack, fn, err)
		return
	}
	c.ReturnValue(stack, 0)
}

var (
	copyFromRE = regexp.MustCompile(`(?is)^\s*copy\b.*\bfrom\s+stdin\b`)
	copyToRE   = regexp.MustCompile(`(?is)^\s*copy\b.*\bto\s+stdout\b`)
)

// readCopyRequest reads a COPY's request: its sql must match re (what
// names the form), and a COPY takes no arguments.
func readCopyRequest(c *host.Call, stack []uint64, re *regexp.Regexp, what string) (abi.PgRequest, error) {
	req, err := readRequest(c, stack)
	if err != nil {
		return req, err
	}
	if len(req.Args) > 0 {
		return req, errors.New("bad request: COPY takes no arguments")
	}
	if !re.MatchString(req.SQL) {
		return req, errors.New("bad request: sql is not a " + what)
	}
	return req, nil
}

func pgCopyFrom(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgCopyFrom
	req, err := readCopyRequest(c, stack, copyFromRE, "COPY ... FROM STDIN")
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	ps := sessionOf(c)
	if ps.copy != nil {
		fail(ctx, c, stack, fn, errors.New("a COPY is already in progress: one at a time per instance"))
		return
	}
	if req.Hold {
		ps.held = heldOf(c)
		res, err := copyHeld(ctx, c, ps, req)
		if err != nil {
			fail(ctx, c, stack, fn, err)
			return
		}
		b, _ := json.Marshal(res)
		c.ReturnResult(stack, b)
		return
	}
	if holding(c) {
		fail(ctx, c, stack, fn, errors.New("bad request: the instance holds a COPY (hold): end it with pg_copy_end before another COPY"))
		return
	}
	var batch *pgbinary.Batch
	var recs []arrow.RecordBatch
	if req.Batch {
		if batch, recs, err = batchRequest(c, req); err != nil {
			fail(ctx, c, stack, fn, err)
			return
		}
	} else if len(req.Columns) > 0 || len(req.Keys) > 0 || req.Ordinal {
		fail(ctx, c, stack, fn, errors.New("bad request: columns, keys and ordinal are fields of a batch COPY (batch: true)"))
		return
	}
	cp, err := startCopy(ctx, false, ps, req)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	ps.copy = cp
	if batch == nil {
		c.ReturnValue(stack, 0)
		return
	}
	if _, err := cp.encodeBatch(ctx, batch, recs, true); err != nil {
		var re *pgbinary.RowError
		if errors.As(err, &re) {
			// A value the host cannot encode: nothing of it reached the
			// server, which throws away what it got.
			cp.abort(ctx)
			ps.copy = nil
			fail(ctx, c, stack, fn, &rowError{re})
			return
		}
		// The COPY ended under the encoder (the server refused a value,
		// the connection broke) or the call was stopped: report the
		// COPY's own error, as pg_copy_data does.
		fail(ctx, c, stack, fn, ps.endedCopy(cp, err))
		return
	}
	b, _ := json.Marshal(abi.PgCopyBatchResult{Rows: batch.Rows(), DuplicateKeys: batch.Duplicates()})
	c.ReturnResult(stack, b)
}

// startCopy starts the COPY of req: in its transaction, or on a connection
// of the pool. pgconn's CopyFrom runs on its own goroutine until the queue
// is closed or aborted, or ctx ends unless detached (a held COPY outlives
// the operation).
func startCopy(ctx context.Context, detached bool, ps *session, req abi.PgRequest) (*pgCopy, error) {
	cp := &pgCopy{tx: req.Tx, batch: req.Batch, done: make(chan struct{})}
	var conn *pgx.Conn
	if req.Tx != 0 {
		tx, ok := ps.txs[req.Tx]
		if !ok {
			return nil, errNoTx(req.Tx)
		}
		conn = tx.Conn()
	} else {
		var err error
		if cp.conn, err = ps.pool.Acquire(ctx); err != nil {
			return nil, err
		}
		conn = cp.conn.Conn()
	}
	cp.pg = conn.PgConn()
	cp.q = newCopyQueue()
	if detached {
		ctx = context.WithoutCancel(ctx)
	}
	go func() {
		defer close(cp.done)
		ctx, end := traceStart(ctx, conn, req.SQL, nil)
		cp.tag, cp.err = cp.pg.CopyFrom(ctx, cp.q, req.SQL)
		if !cp.aborted.Load() {
			end(cp.tag, cp.err) // an abort is the host's doing, not a failure to log
		}
	}()
	return cp, nil
}

// BatchChunk is how many bytes of a batch COPY's data the host encodes
// before it queues them (CopyQueueBytes holds four).
const BatchChunk = CopyQueueBytes / 4

// batchRequest checks a batch COPY's request (abi.PgRequest.Batch) against
// the running write's records and returns its encoder.
func batchRequest(c *host.Call, req abi.PgRequest) (*pgbinary.Batch, []arrow.RecordBatch, error) {
	schema, recs, ok := c.Records()
	if !ok {
		return nil, nil, errors.New("bad request: a batch COPY encodes the records of a running write operation, and this operation has none: send the data with pg_copy_data instead")
	}
	b, err := pgbinary.NewBatch(schema, req.Columns, req.Keys, req.Ordinal)
	if err != nil {
		return nil, nil, fmt.Errorf("bad request: %w", err)
	}
	return b, recs, nil
}

// encodeBatch encodes recs as the COPY's binary data into its queue, a
// chunk at a time, while pgconn sends the queue on: the encoding of a chunk
// overlaps the transfer of the ones before it.
//
// A whole COPY (whole) has the stream's header and trailer; a held COPY's
// batches have neither but the first's header (the trailer goes at its
// end). It returns the bytes queued.
func (cp *pgCopy) encodeBatch(ctx context.Context, b *pgbinary.Batch, recs []arrow.RecordBatch, header bool) (int64, error) {
	whole := !cp.held
	bufp := batchBuffers.Get().(*[]byte)
	defer batchBuffers.Put(bufp)
	var queued int64
	flush := func(p []byte) ([]byte, error) {
		select {
		case <-cp.done:
			return p[:0], errStopped
		default:
		}
		if err := cp.q.write(ctx, p, cp.done); err != nil {
			return p[:0], err
		}
		queued += int64(len(p))
		return p[:0], nil
	}
	buf := (*bufp)[:0]
	if header {
		buf = b.Header(buf)
	}
	var err error
	for _, rec := range recs {
		if buf, err = b.Encode(rec, buf, BatchChunk, flush); err != nil {
			return queued, err
		}
	}
	if whole {
		buf = b.Trailer(buf)
	}
	buf, err = flush(buf)
	*bufp = buf[:0]
	return queued, err
}

// batchBuffers recycles the batch encoders' chunk buffers.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, BatchChunk+64<<10); return &b }}

// rowError is a value of a batch the host cannot encode, for the guest: a
// HostError naming the column (and the row in its message).
type rowError struct{ err *pgbinary.RowError }

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

func (e *rowError) HostError() *abi.HostError {
	return &abi.HostError{Column: e.err.Column, Where: fmt.Sprintf("row %d of the batch", e.err.Row+1)}
}

func pgCopyData(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgCopyData
	data := c.Memory(uint32(stack[0]), uint32(stack[1]))
	ps := sessionOf(c)
	cp := ps.copy
	if cp == nil {
		fail(ctx, c, stack, fn, errors.New("no COPY in progress: start one with pg_copy_from"))
		return
	}
	if cp.batch {
		fail(ctx, c, stack, fn, errors.New("bad request: a batch COPY takes no data of the guest's: end it with pg_copy_end"))
		return
	}
	// The chunk is copied into the queue (the view of guest memory is not
	// kept); pg_copy_data waits only while the queue is full. An error of
	// the COPY (the server refused the data, the connection broke, the call
	// was stopped) is reported by the first call after it.
	err := errStopped
	select {
	case <-cp.done:
	default:
		err = cp.q.write(ctx, data, cp.done)
	}
	if err != nil {
		// The COPY ended, or the call was stopped, which pgconn sees too
		// (it cancels the COPY on the same context): report the COPY's
		// error.
		fail(ctx, c, stack, fn, ps.endedCopy(cp, err))
		return
	}
	c.ReturnValue(stack, 0)
}

func pgCopyEnd(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgCopyEnd
	ps := sessionOf(c)
	cp := ps.copy
	if cp == nil {
		rows, ok, err := endHeld(c)
		switch {
		case !ok:
			fail(ctx, c, stack, fn, errors.New("no COPY in progress: start one with pg_copy_from"))
		case err != nil:
			fail(ctx, c, stack, fn, err)
		default:
			c.ReturnValue(stack, rows)
		}
		return
	}
	ps.copy = nil
	cp.q.close()
	tag, err := cp.finish()
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	c.ReturnValue(stack, tag.RowsAffected())
}

// cappedBuffer is a bytes.Buffer that refuses to grow past limit.
type cappedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, fmt.Errorf("COPY output is larger than the %d MiB the host returns: read in parts", b.limit>>20)
	}
	return b.Buffer.Write(p)
}

func pgCopyTo(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportPgCopyTo
	req, err := readCopyRequest(c, stack, copyToRE, "COPY ... TO STDOUT")
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	conn, release, err := sessionOf(c).conn(ctx, req.Tx)
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	defer release()
	buf := &cappedBuffer{limit: ResultLimit}
	_, err = traced(ctx, conn, req.SQL, nil, func(ctx context.Context) (pgconn.CommandTag, error) {
		return conn.PgConn().CopyTo(ctx, buf, req.SQL)
	})
	if err != nil {
		fail(ctx, c, stack, fn, err)
		return
	}
	c.ReturnResult(stack, buf.Bytes())
}
