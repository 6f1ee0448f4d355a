//go:build linux

package compilejail_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) {
	compilejail.Main() // the compile child: Inspect re-runs this test binary
	os.Exit(testenv.RunMain(m))
}

// uleb is an unsigned LEB128.
func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

// oneFunction is a module of one function () -> () with code as its body
// (no locals, the final end added). It is no guest: it compiles, then
// host.Runtime.Load refuses it for its exports.
func oneFunction(code []byte) []byte {
	body := append(append([]byte{0}, code...), 0x0b)
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, []byte{1, 0x60, 0, 0})...)
	out = append(out, section(3, []byte{1, 0})...)
	return append(out, section(10, append([]byte{1}, append(uleb(uint64(len(body))), body...)...))...)
}

// nested is n nested empty blocks: quadratic for wazero's compiler (50000
// took 52 s, RATIONALE.md).
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x02, 0x40}, n), bytes.Repeat([]byte{0x0b}, n)...)
}

// straight is n pairs of i32.const 0; drop: a long straight-line function.
func straight(n int) []byte { return bytes.Repeat([]byte{0x41, 0, 0x1a}, n) }

// gone fails unless the child pid is gone (reaped, not a zombie).
func gone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatal("no child pid reported")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		st, _ := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		t.Errorf("child %d still exists after Inspect returned (kill 0: %v): %s", pid, err, st)
	}
}

func itoa(n int) string { return fmtInt(n) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestInspectGuest: a real guest loads in the child, whose verdict is
// inspect's; the child is gone when Inspect returns.
func TestInspectGuest(t *testing.T) {
	wasm, err := os.ReadFile(testenv.BuildGuest(t, "host/testdata/guests/misbehave"))
	if err != nil {
		t.Fatal(err)
	}
	v, rep, err := compilejail.Inspect(context.Background(), compilejail.Options{Timeout: 5 * time.Minute},
		compilejail.Request{Source: "misbehave", GuestMemoryMiB: 64, CacheDir: testenv.CacheDir(t), Nice: 10}, wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict: %s %s ABI %s, %d imports, capabilities %v; child: max RSS %d MiB, CPU %v, wall %v",
		v.Name, v.Version, v.ABIVersion, len(v.Imports), v.Manifest.Capabilities, rep.MaxRSS>>20, rep.CPU, rep.Wall)
	if v.Name != "misbehave" || v.ABIVersion == "" || len(v.Imports) == 0 || v.Size != len(wasm) {
		t.Errorf("verdict %+v", v)
	}
	gone(t, rep.PID)

	// Truncated: refused by the module's checks, not a limit.
	_, rep, err = compilejail.Inspect(context.Background(), compilejail.Options{Timeout: time.Minute},
		compilejail.Request{Source: "half", GuestMemoryMiB: 64}, wasm[:len(wasm)/2])
	var refused *compilejail.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "truncated or crafted") {
		t.Errorf("truncated module: %v", err)
	}
	gone(t, rep.PID)
}

// TestInspectCompilesIntoTheCache: the child's compilation is in the cache
// directory afterwards, for the parent's own load to find.
func TestInspectCompilesIntoTheCache(t *testing.T) {
	dir := t.TempDir()
	_, _, err := compilejail.Inspect(context.Background(), compilejail.Options{Timeout: time.Minute},
		compilejail.Request{Source: "small", GuestMemoryMiB: 16, CacheDir: dir}, oneFunction(straight(100)))
	var refused *compilejail.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("a module without the guest exports: %v", err)
	}
	var files int
	walk, _ := os.ReadDir(dir)
	for _, e := range walk {
		sub, _ := os.ReadDir(dir + "/" + e.Name())
		files += len(sub)
	}
	if files == 0 {
		t.Errorf("the child left nothing in the cache directory %s", dir)
	}
}

// TestInspectLimits: a compilation that would take a minute is stopped at
// the wall deadline, and at the CPU limit; one that needs more memory than
// its limit fails with the memory limit named. Each time the child is gone
// when Inspect returns.
func TestInspectLimits(t *testing.T) {
	slow := oneFunction(nested(50000))
	ctx := context.Background()
	_, rep, err := compilejail.Inspect(ctx, compilejail.Options{Timeout: 500 * time.Millisecond},
		compilejail.Request{Source: "slow", GuestMemoryMiB: 16}, slow)
	var le *compilejail.LimitError
	t.Logf("wall limit: %v (child: max RSS %d MiB, CPU %v, wall %v)", err, rep.MaxRSS>>20, rep.CPU, rep.Wall)
	if !errors.As(err, &le) || le.Limit != compilejail.LimitWall || !strings.Contains(err.Error(), "500ms") {
		t.Errorf("wall limit: %v", err)
	}
	gone(t, rep.PID)

	_, rep, err = compilejail.Inspect(ctx, compilejail.Options{Timeout: 10 * time.Minute},
		compilejail.Request{Source: "slow", GuestMemoryMiB: 16, CPU: time.Second}, slow)
	t.Logf("CPU limit: %v (child: max RSS %d MiB, CPU %v, wall %v)", err, rep.MaxRSS>>20, rep.CPU, rep.Wall)
	if !errors.As(err, &le) || le.Limit != compilejail.LimitCPU || !strings.Contains(err.Error(), "1s") {
		t.Errorf("CPU limit: %v", err)
	}
	if rep.CPU < time.Second/2 {
		t.Errorf("the child used %v of CPU, not near its limit", rep.CPU)
	}
	gone(t, rep.PID)

	// Under the same memory limit a small function compiles (and is
	// refused for its exports), 2 MB of straight-line code does not (it
	// needs RLIMIT_DATA ~250 MiB; the child's baseline is ~100 MiB).
	limit := compilejail.MinCompilerMiB + raceMiB
	_, _, err = compilejail.Inspect(ctx, compilejail.Options{Timeout: 10 * time.Minute},
		compilejail.Request{Source: "small", GuestMemoryMiB: 16, CompilerMiB: limit}, oneFunction(straight(10_000)))
	var refused *compilejail.RefusedError
	if !errors.As(err, &refused) {
		t.Errorf("a small function under the memory limit: %v", err)
	}
	_, rep, err = compilejail.Inspect(ctx, compilejail.Options{Timeout: 10 * time.Minute},
		compilejail.Request{Source: "big", GuestMemoryMiB: 16, CompilerMiB: limit}, oneFunction(straight(700_000)))
	t.Logf("memory limit: %v (child: max RSS %d MiB, CPU %v, wall %v)", err, rep.MaxRSS>>20, rep.CPU, rep.Wall)
	if !errors.As(err, &le) || le.Limit != compilejail.LimitMemory || !strings.Contains(err.Error(), strconv.Itoa(16+limit)+" MiB") {
		t.Errorf("memory limit: %v", err)
	}
	gone(t, rep.PID)
}
