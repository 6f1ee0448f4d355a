// Package testenv gives tests the real parts they run against: guests
// compiled to WebAssembly during the test run, and a PostgreSQL server.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot find the repository root")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// BuildGuest compiles the Go guest package pkg (a path relative to the
// repository root, like "guests/file") to WebAssembly once per test process
// and returns the .wasm path.
func BuildGuest(t testing.TB, pkg string) string {
	t.Helper()
	p, err := Build(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Build is BuildGuest for callers without a testing.TB, such as examples.
func Build(pkg string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	dir, err := os.MkdirTemp("", "wasmdest-guest-")
	if err != nil {
		return "", err
	}
	// Named as the builtin registry looks guests up: NAME.wasm.
	out := filepath.Join(dir, filepath.Base(pkg)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out, nil
}

// CacheDir returns a compilation cache directory shared by the tests of one
// machine, so that each guest is compiled cold once, not in every test.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "wasmdest-test-compilation-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
