package linmem

import "testing"

// TestHeapFallbackGrows: a memory the system would not map grows on the Go
// heap, keeping its contents, up to its maximum.
func TestHeapFallbackGrows(t *testing.T) {
	m := newMemory(4<<16, false)
	if m.Mapped() {
		t.Fatal("memory mapped")
	}
	b := m.Reallocate(1 << 16)
	b[0], b[len(b)-1] = 1, 2
	g := m.Reallocate(3 << 16)
	if len(g) != 3<<16 || g[0] != 1 || g[1<<16-1] != 2 || g[2<<16] != 0 {
		t.Fatalf("grown heap memory: len %d, contents lost", len(g))
	}
	if m.Reallocate(5<<16) != nil {
		t.Fatal("heap memory grew past its maximum")
	}
	m.Free()
	if !m.Released() || m.Reallocate(1<<16) != nil {
		t.Fatal("freed heap memory still usable")
	}
}
