package linmem_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmdest/wasmdest/host/internal/linmem"
)

const page = 64 << 10

// mapped reports whether addr is inside a mapping of this process, from
// /proc/self/maps.
func mapped(t *testing.T, addr uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(strings.Fields(s.Text())[0], "%x-%x", &lo, &hi); err != nil {
			t.Fatalf("/proc/self/maps line %q: %v", s.Text(), err)
		}
		if lo <= addr && addr < hi {
			return true
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return false
}

func TestGrowKeepsContentsAndAddress(t *testing.T) {
	m := linmem.NewAllocator().Allocate(page, 64*page).(*linmem.Memory)
	defer m.Free()
	defer m.Unpin()
	if runtime.GOOS == "linux" && !m.Mapped() {
		t.Fatal("a 4 MiB memory fell back to the heap on linux")
	}
	b := m.Reallocate(page)
	if len(b) != page {
		t.Fatalf("Reallocate(%d) gave %d bytes", page, len(b))
	}
	for i := range b {
		b[i] = byte(i % 251)
	}
	addr := unsafe.SliceData(b)
	for size := 2 * page; size <= 64*page; size += 7 * page {
		g := m.Reallocate(uint64(size))
		if len(g) != size || cap(g) != size {
			t.Fatalf("Reallocate(%d) gave len %d cap %d", size, len(g), cap(g))
		}
		if m.Mapped() && unsafe.SliceData(g) != addr {
			t.Fatalf("Reallocate(%d) moved the memory", size)
		}
		for i := 0; i < page; i++ {
			if g[i] != byte(i%251) {
				t.Fatalf("after Reallocate(%d) byte %d is %d, was %d", size, i, g[i], byte(i%251))
			}
		}
		for i := size - page; i < size; i++ {
			if g[i] != 0 {
				t.Fatalf("after Reallocate(%d) new byte %d is %d, not zero", size, i, g[i])
			}
		}
		g[size-1] = 1 // the last byte is writable
		g[size-1] = 0
	}
	if got := m.Reallocate(65 * page); got != nil {
		t.Fatalf("Reallocate over the maximum gave %d bytes, want nil", len(got))
	}
	if got := m.Reallocate(64 * page); len(got) != 64*page {
		t.Fatalf("Reallocate to the maximum after a refusal gave %d bytes", len(got))
	}
}

func TestFreeUnmaps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/maps")
	}
	m := linmem.NewAllocator().Allocate(0, 16*page).(*linmem.Memory)
	b := m.Reallocate(2 * page)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if !mapped(t, addr) {
		t.Fatalf("memory at %#x is not mapped", addr)
	}
	m.Unpin() // instantiation over
	m.Free()
	if !m.Released() || mapped(t, addr) {
		t.Fatalf("memory at %#x is still mapped after Free", addr)
	}
	m.Free() // twice does nothing
	if m.Pin() {
		t.Fatal("a freed memory was pinned")
	}
	if got := m.Reallocate(4 * page); got != nil {
		t.Fatal("a freed memory grew")
	}
}

// TestFreeWaitsForCalls: a memory freed while a call runs in it (its
// instance closed under the call) stays mapped until the call ends.
func TestFreeWaitsForCalls(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/maps")
	}
	m := linmem.NewAllocator().Allocate(0, 16*page).(*linmem.Memory)
	m.Unpin()
	b := m.Reallocate(page)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if !m.Pin() {
		t.Fatal("could not pin a live memory")
	}
	m.Free()
	if m.Released() || !mapped(t, addr) {
		t.Fatal("memory was unmapped under a running call")
	}
	b[0] = 42 // still usable by the call
	m.Unpin()
	if !m.Released() || mapped(t, addr) {
		t.Fatal("memory stayed mapped after the last call ended")
	}
}

// growModule is a wasm module exporting its memory (1 page, at most maxPages;
// 0 for no declared maximum) and grow(delta) = memory.grow(delta).
func growModule(maxPages byte) []byte {
	mem := []byte{0x05, 0x04, 0x01, 0x01, 0x01, maxPages}
	if maxPages == 0 {
		mem = []byte{0x05, 0x03, 0x01, 0x00, 0x01}
	}
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f) // type (i32) -> i32
	b = append(b, 0x03, 0x02, 0x01, 0x00)                         // one function
	b = append(b, mem...)
	b = append(b, 0x07, 0x11, 0x02, 0x04, 'g', 'r', 'o', 'w', 0x00, 0x00, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00)
	b = append(b, 0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b) // local.get 0; memory.grow 0
	return b
}

// TestWasmMemoryGrow runs a real module on an Allocator: memory.grow keeps
// the memory in place, returns -1 past the maximum (declared, or the
// runtime's limit when the module declares none), and closing the module
// unmaps it.
func TestWasmMemoryGrow(t *testing.T) {
	for _, c := range []struct {
		name     string
		declared byte
		max      uint32
	}{{"declared max", 8, 8}, {"no declared max", 0, 12}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(12))
			defer rt.Close(ctx)
			a := linmem.NewAllocator()
			mod, err := rt.Instantiate(experimental.WithMemoryAllocator(ctx, a), growModule(c.declared))
			if err != nil {
				t.Fatal(err)
			}
			m := a.Memory()
			if m == nil {
				t.Fatal("the allocator made no memory")
			}
			m.Unpin()
			if runtime.GOOS == "linux" && m.Reserved() != uint64(c.max)*page {
				t.Fatalf("reserved %d bytes, want %d pages", m.Reserved(), c.max)
			}
			if !mod.Memory().WriteUint32Le(0, 0xfeedface) {
				t.Fatal("write to page 0 failed")
			}
			first, _ := mod.Memory().Read(0, 4)
			grow := mod.ExportedFunction("grow")
			for pages := uint32(1); pages < c.max; pages++ {
				res, err := grow.Call(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				if uint32(res[0]) != pages {
					t.Fatalf("memory.grow(1) at %d pages returned %d", pages, int32(res[0]))
				}
			}
			res, err := grow.Call(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if int32(res[0]) != -1 {
				t.Fatalf("memory.grow past %d pages returned %d, want -1", c.max, int32(res[0]))
			}
			if v, _ := mod.Memory().ReadUint32Le(0); v != 0xfeedface {
				t.Fatalf("page 0 holds %#x after growing", v)
			}
			last, ok := mod.Memory().Read(c.max*page-4, 4)
			if !ok || unsafe.SliceData(last) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(first)), c.max*page-4)) {
				t.Fatal("the memory moved while growing")
			}
			mod.Close(ctx)
			if !m.Released() {
				t.Fatal("closing the module did not release its memory")
			}
		})
	}
}

func TestPinned(t *testing.T) {
	m := linmem.NewAllocator().Allocate(0, page).(*linmem.Memory)
	m.Unpin()
	defer func() {
		if recover() == nil {
			t.Error("Unpin without Pin did not panic")
		}
	}()
	m.Unpin()
}
