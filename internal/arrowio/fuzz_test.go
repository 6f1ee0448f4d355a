package arrowio

import (
	"bytes"
	"errors"
	"io"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// maxAllocator fails the test on any single allocation over max.
type maxAllocator struct {
	memory.Allocator
	max     int
	biggest atomic.Int64
}

func (a *maxAllocator) note(n int) {
	if int64(n) > a.biggest.Load() {
		a.biggest.Store(int64(n))
	}
}

func (a *maxAllocator) Allocate(n int) []byte { a.note(n); return a.Allocator.Allocate(n) }
func (a *maxAllocator) Reallocate(n int, b []byte) []byte {
	a.note(n)
	return a.Allocator.Reallocate(n, b)
}

func fuzzSeeds(f *testing.F) [][]byte {
	mem := memory.NewGoAllocator()
	schema := usersSchema("users")
	recs := []arrow.RecordBatch{usersRecord(mem, schema, 0, 3), usersRecord(mem, schema, 3, 7)}
	defer release(recs)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	ds := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: dt, Nullable: true},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}), Nullable: true},
	}, nil)
	drec, _, err := array.RecordFromJSON(mem, ds, strings.NewReader(`[{"d":"x","m":[{"key":"k","value":1}],"s":{"b":true}},{"d":null,"m":null,"s":null},{"d":"y","m":[],"s":{"b":null}}]`))
	if err != nil {
		f.Fatal(err)
	}
	defer drec.Release()

	var seeds [][]byte
	for _, data := range [][]byte{
		writeStream(f, schema, recs),
		writeStream(f, schema, nil),
		writeStream(f, schema, recs, ipc.WithLZ4()),
		writeStream(f, schema, recs, ipc.WithZstd()),
		writeStream(f, ds, []arrow.RecordBatch{drec, drec}),
		writeFile(f, schema, recs),
		writeFile(f, ds, []arrow.RecordBatch{drec}),
		writeFile(f, schema, recs, ipc.WithLZ4()),
	} {
		seeds = append(seeds, data)
		for _, cut := range []int{1, 7, 9, len(data) / 3, len(data) / 2, len(data) - 9, len(data) - 1} {
			if cut > 0 && cut < len(data) {
				seeds = append(seeds, data[:cut])
			}
		}
	}
	return seeds
}

// FuzzReader feeds arbitrary bytes to the reader through the seekable and
// the non-seekable paths. It must return data or an *Error, never panic,
// never leak, never make a single allocation far over the limits or grow the
// heap absurdly, and every record it returns must be readable.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	lim := Limits{MaxMetadataBytes: 1 << 20, MaxBodyBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocated()
		checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
		mem := &maxAllocator{Allocator: checked}
		arrowPanicked := false
		for _, src := range []io.Reader{bytes.NewReader(data), nonSeeker{bytes.NewReader(data)}} {
			r, err := newReader("fuzz.arrows", src, lim, mem)
			if err != nil {
				arrowPanicked = arrowPanicked || panickedInArrow(err)
				checkErr(t, err)
				continue
			}
			for {
				rec, err := r.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					arrowPanicked = arrowPanicked || panickedInArrow(err)
					checkErr(t, err)
					break
				}
				touch(rec)
				rec.Release()
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
		// arrow-go does not release what it allocated before a panic on a
		// corrupt message (e.g. the buffer of a bad LZ4 frame); the Go
		// allocator's garbage collector reclaims it. Leaks are only checked
		// when arrow-go did not panic.
		if !arrowPanicked {
			checked.AssertSize(t, 0)
		}
		if b := mem.biggest.Load(); b > 3<<20 {
			t.Fatalf("an allocation of %d bytes with limits of 1 MiB", b)
		}
		if d := heapAllocated() - before; d > 256<<20 {
			t.Fatalf("%d MiB allocated for %d bytes of input", d>>20, len(data))
		}
	})
}

// heapAllocated is the running total of bytes allocated on the heap.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "fuzz.arrows: ") {
		t.Fatalf("error of type %T without the input name: %v", err, err)
	}
	if e.Message >= 0 && !strings.HasPrefix(err.Error(), "fuzz.arrows: message ") {
		t.Fatalf("error without the message index: %v", err)
	}
}

// panickedInArrow reports whether err comes from a panic that arrow-go
// (or the reader) recovered.
func panickedInArrow(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.recovered
}

// touch reads every value (up to a bound) the way a destination would.
func touch(rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		for i := 0; i < col.Len() && i < 4096; i++ {
			_ = col.ValueStr(i)
			_ = col.GetOneForMarshal(i)
		}
	}
	_, _ = rec.MarshalJSON()
}
