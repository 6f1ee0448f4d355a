package syncer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

func keySchema(types ...arrow.DataType) *arrow.Schema {
	var fs []arrow.Field
	for i, t := range types {
		fs = append(fs, arrow.Field{Name: string(rune('a' + i)), Type: t, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

func pkNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// record makes a record of s from rows of Go values (string, int64,
// uuid.UUID, nil).
func record(t *testing.T, s *arrow.Schema, rows ...[]any) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, r := range rows {
		for c, v := range r {
			switch fb := b.Field(c).(type) {
			case *array.StringBuilder:
				if v == nil {
					fb.AppendNull()
				} else {
					fb.Append(v.(string))
				}
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *arrowtypes.UUIDBuilder:
				fb.Append(v.(uuid.UUID))
			default:
				t.Fatalf("no builder for %T", fb)
			}
		}
	}
	return b.NewRecordBatch()
}

func TestKeyFingerprints(t *testing.T) {
	s := keySchema(arrow.BinaryTypes.String, arrow.BinaryTypes.String)
	g := newKeyGate(s, pkNames(s))
	if g == nil {
		t.Fatal("no gate for a key of two strings")
	}
	one := record(t, s, []any{"x", "y"}, []any{"ab", "c"}, []any{"", nil})
	defer one.Release()
	two := record(t, s, []any{"a", "bc"}, []any{"", ""}, []any{"zz", "x"}, []any{"x", "y"})
	defer two.Release()
	// A slice with an offset: its values are found where they are.
	sliced := two.NewSlice(3, 4)
	defer sliced.Release()
	head := two.NewSlice(0, 3)
	defer head.Release()
	a, b, c := g.keys([]arrow.RecordBatch{one}), g.keys([]arrow.RecordBatch{head}), g.keys([]arrow.RecordBatch{sliced})
	if len(a.fp) != 3 || len(b.fp) != 3 || len(c.fp) != 1 {
		t.Fatalf("%d, %d and %d fingerprints, want 3, 3 and 1", len(a.fp), len(b.fp), len(c.fp))
	}
	g.writing = []*keySet{a}
	if g.overlaps(b) {
		t.Error(`("a","bc"), ("","") or ("zz","x") taken for a key of ("x","y"), ("ab","c"), ("",null)`)
	}
	if !g.overlaps(c) {
		t.Error(`("x","y") in a slice at offset 3 not found among the keys of a batch holding it`)
	}
	// NUL bytes, which text cannot hold, are left out: ("x\x00", "y") is
	// the key ("x", "y").
	nul := record(t, s, []any{"x\x00", "\x00y"})
	defer nul.Release()
	if !g.overlaps(g.keys([]arrow.RecordBatch{nul})) {
		t.Error(`("x\x00", "\x00y") not taken for the key ("x", "y")`)
	}
	// A batch too large to fingerprint is written alone.
	g.writing = []*keySet{{all: true}}
	if !g.overlaps(b) {
		t.Error("a batch entered beside one counted as holding every key")
	}
	g.writing = []*keySet{a}
	if !g.overlaps(&keySet{all: true}) {
		t.Error("a batch counted as holding every key entered beside another")
	}

	u := keySchema(arrowtypes.NewUUIDType(), arrow.PrimitiveTypes.Int64)
	gu := newKeyGate(u, pkNames(u))
	if gu == nil {
		t.Fatal("no gate for a key of a uuid and an int64")
	}
	id := uuid.MustParse("6f1c3a52-9d7e-4c5b-8a21-0e4f5d6c7b8a")
	r1 := record(t, u, []any{id, int64(7)}, []any{id, int64(8)})
	defer r1.Release()
	r2 := record(t, u, []any{uuid.New(), int64(7)}, []any{id, int64(8)})
	defer r2.Release()
	x, y := gu.keys([]arrow.RecordBatch{r1}), gu.keys([]arrow.RecordBatch{r2.NewSlice(0, 1)})
	gu.writing = []*keySet{x}
	if gu.overlaps(y) {
		t.Error("(another uuid, 7) taken for a key of (id, 7) or (id, 8)")
	}
	if !gu.overlaps(gu.keys([]arrow.RecordBatch{r2.NewSlice(1, 2)})) {
		t.Error("(id, 8) not found among the keys of a batch holding it")
	}

	// Keys a database may find equal with different Arrow values: no gate,
	// one batch at a time.
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Float64, &arrow.TimestampType{Unit: arrow.Nanosecond},
		arrow.FixedWidthTypes.Date64, arrowtypes.NewJSONType(), arrow.ListOf(arrow.PrimitiveTypes.Int64)} {
		s := keySchema(arrow.PrimitiveTypes.Int64, typ)
		if newKeyGate(s, pkNames(s)) != nil {
			t.Errorf("a gate for a key with a %s column", typ)
		}
	}
	if newKeyGate(s, nil) != nil {
		t.Error("a gate for a table without a key")
	}
}

func TestKeyGateLetsDisjointBatchesThrough(t *testing.T) {
	s := keySchema(arrow.PrimitiveTypes.Int64)
	g := newKeyGate(s, pkNames(s))
	batch := func(keys ...int64) *keySet {
		var rows [][]any
		for _, k := range keys {
			rows = append(rows, []any{k})
		}
		r := record(t, s, rows...)
		defer r.Release()
		return g.keys([]arrow.RecordBatch{r})
	}
	ctx := context.Background()
	a, b, c := batch(1, 2, 3), batch(4, 5), batch(5, 6)
	if err := g.enter(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := g.enter(ctx, b); err != nil { // no key of a: at once
		t.Fatal(err)
	}
	entered := make(chan error, 1)
	go func() { entered <- g.enter(ctx, c) }()
	select {
	case err := <-entered:
		t.Fatalf("a batch holding key 5 entered while another holding it is written (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	g.leave(a) // not the one c waits for
	select {
	case err := <-entered:
		t.Fatalf("a batch holding key 5 entered when a batch without it left (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	g.leave(b)
	select {
	case err := <-entered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a batch still waits after the batch sharing its key left")
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { entered <- g.enter(cctx, batch(6)) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-entered; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiting batch's context was cancelled: got %v, want context.Canceled", err)
	}
	if len(g.writing) != 1 {
		t.Errorf("%d batches counted as written, want 1 (the cancelled one never entered)", len(g.writing))
	}
}
