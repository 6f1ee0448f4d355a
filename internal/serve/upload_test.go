package serve_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/serve"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestServeHostileUploads uploads the corpus of hostile modules as one
// tenant while another streams beside it. Each upload fails alone with a
// clear error; the well-behaved tenant loses nothing; the test prints the
// server's peak heap and RSS and the neighbour's puts during the attack.
// Uploads compile in a child process (this test binary re-run, TestMain):
// one that compiles slowly fails at its compile_timeout with the child
// killed, its tenant's compile slot free at once; one whose compilation
// needs more memory than its limit fails with that limit named, the
// compiler's memory the child's and not the server's.
func TestServeHostileUploads(t *testing.T) {
	misbehaveWasm, err := os.ReadFile(misbehave(t))
	if err != nil {
		t.Fatal(err)
	}
	abiv2, err := os.ReadFile(abiv2Guest(t))
	if err != nil {
		t.Fatal(err)
	}
	pgwant, err := os.ReadFile(pgprobe(t))
	if err != nil {
		t.Fatal(err)
	}
	good := tenantSpec{name: "good", dests: guestDest("d", misbehave(t), "append", `{}`)}
	evil := tenantSpec{name: "evil", extra: "may_deploy = true\nmemory_limit_mib = 64\ncompile_timeout = \"5m\"\n", dests: deployedDest("d", "w")}
	slow := tenantSpec{name: "slow", extra: "may_deploy = true\nmemory_limit_mib = 64\ncompile_timeout = \"3s\"\n", dests: deployedDest("d", "w")}
	small := tenantSpec{name: "small", extra: "may_deploy = true\nmax_module_bytes = 1048576\n", dests: deployedDest("d", "w")}
	heavyMiB := 512 + raceUploadMiB
	heavy := tenantSpec{name: "heavy", extra: fmt.Sprintf("may_deploy = true\nmemory_limit_mib = 64\ncompile_memory_mib = %d\ncompile_timeout = \"5m\"\n", heavyMiB), dests: deployedDest("d", "w")}
	l := startServer(t, serve.Options{GuestStore: t.TempDir()}, good, evil, slow, small, heavy)
	ctx := context.Background()

	// The neighbour streams all along; the heap and RSS are sampled.
	var peak, peakRSS atomic.Uint64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			if r := rss(t); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
		}
	})
	gc := l.client("good")
	gb, err := gc.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var goodRows, goodPuts int
	var goodErr error
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			recs := batches(goodRows, 1, 500)
			_, err := gc.Put(ctx, gb.Sync, "users", usersSchema, recs...)
			release(recs)
			if err != nil {
				goodErr = err
				return
			}
			goodRows += 500
			goodPuts++
		}
	})

	nested := func(n int) []byte {
		return append(bytes.Repeat([]byte{opBlock, opBlockEmpty}, n), bytes.Repeat([]byte{opEnd}, n)...)
	}
	v := uint32(abi.CurrentVersion)
	hdr := []byte("\x00asm\x01\x00\x00\x00")
	cases := []struct {
		name   string
		tenant string
		wasm   []byte
		code   codes.Code
		says   string
	}{
		{"oversized", "small", append(slicesRepeat(hdr, 1), make([]byte, 64<<20)...), codes.ResourceExhausted, "max_module_bytes of 1048576"},
		{"not wasm", "evil", []byte("\x7fELF\x02\x01\x01\x00 not a module at all"), codes.InvalidArgument, "not a WebAssembly module"},
		{"truncated", "evil", misbehaveWasm[:len(misbehaveWasm)/2], codes.InvalidArgument, "truncated or crafted"},
		{"another ABI", "evil", abiv2, codes.InvalidArgument, "ABI"},
		{"ungranted capability", "evil", pgwant, codes.PermissionDenied, `capability "postgres", which tenant "evil" is not granted`},
		{"traps in _initialize", "evil", guestModule{version: v, initialize: []byte{opUnreachable}}.bytes(), codes.InvalidArgument, "unreachable"},
		// A module of this size has no valid manifest: refused here. A
		// deployed guest that passes and then allocates to its cap on
		// every write is the "hog" of TestServeHostileGuests.
		{"allocates to its cap on every call", "evil", guestModule{version: v, call: []byte{opI32Const, 0xff, 0x07, opMemoryGrow, 0, opDrop, opI32Const, 0}}.bytes(), codes.InvalidArgument, "manifest"},
		{"4 GiB memory", "evil", guestModule{version: v, memMin: 65536}.bytes(), codes.InvalidArgument, "over limit"},
		{"10M-element table", "evil", guestModule{version: v, tableMin: 10_000_000}.bytes(), codes.InvalidArgument, "table of 10000000 elements"},
		{"2^32-1 functions in 15 bytes", "evil", append(slicesRepeat(hdr, 1), section(3, uleb(0xffffffff))...), codes.InvalidArgument, "truncated or crafted"},
		{"4 GiB custom section in 16 bytes", "evil", append(slicesRepeat(hdr, 1), 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'x'), codes.InvalidArgument, "truncated or crafted"},
		{"spins in _initialize", "slow", guestModule{version: v, initialize: []byte{opLoop, opBlockEmpty, opBr, 0, opEnd}}.bytes(), codes.DeadlineExceeded, "compile_timeout of 3s"},
		// 50000 nested blocks would take wazero ~52 s to compile
		// (quadratic); the child compiling it is killed at 3 s. The
		// upload after it of the same tenant finds its compile slot free.
		{"compiles slowly", "slow", guestModule{version: v, bigFuncBody: nested(50000)}.bytes(), codes.DeadlineExceeded,
			"compile_timeout of 3s (the compiler was stopped at the wall-clock limit"},
		{"right after the slow one", "slow", guestModule{version: v, initialize: []byte{opUnreachable}}.bytes(), codes.InvalidArgument, "unreachable"},
	}
	children := regexp.MustCompile(`upload compiled in a child process: tenant=(\S+) guest=w pid=(\d+) max_rss_mib=(\d+) cpu=(\S+) wall=(\S+)`)
	// lastChild checks that the compile child of tenant's last upload is
	// gone, and returns its peak RSS in MiB.
	lastChild := func(what, tenant string) int64 {
		m := children.FindAllStringSubmatch(l.logs.String(), -1)
		if len(m) == 0 || m[len(m)-1][1] != tenant {
			t.Errorf("%s: no log of its compile child", what)
			return 0
		}
		pid, _ := strconv.Atoi(m[len(m)-1][2])
		childRSS, _ := strconv.ParseInt(m[len(m)-1][3], 10, 64)
		t.Logf("%-36s its compile child: peak RSS %d MiB, CPU %s, wall %s", "", childRSS, m[len(m)-1][4], m[len(m)-1][5])
		// A zombie has its /proc entry too: gone means reaped.
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: its compile child %d is still there after the upload ended (/proc: %v)", what, pid, err)
		}
		return childRSS
	}
	for _, c := range cases {
		start := time.Now()
		_, err := l.client(c.tenant).Deploy(ctx, "w", c.wasm)
		msg := status.Convert(err).Message()
		t.Logf("%-36s %8d bytes -> %v in %v: %.240s", c.name, len(c.wasm), code(err), time.Since(start).Round(time.Millisecond), msg)
		if code(err) != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("%s: got %v, want %s saying %q", c.name, err, c.code, c.says)
		}
		if c.name != "oversized" && c.name != "not wasm" { // these are refused before compiling
			lastChild(c.name, c.tenant)
		}
	}
	// The oversized body was refused without reading it whole.
	if m := regexp.MustCompile(`deploy refused: tenant=small guest=w read_bytes=(\d+)`).FindStringSubmatch(l.logs.String()); m == nil {
		t.Error("no log of the oversized upload")
	} else if n, _ := strconv.Atoi(m[1]); n > 4<<20 {
		t.Errorf("the server read %d bytes of a 64 MiB upload capped at 1 MiB", n)
	}
	close(stop)
	bg.Wait()
	if goodErr != nil {
		t.Fatalf("the neighbour failed: %v", goodErr)
	}
	if _, err := gc.Finish(ctx, gb.Sync); err != nil {
		t.Fatal(err)
	}
	if list, err := l.client("evil").Guests(ctx); err != nil || len(list) != 0 {
		t.Errorf("a refused upload was kept: %+v, %v", list, err)
	}

	// A huge function, with the neighbour stopped so that the server's
	// RSS is not the neighbour's garbage: 18 MB of straight-line code
	// takes wazero's compiler ~1 GiB (1043 MiB resident, measured); the
	// child stops at its 576 MiB and its memory was
	// never the server's.
	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	peakRSS.Store(before)
	stopRSS := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			select {
			case <-stopRSS:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if r := rss(t); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
		}
	})
	huge := guestModule{version: v, bigFuncBody: bytes.Repeat([]byte{opI32Const, 0, opDrop}, 6_000_000)}.bytes()
	_, err = l.client("heavy").Deploy(ctx, "w", huge)
	close(stopRSS)
	sampler.Wait()
	msg := status.Convert(err).Message()
	t.Logf("%-36s %8d bytes -> %v: %.300s", "a huge function", len(huge), code(err), msg)
	if code(err) != codes.ResourceExhausted || !strings.Contains(msg, fmt.Sprintf(`needed more than tenant "heavy"'s %d MiB (memory_limit_mib 64 + compile_memory_mib %d)`, 64+heavyMiB, heavyMiB)) {
		t.Errorf("a huge function: %v", err)
	}
	childRSS := lastChild("a huge function", "heavy")
	grew := int64(peakRSS.Load()>>20) - int64(before>>20)
	t.Logf("the huge function: server RSS %d MiB before, peak %d MiB during (%+d MiB); its compile child's peak RSS %d MiB",
		before>>20, peakRSS.Load()>>20, grew, childRSS)
	// In-process, the compilation alone would have grown the server by
	// more than the child's peak; the upload's own bytes (held by the
	// in-process client and the server, ~150 MiB of RSS, ~400 MiB under
	// the race detector) are the server's either way.
	if childRSS < 256 || grew > childRSS {
		t.Errorf("the server's RSS grew by %d MiB while its compile child reached %d MiB", grew, childRSS)
	}
	if kids := compileChildren(t); len(kids) > 0 {
		t.Errorf("compile children left running: %v", kids)
	}
	t.Logf("during the attack: server heap peak %d MiB, RSS now %d MiB; the neighbour wrote %d puts, %d rows", peak.Load()>>20, rss(t)>>20, goodPuts, goodRows)
	if peak.Load() > 2<<30 {
		t.Errorf("heap peaked at %d MiB during the attack", peak.Load()>>20)
	}
	if goodPuts == 0 {
		t.Error("the neighbour wrote nothing during the attack")
	}
}

func slicesRepeat(b []byte, n int) []byte { return bytes.Repeat(b, n) }

// rss is this process's resident memory in bytes.
func rss(t testing.TB) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/self/status")
	}
	kb, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return kb << 10
}

// compileChildren lists the processes that are children of this one and
// run this executable (the compile children), zombies included.
func compileChildren(t testing.TB) []string {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Children(os.Getpid(), func(dir, state string) bool {
		exe, _ := os.Readlink(filepath.Join(dir, "exe"))
		return exe == self || state == "Z"
	})
}
