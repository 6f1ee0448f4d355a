package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The compilation cache loses its oldest entries, down to the low mark,
// once it holds more than the high mark; recent entries stay whatever the
// total.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, size int, age time.Duration) {
		p := filepath.Join(dir, "wazero-v1-amd64-linux", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	left := func() []string {
		var out []string
		ents, _ := os.ReadDir(filepath.Join(dir, "wazero-v1-amd64-linux"))
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	write("a", 100, 72*time.Hour)
	write("b", 100, 48*time.Hour)
	write("c", 100, 24*time.Hour)
	write("d", 100, time.Minute)
	pruneCache(dir, 500, 200, time.Hour)
	if got := left(); len(got) != 4 {
		t.Fatalf("400 bytes under a high mark of 500: left %v, want all four", got)
	}
	pruneCache(dir, 300, 200, time.Hour)
	if got := left(); len(got) != 2 || got[0] != "c" || got[1] != "d" {
		t.Fatalf("400 bytes over a high mark of 300, pruned to 200: left %v, want [c d]", got)
	}
	write("e", 100, time.Minute)
	pruneCache(dir, 100, 0, time.Hour)
	if got := left(); len(got) != 2 || got[0] != "d" || got[1] != "e" {
		t.Fatalf("pruned to 0, entries of the last hour kept: left %v, want [d e]", got)
	}
}
