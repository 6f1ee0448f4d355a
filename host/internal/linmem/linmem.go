// Package linmem backs guests' linear memories with address space reserved
// outside the Go heap, so that a growing memory never moves or is copied.
//
// wazero's default grows a guest's memory by reallocating its []byte on the
// Go heap and copying it: each memory.grow of a large guest copies hundreds of
// MiB, and the big allocations make the host's collector run more often. An
// Allocator instead reserves the memory's whole maximum up front as
// inaccessible address space (mmap PROT_NONE, MAP_NORESERVE on Linux: no
// memory is committed) and makes pages readable and writable as the guest
// grows (mprotect). The memory keeps its address for its whole life and is
// released to the system (munmap) when its instance closes. Fresh pages are
// zero, as WebAssembly wants, without clearing them.
//
// Where that is not available (no mmap on the platform, a 32-bit host, or the
// reservation is refused, e.g. under ulimit -v), a memory falls back to the Go heap and
// grows by copying, as wazero's default does.
//
// An unmapped memory must not be touched: a Memory counts the calls running
// in it (Pin, Unpin) and unmaps only once it is freed and none runs, so an
// instance closed while a call is still in it (a runtime closed under a
// running call) does not pull the memory from under the guest's code.
package linmem

import (
	"strconv"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Allocator makes the linear memory of one instantiation; use a new one for
// each (experimental.WithMemoryAllocator on the context passed to
// InstantiateModule), then take the memory it made with Memory.
type Allocator struct {
	mu  sync.Mutex
	mem *Memory
}

// NewAllocator returns an Allocator for one instantiation.
func NewAllocator() *Allocator { return &Allocator{} }

// Allocate implements experimental.MemoryAllocator: it reserves max bytes
// (a multiple of the 64 KiB wasm page; wazero passes the module's declared
// maximum, or the runtime's memory limit when the module declares none). cap
// is ignored: nothing is committed before Reallocate. The Memory comes back
// pinned by its creator: Unpin it once instantiation has returned.
func (a *Allocator) Allocate(_, max uint64) experimental.LinearMemory {
	m := newMemory(max, true)
	m.pins = 1
	a.mu.Lock()
	a.mem = m
	a.mu.Unlock()
	return m
}

// Memory returns the memory Allocate made, or nil when the module has none
// (or instantiation failed before making it).
func (a *Allocator) Memory() *Memory {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mem
}

// Memory is one linear memory. It implements experimental.LinearMemory.
type Memory struct {
	mu sync.Mutex
	// region is the whole reservation when mapped, nil on the heap.
	region []byte
	// size is the length handed out last: the accessible part of region.
	size uint64
	// heap backs the memory when it is not mapped.
	heap []byte
	// max is the most Reallocate gives.
	max   uint64
	pins  int
	freed bool
}

// newMemory makes a memory of at most max bytes, mapped if tryMap says so and
// the system agrees.
func newMemory(max uint64, tryMap bool) *Memory {
	m := &Memory{max: max}
	// A 32-bit host has too little address space to reserve maximums.
	if tryMap && max > 0 && strconv.IntSize == 64 {
		if region, err := reserve(max); err == nil {
			m.region = region
		}
	}
	return m
}

// Mapped reports whether the memory lives outside the Go heap (false: it
// fell back to the heap).
func (m *Memory) Mapped() bool { return m.region != nil }

// Reserved returns how many bytes of address space the memory holds (its
// maximum), 0 on the heap.
func (m *Memory) Reserved() uint64 { return uint64(len(m.region)) }

// Reallocate implements experimental.LinearMemory: it returns the memory
// grown to size bytes, at the same address when mapped, or nil when size is
// over the maximum or the system refuses the pages (the guest's memory.grow
// then returns -1).
func (m *Memory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || size > m.max {
		return nil
	}
	if m.region == nil {
		if size <= uint64(cap(m.heap)) {
			m.heap = m.heap[:size]
			return m.heap
		}
		grown := make([]byte, size)
		copy(grown, m.heap)
		m.heap = grown
		return grown
	}
	if size > m.size {
		if err := commit(m.region[m.size:size]); err != nil {
			return nil
		}
		m.size = size
	}
	// The capacity stops at size, so nothing appends into the
	// inaccessible rest.
	return m.region[:size:size]
}

// Free implements experimental.LinearMemory: the memory is released now, or
// when the last call running in it ends (Unpin). Free twice does nothing.
func (m *Memory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freed = true
	m.releaseIfIdle()
}

// Pin says a call is about to run in the memory, which is then not unmapped
// until Unpin. It returns false, pinning nothing, when the memory is already
// freed: its instance is closed and must not be called.
func (m *Memory) Pin() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return false
	}
	m.pins++
	return true
}

// Unpin ends what Pin (or Allocate) began, releasing the memory if it was
// freed meanwhile.
func (m *Memory) Unpin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pins <= 0 {
		panic("linmem: Unpin without Pin")
	}
	m.pins--
	m.releaseIfIdle()
}

// Released reports whether the memory has been given back to the system.
func (m *Memory) Released() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.freed && m.pins == 0
}

func (m *Memory) releaseIfIdle() {
	if !m.freed || m.pins > 0 {
		return
	}
	if m.region != nil {
		// munmap fails only for a bad range, which region is not; the
		// address space would then stay reserved, which is all it costs.
		_ = release(m.region)
		m.region = nil
	}
	m.heap = nil
}
