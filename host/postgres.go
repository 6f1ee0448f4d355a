package host

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
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdest/wasmdest/abi"
)

// PgResultLimit caps what one pg_query or pg_copy_to call may return through
// the result slot (abi/ABI.md): 256 MiB. Those functions are meant for catalog
// queries and reading back, and the result must fit in guest memory (512 MiB
// by default) next to the guest's own data. Beyond it the call fails and, for
// pg_copy_to, the connection is closed.
const PgResultLimit = 256 << 20

// pgCleanupTimeout bounds how long the end of an operation may spend rolling
// back what the guest left open.
const pgCleanupTimeout = 30 * time.Second

// PgxLogLevels are the values of the postgres spec's pgx_log_level, from the
// least to the most verbose.
var PgxLogLevels = []string{"error", "warn", "info", "debug", "trace"}

// OpenPostgres opens the connection pool of the postgres capability.
// connString is a DSN ("host=... dbname=...") or a URL
// ("postgres://user:pass@host:5432/db?sslmode=..."), in every form pgx
// accepts, including unix sockets ("postgres:///db?host=/tmp", "dbname=db").
// Every session runs in time zone UTC, whatever the connection string says.
// pgx call events at pgxLogLevel (one of PgxLogLevels; "" means "error") and
// above are logged to log, pgx's levels mapped to hclog's: at info and more
// verbose they include SQL and arguments, i.e. data.
//
// It connects once to fail early. Errors never contain the connection string
// (it holds credentials). The caller closes the pool, after the host Pools
// that use it.
func OpenPostgres(ctx context.Context, connString, pgxLogLevel string, log hclog.Logger) (*pgxpool.Pool, error) {
	if pgxLogLevel == "" {
		pgxLogLevel = "error"
	}
	if !slices.Contains(PgxLogLevels, pgxLogLevel) {
		return nil, fmt.Errorf("postgres: pgx_log_level %q is not one of %s", pgxLogLevel, strings.Join(PgxLogLevels, ", "))
	}
	level, _ := tracelog.LogLevelFromString(pgxLogLevel) // one of PgxLogLevels
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: connection_string is not valid (not shown: it may hold a password): %s", parseErrorReason(err))
	}
	if log == nil {
		log = hclog.Default()
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
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

// pgState is what the postgres host functions hold for one operation.
type pgState struct {
	txs  map[int64]pgx.Tx
	copy *pgCopy
}

// pgCopy is a COPY ... FROM STDIN in progress: pgconn's CopyFrom runs in a
// goroutine and reads what pg_copy_data writes into the pipe.
type pgCopy struct {
	tx   int64          // 0 when outside a transaction
	conn *pgxpool.Conn  // the connection acquired for it when tx is 0
	pg   *pgconn.PgConn // the connection it runs on
	pw   *io.PipeWriter
	done chan struct{}
	tag  pgconn.CommandTag // valid after done
	err  error             // valid after done
	// aborted is set when the host ends the COPY (abort).
	aborted atomic.Bool
}

// finish waits for the COPY to end and releases what it holds.
func (c *pgCopy) finish() (pgconn.CommandTag, error) {
	<-c.done
	if c.conn != nil {
		c.conn.Release()
		c.conn = nil
	}
	return c.tag, c.err
}

// abort ends an unfinished COPY: the server gets a CopyFail and throws away
// what it received. If the server does not answer before ctx ends, the
// connection is closed under the COPY.
func (c *pgCopy) abort(ctx context.Context) {
	c.aborted.Store(true)
	c.pw.CloseWithError(errors.New("COPY aborted by the host: the guest's operation ended before pg_copy_end"))
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
		return e.fn + ": " + pe.Severity + ": " + pe.Message
	}
	return e.fn + ": " + e.err.Error()
}

func (e *pgError) Unwrap() error { return e.err }

func (e *pgError) HostError() *abi.HostError {
	he := &abi.HostError{}
	var pe *pgconn.PgError
	if errors.As(e.err, &pe) {
		he.SQLState, he.Detail, he.Hint = pe.Code, pe.Detail, pe.Hint
		he.Table, he.Column, he.Constraint, he.Where = pe.TableName, pe.ColumnName, pe.ConstraintName, pe.Where
	}
	return he
}

func pgFail(ctx context.Context, st *callState, stack []uint64, fn string, err error) {
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
	returnError(st, stack, &pgError{fn: fn, err: err})
}

// connectionLost reports whether err is a broken connection rather than an
// answer from the server.
func connectionLost(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// postgres returns the operation's postgres state, or an error when the
// pool has no database.
func (st *callState) postgres() (*pgState, *pgxpool.Pool, error) {
	pool := st.inst.pool.cfg.Postgres
	if pool == nil {
		return nil, nil, errors.New("this host has no PostgreSQL connection pool for the guest")
	}
	if st.pg == nil {
		st.pg = &pgState{txs: map[int64]pgx.Tx{}}
	}
	return st.pg, pool, nil
}

func errNoTx(h int64) error {
	return fmt.Errorf("no open transaction with handle %d (transactions end with the operation that began them)", h)
}

// pgConn returns the connection to run a statement on: the transaction's
// connection for tx > 0, else one acquired from the pool (release it).
func (st *callState) pgConn(ctx context.Context, tx int64) (conn *pgx.Conn, release func(), err error) {
	ps, pool, err := st.postgres()
	if err != nil {
		return nil, nil, err
	}
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
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.Conn(), c.Release, nil
}

// endPostgres runs when an operation ends however it ends: it aborts an
// unfinished COPY and rolls back every transaction the guest left open.
func (st *callState) endPostgres(ctx context.Context) {
	ps := st.pg
	if ps == nil {
		return
	}
	st.pg = nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgCleanupTimeout)
	defer cancel()
	if ps.copy != nil {
		ps.copy.abort(ctx)
		st.inst.log.Debug("aborted a COPY the guest left unfinished")
	}
	for h, tx := range ps.txs {
		if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			st.inst.log.Debug("roll back a transaction the guest left open", "tx", h, "error", err)
		} else {
			st.inst.log.Debug("rolled back a transaction the guest left open", "tx", h)
		}
	}
}

// readPgRequest decodes the PgRequest at the first two stack slots.
func readPgRequest(mem api.Memory, stack []uint64, fn string) (abi.PgRequest, error) {
	var req abi.PgRequest
	d := json.NewDecoder(bytes.NewReader(guestMemory(mem, uint32(stack[0]), uint32(stack[1]), fn)))
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

// pgStatement reads the PgRequest of a pg_exec or pg_query call, encodes its
// arguments and gets the connection of its transaction (or the pool's).
func (st *callState) pgStatement(ctx context.Context, mem api.Memory, stack []uint64, fn string) (abi.PgRequest, [][]byte, *pgx.Conn, func(), error) {
	req, err := readPgRequest(mem, stack, fn)
	if err != nil {
		return req, nil, nil, nil, err
	}
	args, err := textArgs(req.Args)
	if err != nil {
		return req, nil, nil, nil, err
	}
	conn, release, err := st.pgConn(ctx, req.Tx)
	return req, args, conn, release, err
}

func hostPgExec(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	const fn = abi.ImportPgExec
	req, args, conn, release, err := st.pgStatement(ctx, mem, stack, fn)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
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
		pgFail(ctx, st, stack, fn, err)
		return
	}
	b, _ := json.Marshal(abi.PgExecResult{RowsAffected: rows})
	returnResult(st, stack, b)
}

var errResultTooLarge = fmt.Errorf("result is larger than the %d MiB the host returns", PgResultLimit>>20)

func hostPgQuery(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	const fn = abi.ImportPgQuery
	req, args, conn, release, err := st.pgStatement(ctx, mem, stack, fn)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
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
			if size > PgResultLimit {
				rr.Close()
				return pgconn.CommandTag{}, errResultTooLarge
			}
		}
		return rr.Close()
	})
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	if len(b) > PgResultLimit {
		pgFail(ctx, st, stack, fn, errResultTooLarge)
		return
	}
	returnResult(st, stack, b)
}

func hostPgBegin(ctx context.Context, st *callState, _ api.Memory, stack []uint64) {
	const fn = abi.ImportPgBegin
	ps, pool, err := st.postgres()
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	// Each transaction holds a connection until the operation ends: one
	// operation holding them all would wait forever for another.
	held := len(ps.txs)
	if ps.copy != nil && ps.copy.tx == 0 {
		held++
	}
	if max := int(pool.Config().MaxConns); held >= max {
		pgFail(ctx, st, stack, fn, fmt.Errorf("the operation already holds %d of the pool's %d connections: end a transaction first", held, max))
		return
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	h := pgHandles.Add(1)
	ps.txs[h] = tx
	st.result = nil
	stack[0] = api.EncodeI64(h)
}

// pgTx returns the open transaction with handle h.
func (st *callState) pgTx(h int64) (*pgState, pgx.Tx, error) {
	ps, _, err := st.postgres()
	if err != nil {
		return nil, nil, err
	}
	tx, ok := ps.txs[h]
	if !ok {
		return nil, nil, errNoTx(h)
	}
	return ps, tx, nil
}

func hostPgCommit(ctx context.Context, st *callState, _ api.Memory, stack []uint64) {
	const fn = abi.ImportPgCommit
	h := int64(stack[0])
	ps, tx, err := st.pgTx(h)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	if ps.copy != nil && ps.copy.tx == h {
		pgFail(ctx, st, stack, fn, fmt.Errorf("transaction %d is busy with a COPY: end it with pg_copy_end first", h))
		return
	}
	delete(ps.txs, h)
	if err := tx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			err = errors.New("the transaction had failed, so COMMIT rolled it back")
		}
		pgFail(ctx, st, stack, fn, err)
		return
	}
	st.result = nil
	stack[0] = 0
}

func hostPgRollback(ctx context.Context, st *callState, _ api.Memory, stack []uint64) {
	const fn = abi.ImportPgRollback
	h := int64(stack[0])
	ps, tx, err := st.pgTx(h)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
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
		pgFail(ctx, st, stack, fn, err)
		return
	}
	st.result = nil
	stack[0] = 0
}

var (
	copyFromRE = regexp.MustCompile(`(?is)^\s*copy\b.*\bfrom\s+stdin\b`)
	copyToRE   = regexp.MustCompile(`(?is)^\s*copy\b.*\bto\s+stdout\b`)
)

func hostPgCopyFrom(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	const fn = abi.ImportPgCopyFrom
	req, err := readPgRequest(mem, stack, fn)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	if len(req.Args) > 0 {
		pgFail(ctx, st, stack, fn, errors.New("bad request: COPY takes no arguments"))
		return
	}
	if !copyFromRE.MatchString(req.SQL) {
		pgFail(ctx, st, stack, fn, errors.New("bad request: sql is not a COPY ... FROM STDIN"))
		return
	}
	ps, pool, err := st.postgres()
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	if ps.copy != nil {
		pgFail(ctx, st, stack, fn, errors.New("a COPY is already in progress: one at a time per instance"))
		return
	}
	c := &pgCopy{tx: req.Tx, done: make(chan struct{})}
	var conn *pgx.Conn
	if req.Tx != 0 {
		tx, ok := ps.txs[req.Tx]
		if !ok {
			pgFail(ctx, st, stack, fn, errNoTx(req.Tx))
			return
		}
		conn = tx.Conn()
	} else {
		if c.conn, err = pool.Acquire(ctx); err != nil {
			pgFail(ctx, st, stack, fn, err)
			return
		}
		conn = c.conn.Conn()
	}
	c.pg = conn.PgConn()
	pr, pw := io.Pipe()
	c.pw = pw
	go func() {
		defer close(c.done)
		ctx, end := traceStart(ctx, conn, req.SQL, nil)
		c.tag, c.err = c.pg.CopyFrom(ctx, pr, req.SQL)
		if !c.aborted.Load() {
			end(c.tag, c.err) // an abort is the host's doing, not a failure to log
		}
		// Unblock a pg_copy_data still writing, with the reason.
		if c.err != nil {
			pr.CloseWithError(c.err)
		} else {
			pr.CloseWithError(errors.New("the COPY has ended"))
		}
	}()
	ps.copy = c
	st.result = nil
	stack[0] = 0
}

func hostPgCopyData(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	const fn = abi.ImportPgCopyData
	data := guestMemory(mem, uint32(stack[0]), uint32(stack[1]), fn)
	ps, _, err := st.postgres()
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	c := ps.copy
	if c == nil {
		pgFail(ctx, st, stack, fn, errors.New("no COPY in progress: start one with pg_copy_from"))
		return
	}
	// Write returns when CopyFrom has read all of data and sent it on to
	// the server, so the view of guest memory is not kept.
	if _, err := c.pw.Write(data); err != nil {
		// The COPY failed (the server refused the data, the connection
		// broke, the call was stopped): report why.
		ps.copy = nil
		_, cerr := c.finish()
		if cerr == nil {
			cerr = err
		}
		pgFail(ctx, st, stack, fn, cerr)
		return
	}
	st.result = nil
	stack[0] = 0
}

func hostPgCopyEnd(ctx context.Context, st *callState, _ api.Memory, stack []uint64) {
	const fn = abi.ImportPgCopyEnd
	ps, _, err := st.postgres()
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	c := ps.copy
	if c == nil {
		pgFail(ctx, st, stack, fn, errors.New("no COPY in progress: start one with pg_copy_from"))
		return
	}
	ps.copy = nil
	c.pw.Close()
	tag, err := c.finish()
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	st.result = nil
	stack[0] = api.EncodeI64(tag.RowsAffected())
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

func hostPgCopyTo(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	const fn = abi.ImportPgCopyTo
	req, err := readPgRequest(mem, stack, fn)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	if len(req.Args) > 0 {
		pgFail(ctx, st, stack, fn, errors.New("bad request: COPY takes no arguments"))
		return
	}
	if !copyToRE.MatchString(req.SQL) {
		pgFail(ctx, st, stack, fn, errors.New("bad request: sql is not a COPY ... TO STDOUT"))
		return
	}
	conn, release, err := st.pgConn(ctx, req.Tx)
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	defer release()
	buf := &cappedBuffer{limit: PgResultLimit}
	_, err = traced(ctx, conn, req.SQL, nil, func(ctx context.Context) (pgconn.CommandTag, error) {
		return conn.PgConn().CopyTo(ctx, buf, req.SQL)
	})
	if err != nil {
		pgFail(ctx, st, stack, fn, err)
		return
	}
	returnResult(st, stack, buf.Bytes())
}
