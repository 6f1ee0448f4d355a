package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// heldCopyIdle is how long a held COPY waits for the next batch before
// the host commits it by itself (abi.HeldCopyIdle); tests shorten it.
var heldCopyIdle = abi.HeldCopyIdle

// held is the postgres capability's state on one instance: its held COPY
// (abi.PgRequest.Hold), one COPY statement that the instance's batch COPYs
// continue across write operations until pg_copy_end commits it, the host
// commits it after heldCopyIdle with no operation continuing it, or the
// instance ends (which aborts it).
type held struct {
	log hclog.Logger
	mu  sync.Mutex
	cp  *pgCopy // nil when no COPY is held
	// req is the request that began cp: a continuation must have the same
	// sql and columns.
	req abi.PgRequest
	// rows and bytes are what cp holds so far.
	rows, bytes int64
	// gen numbers the idle timers: a timer that fires after the COPY was
	// continued or ended (gen moved on) does nothing.
	gen   int
	timer *time.Timer
	// ended is the outcome of a COPY the host committed by itself, until
	// the guest learns of it (pg_copy_from with hold, pg_copy_end).
	ended *heldEnd
	// closed is set when the instance ended: nothing may be held any more.
	closed bool
}

type heldEnd struct {
	rows int64
	err  error
}

func newHeld(log hclog.Logger) func() host.InstanceState {
	return func() host.InstanceState { return &held{log: log} }
}

// heldOf returns the running call's instance's held-COPY state.
func heldOf(c *host.Call) *held {
	return c.InstanceState(newHeld(c.Logger())).(*held)
}

// stopTimer keeps a pending idle commit from running (mu held).
func (h *held) stopTimer() {
	h.gen++
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}

// idle starts the idle timer when a COPY is held: the operation that held
// or continued it ended.
func (h *held) idle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cp == nil || h.closed || h.timer != nil {
		return
	}
	gen := h.gen
	h.timer = time.AfterFunc(heldCopyIdle, func() { h.commitIdle(gen) })
}

// commitIdle commits the held COPY when no operation continued it since
// the timer of generation gen started.
func (h *held) commitIdle(gen int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen != gen || h.cp == nil {
		return
	}
	h.timer = nil
	rows, err := h.end()
	h.ended = &heldEnd{rows: rows, err: err}
	if err != nil {
		h.log.Warn("committing a held COPY after it was idle failed: its rows are lost", "rows", rows, "error", err)
	} else {
		h.log.Debug("committed a held COPY after it was idle", "rows", rows, "idle", heldCopyIdle)
	}
}

// end sends the held COPY's trailer, ends it and returns the rows it
// stored (mu held). On an error nothing of it is stored, and the rows are
// the ones lost.
func (h *held) end() (int64, error) {
	cp, rows := h.cp, h.rows
	h.cp, h.rows, h.bytes = nil, 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), pgCleanupTimeout)
	defer cancel()
	if err := cp.q.write(ctx, copyTrailer, cp.done); err != nil {
		if errors.Is(err, errStopped) {
			// The COPY ended under it: report the COPY's own error.
			if _, cerr := cp.finish(); cerr != nil {
				err = cerr
			}
		} else {
			// The server took nothing for pgCleanupTimeout: give up on it.
			cp.abortWith(ctx, err)
		}
		return rows, &lostError{rows: rows, err: err}
	}
	cp.q.close()
	tag, err := cp.finish()
	if err != nil {
		return rows, &lostError{rows: rows, err: err}
	}
	return tag.RowsAffected(), nil
}

// abort aborts the held COPY, if any (mu held): nothing of it is stored.
func (h *held) abort(why string) int64 {
	if h.cp == nil {
		return 0
	}
	cp, rows := h.cp, h.rows
	h.cp, h.rows, h.bytes = nil, 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), pgCleanupTimeout)
	defer cancel()
	cp.abortWith(ctx, errors.New(why))
	return rows
}

// Close aborts a COPY still held when the instance ends: the guest did not
// commit it (it trapped, or its close did not end it).
func (h *held) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopTimer()
	h.closed = true
	if rows := h.abort("COPY aborted by the host: the instance ended while it held the COPY"); rows > 0 {
		h.log.Warn("aborted a held COPY: the instance ended without committing it", "rows", rows)
	}
}

// sameCopy reports whether req continues the COPY begun by h.req.
func (h *held) sameCopy(req abi.PgRequest) bool {
	return req.SQL == h.req.SQL && slices.Equal(req.Columns, h.req.Columns)
}

// checkHold checks the fields of a batch COPY that asks to be held.
func checkHold(req abi.PgRequest) error {
	switch {
	case !req.Batch:
		return errors.New("bad request: hold is for a batch COPY (batch: true)")
	case req.Tx != 0:
		return errors.New("bad request: a held COPY runs in a transaction of its own: tx must be 0")
	case req.Ordinal || len(req.Keys) > 0:
		return errors.New("bad request: a held COPY takes no ordinal and no keys (they number and check one batch)")
	}
	return nil
}

// copyHeld runs a batch COPY with hold: it continues the held COPY or
// begins one, and encodes the running write's records into it.
func copyHeld(ctx context.Context, c *host.Call, ps *session, req abi.PgRequest) (abi.PgCopyBatchResult, error) {
	var res abi.PgCopyBatchResult
	if err := checkHold(req); err != nil {
		return res, err
	}
	h := heldOf(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopTimer()
	b, recs, err := batchRequest(c, req)
	if err != nil {
		return res, err
	}
	if h.cp != nil && !h.sameCopy(req) {
		return res, errors.New("bad request: the instance holds a COPY of other sql or columns: end it with pg_copy_end first")
	}
	if e := h.ended; e != nil {
		h.ended = nil
		if e.err != nil {
			return res, &lostError{rows: e.rows, idle: true, err: e.err}
		}
		res.Committed = e.rows
	}
	header := h.cp == nil
	if header {
		cp, err := startCopy(ctx, true, ps, req)
		if err != nil {
			return res, err
		}
		cp.held = true
		h.cp, h.req = cp, req
	}
	earlier := h.rows
	n, err := h.cp.encodeBatch(ctx, b, recs, header)
	h.bytes += n
	if err != nil {
		var re *pgbinary.RowError
		switch {
		case errors.As(err, &re):
			h.abort("COPY aborted by the host: a value of the batch could not be encoded")
			err = &rowError{re}
		case errors.Is(err, errStopped):
			// The COPY ended under the encoder: the server refused a
			// value, or the connection broke. Report its own error.
			cp := h.cp
			h.cp, h.rows, h.bytes = nil, 0, 0
			if _, cerr := cp.finish(); cerr != nil {
				err = cerr
			}
		default:
			// The call was stopped: the held COPY, which does not end
			// with the call, is aborted.
			h.abort("COPY aborted by the host: the operation was stopped")
		}
		if earlier > 0 {
			err = &lostError{rows: earlier, earlier: true, err: err}
		}
		return res, err
	}
	h.rows += b.Rows()
	res.Rows, res.HeldRows, res.HeldBytes = b.Rows(), h.rows, h.bytes
	return res, nil
}

// endHeld ends the held COPY for pg_copy_end, or reports the outcome of
// the one the host committed by itself. ok is false when there is neither.
func endHeld(c *host.Call) (rows int64, ok bool, err error) {
	h := heldOf(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopTimer()
	if e := h.ended; e != nil {
		h.ended = nil
		if e.err != nil {
			return 0, true, &lostError{rows: e.rows, idle: true, err: e.err}
		}
		return e.rows, true, nil
	}
	if h.cp == nil {
		return 0, false, nil
	}
	rows, err = h.end()
	return rows, true, err
}

// holding reports whether the instance holds a COPY.
func holding(c *host.Call) bool {
	h := heldOf(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cp != nil
}

// copyTrailer ends a binary COPY stream.
var copyTrailer = []byte{0xff, 0xff}

// lostError is the error of a held COPY that failed: its rows are lost.
// Its note stays in the message the guest gets, next to the server's.
type lostError struct {
	rows    int64
	earlier bool // the rows of earlier batches (the COPY failed in a later one)
	idle    bool // the host's own commit after the COPY was idle failed
	err     error
}

func (e *lostError) note() string {
	switch {
	case e.idle:
		return fmt.Sprintf("the held COPY the host committed after it was idle failed: its %d rows are lost", e.rows)
	case e.earlier:
		return fmt.Sprintf("the held COPY was aborted: its %d rows of earlier batches are lost", e.rows)
	}
	return fmt.Sprintf("the held COPY failed: its %d rows are lost", e.rows)
}

func (e *lostError) Error() string { return e.note() + ": " + e.err.Error() }
func (e *lostError) Unwrap() error { return e.err }
