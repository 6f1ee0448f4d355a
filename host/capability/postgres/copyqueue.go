package postgres

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// CopyQueueBytes bounds what pg_copy_data holds for one COPY: the guest's
// chunks are copied into a queue of this many bytes, which pgconn's CopyFrom
// drains onto the connection on its own goroutine, so that the guest encodes
// the next chunk while the previous ones are on their way to the server.
// When the queue is full (the server reads slower than the guest encodes, or
// waits for a lock), pg_copy_data waits for room. Four of the postgres
// guest's chunks.
const CopyQueueBytes = 1 << 20

// copyQueueHigh is the most bytes any COPY's queue has held, for tests
// (CopyQueueHighWater).
var copyQueueHigh atomic.Int64

// queueBuffers recycles the queues' rings between COPYs.
var queueBuffers = sync.Pool{New: func() any { b := make([]byte, CopyQueueBytes); return &b }}

// copyQueue is a bounded byte queue, a ring: pg_copy_data writes into it
// from the guest's goroutine and pgconn's CopyFrom reads it (io.Reader) on
// the COPY's goroutine.
type copyQueue struct {
	mu     sync.Mutex
	ring   *[]byte // nil once released
	r, n   int     // read offset and bytes queued
	closed bool    // no more writes: Read returns io.EOF after the data
	err    error   // aborted: Read returns err at once

	readable chan struct{} // signalled when data arrives, or on close or abort
	writable chan struct{} // signalled when room is made
}

func newCopyQueue() *copyQueue {
	return &copyQueue{
		ring:     queueBuffers.Get().(*[]byte),
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// write queues all of p, waiting for room while the queue is full. It
// returns early with errStopped when stop is closed (the COPY ended) and
// with ctx's error when ctx ends; p is not kept.
func (q *copyQueue) write(ctx context.Context, p []byte, stop <-chan struct{}) error {
	for len(p) > 0 {
		q.mu.Lock()
		if q.closed || q.err != nil || q.ring == nil {
			q.mu.Unlock()
			return errStopped
		}
		ring := *q.ring
		if q.n < len(ring) {
			w := (q.r + q.n) % len(ring)
			end := len(ring)
			if w < q.r {
				end = q.r
			}
			k := copy(ring[w:end], p)
			p = p[k:]
			q.n += k
			for h := copyQueueHigh.Load(); int64(q.n) > h && !copyQueueHigh.CompareAndSwap(h, int64(q.n)); h = copyQueueHigh.Load() {
			}
			q.mu.Unlock()
			signal(q.readable)
			continue
		}
		q.mu.Unlock()
		select {
		case <-q.writable:
		case <-stop:
			return errStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// errStopped is write's error when the COPY ended under it; the caller
// reports the COPY's own error.
var errStopped = io.ErrClosedPipe

// Read implements io.Reader for pgconn's CopyFrom: it waits for data and
// returns io.EOF once the queue is closed and drained.
func (q *copyQueue) Read(p []byte) (int, error) {
	for {
		q.mu.Lock()
		if q.err != nil {
			err := q.err
			q.mu.Unlock()
			return 0, err
		}
		if q.ring == nil {
			q.mu.Unlock()
			return 0, errStopped
		}
		if q.n > 0 {
			ring := *q.ring
			end := min(q.r+q.n, len(ring))
			k := copy(p, ring[q.r:end])
			q.r = (q.r + k) % len(ring)
			q.n -= k
			if q.n == 0 {
				q.r = 0
			}
			q.mu.Unlock()
			signal(q.writable)
			return k, nil
		}
		if q.closed {
			q.mu.Unlock()
			return 0, io.EOF
		}
		q.mu.Unlock()
		<-q.readable
	}
}

// close says the guest wrote everything: Read returns io.EOF after the data.
func (q *copyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.readable)
}

// abort makes Read fail with err at once, dropping what is queued.
func (q *copyQueue) abort(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	signal(q.readable)
	signal(q.writable)
}

// release returns the ring for reuse once the COPY ended. pgconn may leave
// its reading goroutine behind when the server closes the connection: a
// Read waiting in it returns errStopped.
func (q *copyQueue) release() {
	q.mu.Lock()
	if q.ring != nil {
		queueBuffers.Put(q.ring)
		q.ring = nil
	}
	q.mu.Unlock()
	signal(q.readable)
}
