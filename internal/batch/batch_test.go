package batch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
)

var int64Schema = arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

// ints makes a record of int64 values from..from+n-1 without a validity
// bitmap, so that it weighs exactly 8 bytes per row.
func ints(mem memory.Allocator, from, n int64) arrow.RecordBatch {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(n * 8))
	vals := arrow.Int64Traits.CastFromBytes(buf.Bytes())
	for i := range vals {
		vals[i] = from + int64(i)
	}
	data := array.NewData(arrow.PrimitiveTypes.Int64, int(n), []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	arr := array.MakeFromData(data)
	data.Release()
	rec := array.NewRecordBatch(int64Schema, []arrow.Array{arr}, n)
	arr.Release()
	return rec
}

// strs makes a record with one string column.
func strs(mem memory.Allocator, vals ...string) arrow.RecordBatch {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	arr := b.NewArray()
	defer arr.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{arr}, int64(len(vals)))
}

// recorder is a flush function that copies what it receives as strings
// (one []string per batch) and records the sizes it saw.
type recorder struct {
	batches [][]string
	sizes   []int64
	fail    error
}

func (r *recorder) flush(_ context.Context, recs []arrow.RecordBatch) error {
	var vals []string
	var size int64
	for _, rec := range recs {
		size += RecordSize(rec)
		col := rec.Column(0)
		for i := 0; i < col.Len(); i++ {
			vals = append(vals, col.ValueStr(i))
		}
	}
	r.batches = append(r.batches, vals)
	r.sizes = append(r.sizes, size)
	return r.fail
}

func (r *recorder) shape() string {
	parts := make([]string, len(r.batches))
	for i, b := range r.batches {
		parts[i] = fmt.Sprintf("%s-%s", b[0], b[len(b)-1])
	}
	return strings.Join(parts, " ")
}

func add(t *testing.T, b *Batcher, rec arrow.RecordBatch) {
	t.Helper()
	defer rec.Release()
	if err := b.Add(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func TestRowsExactBoundaries(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	b := New(abi.BatchLimits{Rows: 10}, r.flush)
	add(t, b, ints(mem, 0, 4))
	add(t, b, ints(mem, 4, 4))
	if rows, _ := b.Pending(); rows != 8 || len(r.batches) != 0 {
		t.Fatalf("pending %d, flushed %d", rows, len(r.batches))
	}
	add(t, b, ints(mem, 8, 4)) // 2 rows fill the batch, 2 start the next
	if got := r.shape(); got != "0-9" {
		t.Fatalf("batches %s", got)
	}
	if rows, bytes := b.Pending(); rows != 2 || bytes != 16 {
		t.Fatalf("pending %d rows %d bytes", rows, bytes)
	}
	add(t, b, ints(mem, 12, 8)) // exactly fills: flushed at once
	add(t, b, ints(mem, 20, 25))
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.shape(); got != "0-9 10-19 20-29 30-39 40-44" {
		t.Fatalf("batches %s", got)
	}
	if err := b.Flush(context.Background()); err != nil || len(r.batches) != 5 {
		t.Fatalf("empty Flush flushed: %v %d", err, len(r.batches))
	}
}

func TestBytesExactBoundaries(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	b := New(abi.BatchLimits{Bytes: 80}, r.flush) // 10 rows of 8 bytes
	add(t, b, ints(mem, 0, 3))
	add(t, b, ints(mem, 3, 25)) // oversize: 7 fill the first batch, then 10, then 8 pending
	if got := r.shape(); got != "0-9 10-19" {
		t.Fatalf("batches %s", got)
	}
	if rows, bytes := b.Pending(); rows != 8 || bytes != 64 {
		t.Fatalf("pending %d rows %d bytes", rows, bytes)
	}
	add(t, b, ints(mem, 28, 2)) // exactly 80 bytes: flushed
	if got := r.shape(); got != "0-9 10-19 20-29" {
		t.Fatalf("batches %s", got)
	}
	for i, s := range r.sizes {
		if s != 80 {
			t.Errorf("batch %d weighs %d bytes", i, s)
		}
	}
}

func TestRowsAndBytesTogether(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	b := New(abi.BatchLimits{Rows: 4, Bytes: 40}, r.flush)
	add(t, b, ints(mem, 0, 9))
	if got := r.shape(); got != "0-3 4-7" {
		t.Fatalf("rows should bind first: %s", got)
	}
	b.Discard()
	r = recorder{}
	b = New(abi.BatchLimits{Rows: 100, Bytes: 24}, r.flush)
	add(t, b, ints(mem, 0, 9))
	if got := r.shape(); got != "0-2 3-5 6-8" {
		t.Fatalf("bytes should bind first: %s", got)
	}
}

func TestSingleRowOverByteLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	b := New(abi.BatchLimits{Bytes: 64}, r.flush)
	big := strings.Repeat("x", 200)
	add(t, b, strs(mem, "a", "b"))
	add(t, b, strs(mem, big, "c", big, "d"))
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// "a","b" flushed before the big row; each big row alone; small rows grouped.
	want := [][]string{{"a", "b"}, {big}, {"c"}, {big}, {"d"}}
	if fmt.Sprint(r.batches) != fmt.Sprint(want) {
		t.Fatalf("batches %v", r.batches)
	}
}

// Skewed row sizes: the average-bytes guess overshoots; the exact check
// must keep every batch within the limit.
func TestSkewedRowsNeverExceed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		var r recorder
		lim := abi.BatchLimits{Rows: rng.Int64N(20), Bytes: rng.Int64N(400)}
		b := New(lim, r.flush)
		var want []string
		for range rng.IntN(6) + 1 {
			vals := make([]string, rng.IntN(30))
			for i := range vals {
				vals[i] = strings.Repeat(string(rune('a'+len(want)%26)), rng.IntN(3)*rng.IntN(60))
				want = append(want, vals[i])
			}
			add(t, b, strs(mem, vals...))
			rows, bytes := b.Pending()
			if (lim.Rows > 0 && rows >= lim.Rows) || (lim.Bytes > 0 && bytes >= lim.Bytes && rows > 1) {
				t.Fatalf("iter %d: %d rows %d bytes left pending with limits %+v", iter, rows, bytes, lim)
			}
		}
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, batch := range r.batches {
			got = append(got, batch...)
			if lim.Rows > 0 && int64(len(batch)) > lim.Rows {
				t.Fatalf("iter %d: batch %d has %d rows > %d", iter, i, len(batch), lim.Rows)
			}
			if lim.Bytes > 0 && r.sizes[i] > lim.Bytes && len(batch) > 1 {
				t.Fatalf("iter %d: batch %d weighs %d > %d", iter, i, r.sizes[i], lim.Bytes)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("iter %d: rows reordered or lost:\n%v\n%v", iter, got, want)
		}
	}
}

func TestFlushOrderAndOwnership(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var kept []arrow.RecordBatch
	b := New(abi.BatchLimits{}, func(_ context.Context, recs []arrow.RecordBatch) error {
		for _, r := range recs {
			r.Retain() // keep beyond flush
			kept = append(kept, r)
		}
		return nil
	})
	a, c := ints(mem, 0, 2), ints(mem, 2, 3)
	if err := b.Add(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a.Release() // the caller may drop its reference right after Add
	c.Release()
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || kept[0].Column(0).ValueStr(0) != "0" || kept[1].Column(0).ValueStr(2) != "4" {
		t.Fatalf("kept %v", kept)
	}
	for _, r := range kept {
		r.Release()
	}
}

func TestFlushErrorDropsBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("boom")
	r := recorder{fail: boom}
	b := New(abi.BatchLimits{Rows: 5}, r.flush)
	rec := ints(mem, 0, 12)
	err := b.Add(context.Background(), rec)
	rec.Release()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "5 rows") {
		t.Fatalf("error %v", err)
	}
	if rows, bytes := b.Pending(); rows != 0 || bytes != 0 {
		t.Fatalf("pending after failed flush: %d %d", rows, bytes)
	}
	if len(r.batches) != 1 {
		t.Fatalf("flush called %d times", len(r.batches))
	}
	// Still usable.
	r.fail = nil
	add(t, b, ints(mem, 100, 2))
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.shape(); got != "0-4 100-101" {
		t.Fatalf("batches %s", got)
	}
	// Flush's own error.
	r.fail = boom
	add(t, b, ints(mem, 0, 1))
	if err := b.Flush(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Flush error %v", err)
	}
}

func TestDeadline(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := New(abi.BatchLimits{Timeout: 30 * time.Second}, r.flush)
	b.now = func() time.Time { return now }
	if _, ok := b.Deadline(); ok {
		t.Fatal("deadline with nothing pending")
	}
	add(t, b, ints(mem, 0, 1))
	d, ok := b.Deadline()
	if !ok || !d.Equal(now.Add(30*time.Second)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	now = now.Add(20 * time.Second)
	add(t, b, ints(mem, 1, 1))
	if d2, _ := b.Deadline(); !d2.Equal(d) {
		t.Fatalf("deadline moved with a younger row: %v", d2)
	}
	now = now.Add(10 * time.Second) // oldest row is 30 s old: Add flushes it first
	add(t, b, ints(mem, 2, 1))
	if got := r.shape(); got != "0-1" {
		t.Fatalf("batches %s", got)
	}
	if d3, ok := b.Deadline(); !ok || !d3.Equal(now.Add(30*time.Second)) {
		t.Fatalf("deadline after flush %v", d3)
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Deadline(); ok {
		t.Fatal("deadline after Flush")
	}
	nb := New(abi.BatchLimits{}, r.flush)
	add(t, nb, ints(mem, 0, 1))
	if _, ok := nb.Deadline(); ok {
		t.Fatal("deadline without timeout")
	}
	nb.Discard()
}

func TestCancelledContext(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var r recorder
	b := New(abi.BatchLimits{}, r.flush)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := ints(mem, 0, 1)
	defer rec.Release()
	if err := b.Add(ctx, rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add on cancelled context: %v", err)
	}
	if rows, _ := b.Pending(); rows != 0 {
		t.Fatal("record added on cancelled context")
	}
}

func TestRecordSize(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Whole records: util.TotalRecordSize (which this module cannot import:
	// arrow/util pulls in protobuf) less the padding of the builders'
	// validity bitmaps (4 bitmaps here, padded to 8 or 16 bytes).
	sb := array.NewStructBuilder(mem, arrow.StructOf(
		arrow.Field{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	))
	defer sb.Release()
	for i := range 50 {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int32Builder).Append(int32(i))
		lb := sb.FieldBuilder(1).(*array.ListBuilder)
		lb.Append(true)
		for j := range i % 4 {
			lb.ValueBuilder().(*array.StringBuilder).Append(strings.Repeat("z", j*10))
		}
	}
	arr := sb.NewArray()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: arr.DataType(), Nullable: true}}, nil), []arrow.Array{arr}, 50)
	arr.Release()
	defer rec.Release()
	if got, want := RecordSize(rec), totalBuffers(rec); got > want || want-got != 9 {
		t.Errorf("whole record: %d, util says %d", got, want)
	}
	// A slice weighs its part, and the parts add up to about the whole.
	a, b := rec.NewSlice(0, 20), rec.NewSlice(20, 50)
	defer a.Release()
	defer b.Release()
	sa, sbz := RecordSize(a), RecordSize(b)
	if sa >= RecordSize(rec) || sbz >= RecordSize(rec) || totalBuffers(a) != totalBuffers(rec) {
		t.Errorf("slices %d + %d of %d", sa, sbz, RecordSize(rec))
	}
	if d := sa + sbz - RecordSize(rec); d < 0 || d > 16 { // bitmaps and one extra offset per slice
		t.Errorf("slices add up to %d, whole is %d", sa+sbz, RecordSize(rec))
	}
	// Fixed width without bitmap: exact.
	ir := ints(mem, 0, 100)
	defer ir.Release()
	s := ir.NewSlice(10, 35)
	defer s.Release()
	if got := RecordSize(s); got != 25*8 {
		t.Errorf("int slice weighs %d", got)
	}
}

// totalBuffers is util.TotalRecordSize: the length of every distinct buffer.
func totalBuffers(rec arrow.RecordBatch) int64 {
	seen := map[*memory.Buffer]bool{}
	var walk func(d arrow.ArrayData) int64
	walk = func(d arrow.ArrayData) int64 {
		var n int64
		for _, b := range d.Buffers() {
			if b != nil && !seen[b] {
				seen[b] = true
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			n += walk(c)
		}
		return n
	}
	var n int64
	for _, c := range rec.Columns() {
		n += walk(c.Data())
	}
	return n
}

// A dictionary column: the dictionary is shared by every part the Batcher
// cuts and each part counts its share, so cutting does not make each part
// weigh the whole dictionary.
func TestDictionarySize(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	for i := range 1000 {
		if err := db.AppendString(fmt.Sprintf("%0100d", i%100)); err != nil { // 100 distinct 100-byte values
			t.Fatal(err)
		}
	}
	col := db.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt}}, nil), []arrow.Array{col}, 1000)
	defer rec.Release()
	whole := RecordSize(rec)
	if hs := sliceSize(rec, 500, 500); hs < whole/2-64 || hs > whole/2+64 {
		t.Fatalf("half of %d bytes weighs %d", whole, hs)
	}
	var r recorder
	b := New(abi.BatchLimits{Bytes: whole / 4}, r.flush)
	if err := b.Add(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.batches) < 4 || len(r.batches) > 5 {
		t.Fatalf("%d batches for a quarter-size limit", len(r.batches))
	}
}
