// Package batch groups the record batches of one table into batches bounded
// by rows, bytes and age, as the CloudQuery SDK's batch writer does.
//
// # Limits
//
// A limit of zero or less is unlimited. Bytes are the in-memory size of the
// Arrow buffers (see RecordSize). A batch never holds more than Limits.Rows
// rows or Limits.Bytes bytes: a record that does not fit is sliced so that
// the batch fills exactly, the batch is flushed, and the rest of the record
// starts the next batch (and is sliced again if it is bigger than a whole
// batch). The slice point is found by average bytes per row and then
// corrected with the exact size of the slice, so skewed rows cannot push a
// batch over the byte limit. The one exception: a single row bigger than
// Limits.Bytes cannot be split and is flushed alone, in a batch of its own.
//
// # Time
//
// The Batcher starts no goroutines and reads no timers. Deadline tells the
// caller when the oldest pending row reaches its Timeout; the caller
// arranges to call Flush then (for example with a time.Timer in its select
// loop). Add also flushes first when it finds the deadline already passed.
//
// # Ownership
//
// Add retains what it keeps (the record, or slices of it, which hold
// references to the record's buffers): the caller keeps its own reference
// and releases it whenever it likes. The records passed to the flush function
// belong to the Batcher and are released by it as soon as flush returns,
// whether it fails or not; flush must not keep them, or the slice holding
// them, past its return unless it calls Retain on each record it keeps (and
// Release later). Slices share their source record's buffers, so memory held
// by pending rows can be larger than Pending reports, up to the size of the
// records they were cut from.
//
// # Errors
//
// When flush returns an error, Add or Flush returns it wrapped, and the
// records of that batch are dropped (released) all the same: the Batcher is
// then empty and usable, and the caller decides whether to go on or to
// abandon the table. If the failed flush happened inside Add, the rows of the
// record that had not yet been placed in a batch are dropped too (none of the
// record is pending afterwards). Discard drops pending records without a
// flush.
//
// A Batcher is not safe for concurrent use.
package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
)

// Batcher accumulates records and hands them to a flush function in batches.
type Batcher struct {
	lim   abi.BatchLimits
	flush func(ctx context.Context, recs []arrow.RecordBatch) error
	now   func() time.Time

	recs   []arrow.RecordBatch
	rows   int64
	bytes  int64
	oldest time.Time // when the first pending row was added
}

// New returns a Batcher that calls flush with each full batch.
func New(lim abi.BatchLimits, flush func(ctx context.Context, recs []arrow.RecordBatch) error) *Batcher {
	return &Batcher{lim: lim, flush: flush, now: time.Now}
}

// Pending returns the rows and bytes waiting to be flushed.
func (b *Batcher) Pending() (rows, bytes int64) { return b.rows, b.bytes }

// Deadline returns when the oldest pending row reaches its Timeout. It is
// false when nothing is pending or there is no timeout.
func (b *Batcher) Deadline() (time.Time, bool) {
	if b.lim.Timeout <= 0 || len(b.recs) == 0 {
		return time.Time{}, false
	}
	return b.oldest.Add(b.lim.Timeout), true
}

const unlimited = int64(1<<63 - 1)

func remaining(limit, used int64) int64 {
	if limit <= 0 {
		return unlimited
	}
	return limit - used
}

func (b *Batcher) full() bool {
	return (b.lim.Rows > 0 && b.rows >= b.lim.Rows) || (b.lim.Bytes > 0 && b.bytes >= b.lim.Bytes)
}

// Add adds rec's rows, flushing each time a batch is full. Empty records are
// ignored. See the package documentation for ownership and errors.
func (b *Batcher) Add(ctx context.Context, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("batch: add: %w", err)
	}
	n := rec.NumRows()
	if n <= 0 {
		return nil
	}
	if d, ok := b.Deadline(); ok && !b.now().Before(d) {
		if err := b.Flush(ctx); err != nil {
			return err
		}
	}
	for off := int64(0); off < n; {
		k, size := b.fit(rec, off, n-off)
		if k == 0 {
			if len(b.recs) > 0 {
				if err := b.Flush(ctx); err != nil {
					return err
				}
				continue
			}
			// One row is bigger than the byte limit: it goes alone.
			k, size = 1, sliceSize(rec, off, 1)
		}
		b.push(rec, off, k, size)
		off += k
		// A cut record means the batch holds all it can.
		if b.full() || off < n {
			if err := b.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// fit returns how many rows of rec from off (at most avail) fit in the
// current batch, and their size.
func (b *Batcher) fit(rec arrow.RecordBatch, off, avail int64) (int64, int64) {
	remRows := remaining(b.lim.Rows, b.rows)
	remBytes := remaining(b.lim.Bytes, b.bytes)
	hi := min(avail, remRows)
	if hi <= 0 || remBytes <= 0 {
		return 0, 0
	}
	size := sliceSize(rec, off, hi)
	if size <= remBytes {
		return hi, size
	}
	// Largest k in [0, hi) with sliceSize(k) <= remBytes; sizes grow with k.
	// First guess by average bytes per row, then bisect.
	lo, loSize := int64(0), int64(0)
	if avg := (size + hi - 1) / hi; avg > 0 {
		if g := remBytes / avg; g > 0 && g < hi {
			if gs := sliceSize(rec, off, g); gs <= remBytes {
				lo, loSize = g, gs
			} else {
				hi = g
			}
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ms := sliceSize(rec, off, mid); ms <= remBytes {
			lo, loSize = mid, ms
		} else {
			hi = mid
		}
	}
	return lo, loSize
}

func (b *Batcher) push(rec arrow.RecordBatch, off, k, size int64) {
	var part arrow.RecordBatch
	if off == 0 && k == rec.NumRows() {
		rec.Retain()
		part = rec
	} else {
		part = rec.NewSlice(off, off+k)
	}
	if len(b.recs) == 0 {
		b.oldest = b.now()
	}
	b.recs = append(b.recs, part)
	b.rows += k
	b.bytes += size
}

// Flush hands the pending records, in the order they were added, to the
// flush function. It does nothing when nothing is pending. The records are
// released when flush returns; on error they are dropped and the error is
// returned wrapped.
func (b *Batcher) Flush(ctx context.Context) error {
	if len(b.recs) == 0 {
		return nil
	}
	recs, rows, bytes := b.recs, b.rows, b.bytes
	b.recs, b.rows, b.bytes, b.oldest = nil, 0, 0, time.Time{}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if err := b.flush(ctx, recs); err != nil {
		return fmt.Errorf("batch: flush of %d rows (%d bytes) in %d records failed, batch dropped: %w", rows, bytes, len(recs), err)
	}
	return nil
}

// Discard releases the pending records without flushing them.
func (b *Batcher) Discard() {
	for _, r := range b.recs {
		r.Release()
	}
	b.recs, b.rows, b.bytes, b.oldest = nil, 0, 0, time.Time{}
}
