package gueststore_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/internal/gueststore"
)

// TestStore: modules are content-addressed, capped while read, references
// survive reopening the store (a restart), and a deleted reference's module
// goes once nothing names it.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := gueststore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := []byte("\x00asm one"), []byte("\x00asm two")
	if _, _, err := s.Put(bytes.NewReader(bytes.Repeat([]byte{1}, 101)), 100); !errors.Is(err, gueststore.ErrTooLarge) {
		t.Fatalf("101 bytes under a cap of 100: %v", err)
	}
	h1, got, err := s.Put(bytes.NewReader(v1), 100)
	if err != nil || !bytes.Equal(got, v1) || len(h1) != 64 {
		t.Fatalf("put: %v %q %q", err, got, h1)
	}
	h2, err := s.PutBytes(v2)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.PutBytes(v1); again != h1 {
		t.Fatalf("same bytes, another hash: %s %s", again, h1)
	}
	if err := s.SetRef("acme", gueststore.Ref{Name: "w", Current: h2, Previous: h1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRef("acme", gueststore.Ref{Name: "../x", Current: h2}); err == nil {
		t.Fatal("a name with a slash was accepted")
	}
	// A restart: a new Store on the same directory.
	s, err = gueststore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Ref("acme", "w")
	if err != nil || r.Current != h2 || r.Previous != h1 {
		t.Fatalf("after reopening: %+v %v", r, err)
	}
	if b, err := s.Get(h1); err != nil || !bytes.Equal(b, v1) {
		t.Fatalf("get: %q %v", b, err)
	}
	if refs, _ := s.Refs("acme"); len(refs) != 1 || refs[0].Name != "w" {
		t.Fatalf("refs: %+v", refs)
	}
	if _, err := s.Ref("globex", "w"); !errors.Is(err, gueststore.ErrNotFound) {
		t.Fatalf("another tenant's ref: %v", err)
	}
	// Corruption is detected.
	p := filepath.Join(dir, "blobs", "sha256", h1+".wasm")
	os.WriteFile(p, []byte("\x00asm evil"), 0o644)
	if _, err := s.Get(h1); err == nil {
		t.Fatal("corrupt module read back")
	}
	// Deleting: modules older than the grace period and unnamed go.
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(p, old, old)
	os.Chtimes(filepath.Join(dir, "blobs", "sha256", h2+".wasm"), old, old)
	if err := s.DeleteRef("acme", "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(h2); !errors.Is(err, gueststore.ErrNotFound) {
		t.Fatalf("unreferenced module kept: %v", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*", "*", ".tmp-*")); len(tmp) > 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}
