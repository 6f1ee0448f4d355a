// Package testenv gives tests the real parts they run against: guests
// compiled to WebAssembly during the test run, and a PostgreSQL server.
package testenv

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// GuestsEnv names the environment variable that points the tests at guests
// built beforehand, as `go tool task test` does with cmd testguests: a
// directory holding DIR/PKG/NAME.wasm for each package PKG ("guests/file"
// as DIR/guests/file/file.wasm). BuildGuest takes a guest from there and
// builds only those it does not find, so one run compiles each guest once
// instead of once per test process. Set it only to guests built from the
// tree under test: nothing checks that they are current.
const GuestsEnv = "WASMDEST_TEST_GUESTS"

// Guests returns the Go guest packages the tests build, as paths relative to
// the repository root.
func Guests() []string {
	return []string{
		"guests/file", "guests/s3", "guests/postgres", "guests/sqlite", "guests/mysql", "guests/duckdb",
		"host/testdata/guests/abiv2", "host/testdata/guests/hostile", "host/testdata/guests/misbehave",
		"host/testdata/guests/pgnocap", "host/testdata/guests/pgprobe", "host/testdata/guests/httpprobe", "guests/webhook",
		"internal/fsroot/testdata/probe",
	}
}

// GuestPath returns where a guest of package pkg lies below dir: the layout
// GuestsEnv names, and the name the builtin registry looks guests up by
// (NAME.wasm).
func GuestPath(dir, pkg string) string {
	return filepath.Join(dir, filepath.FromSlash(pkg), path.Base(pkg)+".wasm")
}

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
// repository root, like "guests/file") to WebAssembly once per test process,
// or takes it from $WASMDEST_TEST_GUESTS (see GuestsEnv), and returns the
// .wasm path.
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
	if dir := os.Getenv(GuestsEnv); dir != "" {
		if p := GuestPath(dir, pkg); fileExists(p) {
			built[pkg] = p
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "wasmdest-guest-")
	if err != nil {
		return "", err
	}
	out := GuestPath(dir, pkg)
	if err := BuildTo(pkg, out); err != nil {
		return "", err
	}
	built[pkg] = out
	return out, nil
}

// BuildTo compiles the Go guest package pkg to WebAssembly at out. It
// builds with -trimpath, so that the module is the same bytes in every
// checkout and worktree, and so found in the compilation cache.
func BuildTo(pkg, out string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build guest %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// CacheDir returns a compilation cache directory shared by the tests of one
// machine, so that each guest is compiled cold once, not in every test.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir, err := CompilationCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// CompilationCacheDir is CacheDir for callers without a testing.TB. The
// first call of a process prunes it (pruneCache): every guest build adds
// entries and none is ever removed, which filled a development machine's
// disk (27 GB) until a test server died of it.
func CompilationCacheDir() (string, error) {
	dir := filepath.Join(os.TempDir(), "wasmdest-test-compilation-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return dir, err
	}
	pruneOnce.Do(func() { pruneCache(dir, cacheHigh, cacheLow, time.Hour) })
	return dir, nil
}

var pruneOnce sync.Once

// The compilation cache is pruned to cacheLow bytes when it holds more than
// cacheHigh: a guest compiles to 30-250 MB, so this keeps every current
// guest of a few builds.
const cacheHigh, cacheLow = 8 << 30, 4 << 30

// pruneCache deletes the oldest files under dir (by modification time:
// wazero writes an entry once and only reads it after) until they total at
// most low bytes, when they total more than high. Files younger than
// minAge are kept, since a test process running beside this one may have
// just written them; errors are ignored (another process may prune too).
func pruneCache(dir string, high, low int64, minAge time.Duration) {
	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var files []entry
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			files = append(files, entry{p, fi.Size(), fi.ModTime()})
			total += fi.Size()
		}
		return nil
	})
	if total <= high {
		return
	}
	slices.SortFunc(files, func(a, b entry) int { return a.mod.Compare(b.mod) })
	cutoff := time.Now().Add(-minAge)
	for _, f := range files {
		if total <= low || f.mod.After(cutoff) {
			return
		}
		if os.Remove(f.path) == nil {
			total -= f.size
		}
	}
}
