package codec

import "sync"

// chunkSize is the size of the chunks an encoder's output waits in: the
// file guest's copy buffer's, so that one codec_read empties one chunk.
const chunkSize = 256 << 10

// chunkPool holds drained chunks for the next encoder's output.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// chunks is an encoder's output waiting for the guest to read it, in
// fixed-size chunks taken from chunkPool: a bytes.Buffer would grow by
// doubling, copying what it holds and zeroing ever larger fresh slices for
// every file (a fifth of the CPU of writing 10,000-row Parquet files,
// RATIONALE.md "The codec capability"), while a chunk is written once,
// read once and reused for the next file.
type chunks struct {
	bufs []*[]byte
	// off is how much of bufs[0] was read.
	off int
	n   int
}

// Write appends p. It never fails.
func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.bufs) == 0 || len(*c.bufs[len(c.bufs)-1]) == chunkSize {
			b := chunkPool.Get().(*[]byte)
			*b = (*b)[:0]
			c.bufs = append(c.bufs, b)
		}
		last := c.bufs[len(c.bufs)-1]
		k := copy((*last)[len(*last):chunkSize], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	c.n += n
	return n, nil
}

// Read moves up to len(dst) of the oldest bytes into dst and returns how
// many; chunks it empties go back to the pool.
func (c *chunks) Read(dst []byte) int {
	total := 0
	for len(dst) > 0 && len(c.bufs) > 0 {
		head := *c.bufs[0]
		k := copy(dst, head[c.off:])
		c.off += k
		dst = dst[k:]
		total += k
		if c.off == len(head) {
			chunkPool.Put(c.bufs[0])
			c.bufs[0] = nil
			c.bufs = c.bufs[1:]
			c.off = 0
		}
	}
	c.n -= total
	if len(c.bufs) == 0 {
		c.bufs = nil
	}
	return total
}

// Len returns how many bytes wait to be read.
func (c *chunks) Len() int { return c.n }

// Reset drops every byte, returning the chunks to the pool.
func (c *chunks) Reset() {
	for _, b := range c.bufs {
		chunkPool.Put(b)
	}
	*c = chunks{}
}
