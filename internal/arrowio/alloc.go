package arrowio

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// budgetAllocator passes allocations to mem while counting them against a
// budget that the reader resets before decoding each message. Going over
// panics with a *budgetError before anything is allocated; the reader's
// recover (or arrow-go's) turns it into an error. Frees are not counted:
// the budget bounds what one decode may ask for, not what callers keep.
type budgetAllocator struct {
	mem   memory.Allocator
	limit atomic.Int64
	used  atomic.Int64
}

type budgetError struct {
	asked, limit int64
}

func (e *budgetError) Error() string {
	return fmt.Sprintf("decoding asks for more than %d bytes (Limits.MaxBodyBytes) beyond the message: an allocation of %d bytes, e.g. a compressed buffer claiming a huge uncompressed size", e.limit, e.asked)
}

func (a *budgetAllocator) reset(limit int64) {
	a.limit.Store(limit)
	a.used.Store(0)
}

func (a *budgetAllocator) take(n int64) {
	if n < 0 || a.used.Add(n) > a.limit.Load() {
		panic(&budgetError{asked: n, limit: a.limit.Load()})
	}
}

func (a *budgetAllocator) Allocate(size int) []byte {
	a.take(int64(size))
	return a.mem.Allocate(size)
}

func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	if size > len(b) {
		a.take(int64(size - len(b)))
	}
	return a.mem.Reallocate(size, b)
}

func (a *budgetAllocator) Free(b []byte) { a.mem.Free(b) }
