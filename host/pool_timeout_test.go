package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestPoolCallTimeout: with CallTimeout, a spinning guest of an Interruptible
// runtime is stopped at the deadline of its own call, without the caller
// setting one, and the pool's stats count the discarded instance.
func TestPoolCallTimeout(t *testing.T) {
	rt := testenv.Runtime(t, host.Config{Interruptible: true})
	g := testenv.LoadGuest(t, rt, "host/testdata/guests/misbehave")
	p, err := g.NewPool(host.PoolConfig{Init: &abi.InitRequest{Destination: "test", Spec: []byte(`{"fail":{"write":"spin"},"after":1}`)}, CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	rec := people(0, 3)
	defer rec.Release()
	ctx := context.Background()
	if err := write(ctx, p, "t", rec); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Instances != 1 || st.MemoryBytes == 0 {
		t.Fatalf("stats after one write: %+v", st)
	}
	start := time.Now()
	err = write(ctx, p, "t", rec)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") || took > 2*time.Second {
		t.Fatalf("after %v: got %v, want the call stopped at its 300ms deadline", took, err)
	}
	if st := p.Stats(); st.Instances != 0 || st.Discarded != 1 || st.MemoryBytes != 0 {
		t.Fatalf("stats after the stopped call: %+v", st)
	}
	// Calls that finish in time are unaffected, in a new instance.
	if err := write(ctx, p, "t", rec); err != nil {
		t.Fatal(err)
	}
}
