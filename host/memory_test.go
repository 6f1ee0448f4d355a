package host_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestGuestMemoryGrowsToItsCap: a guest grows its memory (outside the Go
// heap, host/internal/linmem) to near its 64 MiB cap and keeps working, its
// data intact; growing past the cap fails that call alone, cleanly, and the
// instance is replaced.
func TestGuestMemoryGrowsToItsCap(t *testing.T) {
	const limit = 64 << 20
	rt := testenv.Runtime(t, host.Config{MemoryLimit: limit})
	p := misbehavePool(t, rt, `{"hold_mib": 36}`, 1)
	ctx := context.Background()
	rec := people(0, 100)
	defer rec.Release()

	in, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := in.MemorySize()
	if err := p.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: "t"}, host.RecordBody(rec.Schema(), rec), nil); err != nil {
		t.Fatalf("write holding 36 MiB under a 64 MiB cap: %v", err)
	}
	after := in.MemorySize()
	t.Logf("memory %d -> %d MiB", before>>20, after>>20)
	if after < 36<<20 || after > limit || after <= before {
		t.Fatalf("memory %d -> %d bytes: want it grown past 36 MiB, at most the cap", before, after)
	}
	var out bytes.Buffer
	if err := p.Call(ctx, in, abi.OpRead, abi.TableRequest{Table: "t"}, host.RecordBody(rec.Schema()), &out); err != nil {
		t.Fatalf("read after growing: %v", err)
	}
	_, recs, err := arrowio.ReadAll(ctx, "read", &out, arrowio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
		r.Release()
	}
	if rows != 100 {
		t.Fatalf("read back %d rows after growing, wrote 100", rows)
	}

	// 36 MiB more does not fit.
	err = p.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: "t"}, host.RecordBody(rec.Schema(), rec), nil)
	p.Release(ctx, in)
	var ce *host.CallError
	if !errors.As(err, &ce) || !ce.Trapped {
		t.Fatalf("write growing past the cap: got %v, want the instance to fail and be discarded", err)
	}
	for _, w := range []string{"guest misbehave: write:", "out of memory", "memory limit 64 MiB"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if err := write(ctx, p, "t", rec); err != nil {
		t.Fatalf("write on the replacement instance: %v", err)
	}
}

// TestRuntimeClosedUnderARunningCall: closing the runtime while a guest
// runs does not pull its memory from under it (the guest of a runtime that
// is not interruptible keeps running until it returns): the memory is
// unmapped only once the call has left it, and the host does not crash.
func TestRuntimeClosedUnderARunningCall(t *testing.T) {
	rt := testenv.Runtime(t, host.Config{})
	p := misbehavePool(t, rt, `{"fail":{"write":"busy"},"after":1}`, 1)
	ctx := context.Background()
	rec := people(0, 3)
	defer rec.Release()
	if err := write(ctx, p, "t", rec); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- write(ctx, p, "t", rec) }()
	time.Sleep(500 * time.Millisecond) // let the guest start its 2 s of work
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("the busy call ended with: %v", <-errc)
	err := write(ctx, p, "t", rec)
	if err == nil || !strings.Contains(err.Error(), "runtime closed") {
		t.Fatalf("a write after the runtime closed: got %v, want it refused", err)
	}
}
