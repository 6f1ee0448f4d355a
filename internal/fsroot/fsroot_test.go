package fsroot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmdest/wasmdest/internal/fsroot"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// probe runs the probe guest's operations ops (see testdata/probe) with fs
// mounted at "/" and returns its output lines, one per operation.
func probe(t *testing.T, fs wazero.FSConfig, ops ...string) []string {
	t.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testenv.CacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	wasm, err := os.ReadFile(testenv.BuildGuest(t, "internal/fsroot/testdata/probe"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithEnv("PROBE", strings.Join(ops, "|")).WithStdout(&out).WithStderr(&out).WithFSConfig(fs)
	mod, err := rt.InstantiateWithConfig(ctx, wasm, cfg)
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out.String())
	}
	mod.Close(ctx)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(ops) {
		t.Fatalf("probe printed %d lines for %d operations:\n%s", len(lines), len(ops), out.String())
	}
	for i, l := range lines {
		t.Logf("%-40s -> %s", ops[i], strings.TrimPrefix(strings.TrimPrefix(l, "OK "+ops[i]), "ERR "+ops[i]))
	}
	return lines
}

// layout makes <tmp>/root (to mount) and <tmp>/outside/secret.txt, with
// root/out a symlink to the outside directory by its absolute host path and
// root/in a symlink to root/sub. It returns root and outside.
func layout(t *testing.T) (root, outside string) {
	t.Helper()
	tmp := t.TempDir()
	root, outside = filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

// escapeOps try every way out of the mount the tests know of.
var escapeOps = []string{
	"read /out/secret.txt",         // 0: a host symlink to an absolute path outside
	"write /out/planted.txt x",     // 1: the same, writing
	"symlink ../outside /esc",      // 2: the guest makes its own relative symlink
	"read /esc/secret.txt",         // 3: ... and follows it
	"write /esc/planted2.txt x",    // 4
	"openat ../outside/secret.txt", // 5: ".." sent to the host as is
	"openat sub/../../outside/secret.txt",
	"write /../../outside-dotdot.txt x", // 7: Go cleans this to /outside-dotdot.txt in the root
	"read /in/../../outside/secret.txt", // 8: ".." after an inside symlink: Go cleans it to /outside/...
}

func ok(line string) bool { return strings.HasPrefix(line, "OK ") }

// check compares the outcomes of escapeOps with want: "ok", "eperm" (refused
// with EPERM) or "fail" (any other error: ".." that Go's path cleaning
// clamped to the root, so the file is simply not there).
func check(t *testing.T, mount string, res, want []string) {
	t.Helper()
	for i, w := range want {
		eperm := strings.Contains(strings.ToLower(res[i]), "operation not permitted")
		if (w == "ok") != ok(res[i]) || (w == "eperm") != eperm {
			t.Errorf("%s: %q: got %q, want %s", mount, escapeOps[i], res[i], w)
		}
	}
}

// TestWazeroDirMountEscapes records what wazero v1.12.0's own WithDirMount
// does: ".." cannot climb out, but symlinks are followed anywhere, including
// symlinks the guest makes itself. If this test starts failing, wazero
// changed and package fsroot may no longer be needed.
func TestWazeroDirMountEscapes(t *testing.T) {
	root, outside := layout(t)
	res := probe(t, wazero.NewFSConfig().WithDirMount(root, "/"), escapeOps...)
	check(t, "wazero DirMount", res, []string{"ok", "ok", "ok", "ok", "ok", "eperm", "eperm", "ok", "fail"})
	for _, f := range []string{"planted.txt", "planted2.txt"} {
		if _, err := os.Stat(filepath.Join(outside, f)); err != nil {
			t.Errorf("the escape did not plant %s outside the root: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "outside-dotdot.txt")); err != nil {
		t.Errorf("Go's path cleaning should have put /../../outside-dotdot.txt in the root: %v", err)
	}
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) Warn(msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, msg+fmt.Sprintf(strings.Repeat(" %v=%v", len(args)/2), args...))
}

// TestFSRootRefusesEscapes runs the same attempts on an fsroot mount: every
// one that left the directory is refused with EPERM and logged, and nothing
// is written outside.
func TestFSRootRefusesEscapes(t *testing.T) {
	root, outside := layout(t)
	var log logs
	res := probe(t, fsroot.FSConfig(root, "/", &log), escapeOps...)
	check(t, "fsroot", res, []string{"eperm", "eperm", "ok", "eperm", "eperm", "eperm", "eperm", "ok", "fail"})
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("files appeared outside the root: %v", entries)
	}
	if len(log.lines) == 0 {
		t.Error("no refusal was logged")
	}
	for _, l := range log.lines {
		t.Log("logged:", l)
	}
}

// TestFSRootOperations: what a guest needs of a filesystem works.
func TestFSRootOperations(t *testing.T) {
	root, _ := layout(t)
	ops := []string{
		"mkdir /a",
		"write /a/f.txt hello",
		"read /a/f.txt",
		"sync /a/g.txt synced",
		"stat /a/g.txt",
		"link /a/g.txt /a/h.txt",
		"rename /a/f.txt /a/renamed.txt",
		"readdir /a",
		"remove /a/g.txt",
		"readdir /",
		"write /in/via-inside-link.txt x",
		"read /sub/via-inside-link.txt",
		"read /a/../a/h.txt",
		"remove /a",
		"mkdir /a",
	}
	res := probe(t, fsroot.FSConfig(root, "/", nil), ops...)
	want := map[int]string{
		2:  "hello",
		4:  "6",
		7:  "g.txt,h.txt,renamed.txt",
		9:  "a,in,out,sub",
		11: "x",
		12: "synced",
	}
	for i, line := range res {
		switch {
		case i == 13 || i == 14:
			if ok(line) {
				t.Errorf("%q: got %q, want an error (directory not empty / exists)", ops[i], line)
			}
		case !ok(line):
			t.Errorf("%q failed: %s", ops[i], line)
		case want[i] != "" && !strings.HasSuffix(line, " "+want[i]):
			t.Errorf("%q: got %q, want result %q", ops[i], line, want[i])
		}
	}
}

// TestFSRootMissingDirectory: a mount whose directory cannot be opened
// fails every operation instead of exposing anything.
func TestFSRootMissingDirectory(t *testing.T) {
	res := probe(t, fsroot.FSConfig(filepath.Join(t.TempDir(), "nope"), "/", nil), "write /x.txt x", "readdir /")
	for _, l := range res {
		if ok(l) {
			t.Errorf("got %q, want an error", l)
		}
	}
}
