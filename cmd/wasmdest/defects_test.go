package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// run opens (sniffs) every input before it loads a guest or connects
// anywhere, and loads each guest once.
func TestRunOpensInputsFirstAndLoadsTheGuestOnce(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "notes.arrows")
	if err := os.WriteFile(bad, []byte("this is not Arrow at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := wasmdest(t, "run", "--guest", filepath.Join(t.TempDir(), "missing.wasm"), "--input", bad)
	if code == 0 || !strings.Contains(stderr, bad) || strings.Contains(stderr, "missing.wasm") {
		t.Errorf("exit %d, stderr:\n%s\nwant the input refused before the guest is looked at", code, stderr)
	}

	in := filepath.Join(t.TempDir(), "data.arrows")
	b, _ := demoData.ReadFile("demodata/demo_orders.arrows")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := wasmdest(t, "run", "--log-level", "debug", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", t.TempDir(),
		"--spec", `{"path":"{{TABLE}}.{{FORMAT}}","format":"csv","no_rotate":true}`, "--input", in)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "guest loaded"); n != 1 {
		t.Errorf("the guest was loaded %d times, want once:\n%s", n, stderr)
	}
}
