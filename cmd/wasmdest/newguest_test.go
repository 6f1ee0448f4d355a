package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestNewGuestBuildsAndConforms generates a guest from the embedded
// templates, builds it to wasm and natively vets it without the network,
// runs its own test (which runs the conformance suite), and runs
// `wasmdest conformance` on the .wasm.
func TestNewGuestBuildsAndConforms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module and its tests: not in -short")
	}
	dir := filepath.Join(t.TempDir(), "acme")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"new-guest", "acme-db", "--dir", dir, "--module", "example.org/acme", "--wasmdest", testenv.RepoRoot(t)}, &out, &errb)
	if code != 0 {
		t.Fatalf("new-guest: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go", "guest_test.go", "spec.schema.json", "Taskfile.yml", "README.md", ".gitignore"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(gomod), "module example.org/acme") || !strings.Contains(string(gomod), "replace github.com/wasmdest/wasmdest => "+testenv.RepoRoot(t)) {
		t.Errorf("go.mod:\n%s", gomod)
	}
	gocmd := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// Offline: everything comes from the checkout and the module cache.
		cmd.Env = append(append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly"), env...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	gocmd([]string{"GOOS=wasip1", "GOARCH=wasm"}, "vet", "./...")
	gocmd(nil, "vet", "./...")
	// The module's own tests: TestWriteRead in-process (sdktest), and
	// TestConformance, which builds the guest to WebAssembly and runs the
	// suite on it (the command line's conformance is TestConformanceCommand's).
	testOut := gocmd(nil, "test", "-count=1", "-v", "./...")
	if n := strings.Count(testOut, "--- PASS: TestConformance/"); n != 6 || !strings.Contains(testOut, "--- PASS: TestWriteRead") {
		t.Errorf("go test: %d conformance cases passed, want 6, and TestWriteRead\n%s", n, testOut)
	}

	// A second time into the same directory is refused.
	if code := run(context.Background(), []string{"new-guest", "acme-db", "--dir", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not empty") {
		t.Errorf("new-guest into a full directory: exit %d\n%s", code, errb.String())
	}
}

func TestNewGuestChecksName(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"new-guest", "Bad_Name", "--dir", t.TempDir()}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "lower-case") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
}

func TestParseGoMod(t *testing.T) {
	src := "module x\n\ngo 1.26.8\n\nrequire a/b v1.0.0\nrequire (\n\tc/d v0.1.0 // indirect\n\t// a comment\n\te/f v2.0.0+incompatible\n)\ntool g/h\n"
	goLine, reqs := parseGoMod([]byte(src))
	if goLine != "1.26.8" || strings.Join(reqs, ",") != "a/b v1.0.0,c/d v0.1.0,e/f v2.0.0+incompatible" {
		t.Errorf("go %q, requires %q", goLine, reqs)
	}
}
