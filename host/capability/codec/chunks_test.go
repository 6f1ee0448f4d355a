package codec

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestChunksKeepOrder: bytes written in pieces of any size across chunk
// boundaries read back in order, whatever the reads' sizes, and Len counts
// what waits.
func TestChunksKeepOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 3*chunkSize+12345)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	for round := range 3 {
		var c chunks
		for p := want; len(p) > 0; {
			k := min(len(p), rng.IntN(chunkSize/2)+1)
			if round == 2 {
				k = len(p) // one write larger than a chunk
			}
			if n, err := c.Write(p[:k]); n != k || err != nil {
				t.Fatalf("write %d: %d, %v", k, n, err)
			}
			p = p[k:]
		}
		if c.Len() != len(want) {
			t.Fatalf("round %d: Len %d after writing %d", round, c.Len(), len(want))
		}
		var got []byte
		for c.Len() > 0 {
			dst := make([]byte, rng.IntN(chunkSize+100)+1)
			n := c.Read(dst)
			if n == 0 {
				t.Fatalf("round %d: read 0 with %d waiting", round, c.Len())
			}
			got = append(got, dst[:n]...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: read %d bytes that differ from the %d written", round, len(got), len(want))
		}
		if n := c.Read(make([]byte, 10)); n != 0 {
			t.Errorf("round %d: read %d from an empty buffer", round, n)
		}
	}
}

// TestChunksReset: Reset drops what waits.
func TestChunksReset(t *testing.T) {
	var c chunks
	c.Write(bytes.Repeat([]byte("x"), chunkSize+1))
	c.Reset()
	if c.Len() != 0 || c.Read(make([]byte, 10)) != 0 {
		t.Errorf("after Reset: Len %d", c.Len())
	}
	c.Write([]byte("ab"))
	dst := make([]byte, 10)
	if n := c.Read(dst); string(dst[:n]) != "ab" {
		t.Errorf("after Reset and a write: read %q", dst[:n])
	}
}
