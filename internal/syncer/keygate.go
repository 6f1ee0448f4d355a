package syncer

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// keyGate lets batches of one table with a primary key be written side by
// side (Env.Writers > 1, a guest with abi.FeatureParallelUpserts) while no
// key is in two of them: a batch holding a key of a batch being written
// waits for that write to end, so the last write of every key still wins,
// and two transactions never wait on each other's rows. Batches enter in
// the order the batcher makes them, so a waiting batch is never overtaken
// by a later one.
//
// Keys are compared as fingerprints of their Arrow values (keySet): two
// different keys may share one (the batches then wait for no reason), two
// equal keys never have two. Tables whose key has a column the
// fingerprints cannot compare exactly are written one batch at a time
// (fingerprintable).
type keyGate struct {
	cols []int // the key columns' indexes in the table's records
	seed maphash.Seed

	mu      sync.Mutex
	writing []*keySet
	// changed is closed, and replaced, whenever a write leaves.
	changed chan struct{}
}

// keySet is the fingerprints of a batch's keys; with all, the batch
// counts as holding every key.
type keySet struct {
	fp  map[uint64]struct{}
	all bool
}

// maxKeyRows bounds the fingerprints kept for a batch (8 bytes and a map
// entry each): a larger batch counts as holding every key, so it is
// written alone.
const maxKeyRows = 1 << 20

// newKeyGate returns the gate of a table whose records have schema s, or
// nil when its batches must be written one at a time: no key column, or
// one fingerprints cannot compare exactly.
func newKeyGate(s *arrow.Schema, pk []string) *keyGate {
	g := &keyGate{seed: maphash.MakeSeed(), changed: make(chan struct{})}
	for _, name := range pk {
		idx := s.FieldIndices(name)
		if len(idx) != 1 || !fingerprintable(s.Field(idx[0]).Type) {
			return nil
		}
		g.cols = append(g.cols, idx[0])
	}
	if len(g.cols) == 0 {
		return nil
	}
	return g
}

// fingerprintable reports whether two values of t that a database finds
// equal always have the same Arrow value, so that equal keys have equal
// fingerprints. Not so for floats (0 and -0, NaNs), nanoseconds (stored as
// microseconds, two Arrow values may be one database value), date64
// (milliseconds, stored as days), and nested or JSON-like types.
func fingerprintable(t arrow.DataType) bool {
	if ext, ok := t.(arrow.ExtensionType); ok {
		// uuid and the like: fixed bytes. JSON and inet are strings whose
		// equal values may be spelled differently.
		return ext.StorageType().ID() == arrow.FIXED_SIZE_BINARY
	}
	switch t := t.(type) {
	case *arrow.TimestampType:
		return t.Unit != arrow.Nanosecond
	case *arrow.Time32Type:
		return true
	case *arrow.Time64Type:
		return t.Unit != arrow.Nanosecond
	case *arrow.DurationType:
		return t.Unit != arrow.Nanosecond
	}
	switch t.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY,
		arrow.DATE32, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}

// keys returns the fingerprints of recs' keys.
func (g *keyGate) keys(recs []arrow.RecordBatch) *keySet {
	n := 0
	for _, r := range recs {
		n += int(r.NumRows())
	}
	if n > maxKeyRows {
		return &keySet{all: true}
	}
	ks := &keySet{fp: make(map[uint64]struct{}, n)}
	var h maphash.Hash
	var buf []byte
	var n0 [binary.MaxVarintLen64]byte
	for _, r := range recs {
		cols := make([]arrow.Array, len(g.cols))
		for i, c := range g.cols {
			cols[i] = r.Column(c)
			if ext, ok := cols[i].(array.ExtensionArray); ok {
				cols[i] = ext.Storage()
			}
		}
		for row := 0; row < int(r.NumRows()); row++ {
			h.SetSeed(g.seed)
			for _, col := range cols {
				buf = appendKeyValue(buf[:0], col, row)
				// Length-prefixed: ("ab", "c") and ("a", "bc") differ.
				h.Write(n0[:binary.PutUvarint(n0[:], uint64(len(buf)))])
				h.Write(buf)
			}
			ks.fp[h.Sum64()] = struct{}{}
		}
	}
	return ks
}

// appendKeyValue appends the bytes of col's value at row: a null is the
// single byte 0, any other value starts with 1.
func appendKeyValue(dst []byte, col arrow.Array, row int) []byte {
	if col.IsNull(row) {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	switch a := col.(type) {
	case *array.Boolean:
		if a.Value(row) {
			return append(dst, 1)
		}
		return append(dst, 0)
	case *array.String:
		return appendText(dst, a.Value(row))
	case *array.LargeString:
		return appendText(dst, a.Value(row))
	case *array.Binary:
		return append(dst, a.Value(row)...)
	case *array.LargeBinary:
		return append(dst, a.Value(row)...)
	case *array.FixedSizeBinary:
		return append(dst, a.Value(row)...)
	}
	// Fixed-width values (integers, dates, times, timestamps, durations,
	// decimals): their bytes in the data buffer.
	fw, ok := col.DataType().(arrow.FixedWidthDataType)
	if !ok {
		return append(dst, col.ValueStr(row)...) // not reached: see fingerprintable
	}
	w := fw.BitWidth() / 8
	data := col.Data()
	off := (data.Offset() + row) * w
	return append(dst, data.Buffers()[1].Bytes()[off:off+w]...)
}

// appendText appends s without its NUL bytes: text columns cannot hold
// them, so the postgres guest strips them (as CloudQuery's destination
// does), and "a\x00" and "a" are one key there.
func appendText(dst []byte, s string) []byte {
	if strings.IndexByte(s, 0) < 0 {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != 0 {
			dst = append(dst, s[i])
		}
	}
	return dst
}

// enter waits until no batch being written holds a key of ks, then counts
// ks as being written. Call leave with ks when the write ends.
func (g *keyGate) enter(ctx context.Context, ks *keySet) error {
	for {
		g.mu.Lock()
		if !g.overlaps(ks) {
			g.writing = append(g.writing, ks)
			g.mu.Unlock()
			return nil
		}
		changed := g.changed
		g.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// leave ends the write of ks.
func (g *keyGate) leave(ks *keySet) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.writing, ks); i >= 0 {
		g.writing = slices.Delete(g.writing, i, i+1)
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// overlaps reports whether ks shares a fingerprint with a batch being
// written. g.mu is held.
func (g *keyGate) overlaps(ks *keySet) bool {
	for _, w := range g.writing {
		if ks.all || w.all {
			return true
		}
		small, big := ks.fp, w.fp
		if len(small) > len(big) {
			small, big = big, small
		}
		for k := range small {
			if _, ok := big[k]; ok {
				return true
			}
		}
	}
	return false
}
