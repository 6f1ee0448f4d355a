package serve_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"runtime"
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
)

// TestServeHostileUploads uploads the corpus of hostile modules as one
// tenant while another streams beside it. Each upload fails alone with a
// clear error; the well-behaved tenant loses nothing; the test prints the
// server's peak heap and the neighbour's puts during the attack.
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
	slow := tenantSpec{name: "slow", extra: "may_deploy = true\nmemory_limit_mib = 64\ncompile_timeout = \"1s\"\n", dests: deployedDest("d", "w")}
	small := tenantSpec{name: "small", extra: "may_deploy = true\nmax_module_bytes = 1048576\n", dests: deployedDest("d", "w")}
	l := startServer(t, serve.Options{GuestStore: t.TempDir()}, good, evil, slow, small)
	ctx := context.Background()

	// The neighbour streams all along; the heap is sampled.
	var peak atomic.Uint64
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
		{"allocates to its cap on every call", "evil", guestModule{version: v, call: []byte{opI32Const, 0xff, 0x07, opMemoryGrow, 0, opDrop, opI32Const, 0}}.bytes(), codes.InvalidArgument, "manifest"},
		{"4 GiB memory", "evil", guestModule{version: v, memMin: 65536}.bytes(), codes.InvalidArgument, "over limit"},
		{"10M-element table", "evil", guestModule{version: v, tableMin: 10_000_000}.bytes(), codes.InvalidArgument, "table of 10000000 elements"},
		{"2^32-1 functions in 15 bytes", "evil", append(slicesRepeat(hdr, 1), section(3, uleb(0xffffffff))...), codes.InvalidArgument, "truncated or crafted"},
		{"4 GiB custom section in 16 bytes", "evil", append(slicesRepeat(hdr, 1), 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'x'), codes.InvalidArgument, "truncated or crafted"},
		{"spins in _initialize", "slow", guestModule{version: v, initialize: []byte{opLoop, opBlockEmpty, opBr, 0, opEnd}}.bytes(), codes.DeadlineExceeded, "compile_timeout of 1s"},
		// Last: wazero cannot stop it, it keeps the tenant's compile slot
		// after the upload failed (~2 s, quadratic in the nesting).
		// A custom section unique to this run keeps the module out of the shared
		// compilation cache, where a compile that outlived an earlier run's
		// timeout would have left it.
		{"compiles slowly", "slow", guestModule{version: v, bigFuncBody: nested(12000), extra: [][]byte{
			section(0, append(name("nonce"), strconv.FormatInt(time.Now().UnixNano(), 10)...))}}.bytes(), codes.DeadlineExceeded, "compile_timeout of 1s"},
	}
	for _, c := range cases {
		start := time.Now()
		_, err := l.client(c.tenant).Deploy(ctx, "w", c.wasm)
		msg := status.Convert(err).Message()
		t.Logf("%-36s %8d bytes -> %v in %v: %.160s", c.name, len(c.wasm), code(err), time.Since(start).Round(time.Millisecond), msg)
		if code(err) != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("%s: got %v, want %s saying %q", c.name, err, c.code, c.says)
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
	t.Logf("during the attack: server heap peak %d MiB; the neighbour wrote %d puts, %d rows", peak.Load()>>20, goodPuts, goodRows)
	if peak.Load() > 2<<30 {
		t.Errorf("heap peaked at %d MiB during the attack", peak.Load()>>20)
	}
	if goodPuts == 0 {
		t.Error("the neighbour wrote nothing during the attack")
	}
}

func slicesRepeat(b []byte, n int) []byte { return bytes.Repeat(b, n) }
