package filetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Timestamps with a named time zone are written in that zone: the guest
// carries the time-zone database (time/tzdata), since WASI gives it none.
func TestNamedTimeZones(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "eastern", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "US/Eastern"}, Nullable: true},
		{Name: "paris", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Paris"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix()))
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := map[string][]string{
		"csv":  {"2026-01-15 07:00:00-05:00", "2026-01-15 13:00:00+01:00"},
		"json": {"2026-01-15"},
	}
	for _, format := range []string{"csv", "json", "parquet"} {
		t.Run(format, func(t *testing.T) {
			root := t.TempDir()
			p := newPool(t, g, root, fmt.Sprintf(`{"path":"{{TABLE}}.{{FORMAT}}","format":%q,"no_rotate":true}`, format))
			if err := write(ctx, p, nil, "zones", rec); err != nil {
				t.Fatalf("write timestamps in US/Eastern and Europe/Paris as %s: %v", format, err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(root, "zones."+format))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range want[format] {
				if !strings.Contains(string(data), w) {
					t.Errorf("%s output %q does not hold %q", format, data, w)
				}
			}
		})
	}
}

// The Arrow types Parquet has no place for are written in their plain
// forms (views, decimal32/64, dictionaries decoded, null list entries
// emptied); arrow-go's Parquet reader reads the values back.
func TestParquetWritesViewsDecimalsAndDictionaries(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	for name, col := range parquetGapCases() {
		t.Run(name, func(t *testing.T) {
			defer col.Release()
			schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: col.DataType(), Nullable: true}}, nil)
			rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
			defer rec.Release()
			root := t.TempDir()
			p := newPool(t, g, root, `{"path":"{{TABLE}}.{{FORMAT}}","format":"parquet","no_rotate":true}`)
			if err := write(ctx, p, nil, "gaps", rec); err != nil {
				t.Fatalf("write %s to parquet: %v", col.DataType(), err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(root, "gaps.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			pf, err := file.NewParquetReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := fr.ReadTable(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tbl.Release()
			got := tbl.Column(0).Data().Chunk(0)
			if got.Len() != col.Len() {
				t.Fatalf("read %d values, want %d", got.Len(), col.Len())
			}
			for i := 0; i < col.Len(); i++ {
				w, _ := json.Marshal(col.GetOneForMarshal(i))
				g, _ := json.Marshal(got.GetOneForMarshal(i))
				if string(w) != string(g) {
					t.Errorf("value %d: read %s (%s), want %s (%s)", i, g, got.DataType(), w, col.DataType())
				}
			}
		})
	}
}

func parquetGapCases() map[string]arrow.Array {
	m := memory.DefaultAllocator
	out := map[string]arrow.Array{}
	bv := array.NewBinaryViewBuilder(m)
	bv.Append([]byte("abc"))
	bv.AppendNull()
	bv.Append([]byte("a long value longer than twelve"))
	out["binary_view"] = bv.NewArray()
	sv := array.NewStringViewBuilder(m)
	sv.Append("abc")
	sv.AppendNull()
	sv.Append("a long value longer than twelve")
	out["string_view"] = sv.NewArray()
	d32 := array.NewDecimal32Builder(m, &arrow.Decimal32Type{Precision: 7, Scale: 2})
	d32.Append(12345)
	d32.AppendNull()
	d32.Append(-5)
	out["decimal32"] = d32.NewArray()
	d64 := array.NewDecimal64Builder(m, &arrow.Decimal64Type{Precision: 15, Scale: 3})
	d64.Append(123456789012)
	d64.AppendNull()
	d64.Append(-5)
	out["decimal64"] = d64.NewArray()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	db := array.NewDictionaryBuilder(m, dt).(*array.BinaryDictionaryBuilder)
	db.AppendString("x")
	db.AppendNull()
	db.AppendString("y")
	db.AppendString("x")
	out["dictionary_null"] = db.NewArray()
	lb := array.NewListBuilder(m, dt)
	ldb := lb.ValueBuilder().(*array.BinaryDictionaryBuilder)
	lb.Append(true)
	ldb.AppendString("a")
	ldb.AppendString("b")
	lb.AppendNull()
	lb.Append(true)
	ldb.AppendString("a")
	ldb.AppendNull()
	out["list_dictionary"] = lb.NewArray()
	sb := array.NewStructBuilder(m, arrow.StructOf(arrow.Field{Name: "d", Type: dt, Nullable: true}))
	sdb := sb.FieldBuilder(0).(*array.BinaryDictionaryBuilder)
	sb.Append(true)
	sdb.AppendString("q")
	sb.AppendNull()
	sdb.AppendNull()
	out["struct_dictionary"] = sb.NewArray()
	// A list whose null entry spans values: offsets 0,2,4,5 with entry 1 null.
	vals := array.NewInt32Builder(m)
	vals.AppendValues([]int32{1, 2, 3, 4, 5}, nil)
	va := vals.NewArray()
	offs := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 2, 4, 5}))
	valid := memory.NewBufferBytes([]byte{0b101})
	ld := array.NewData(arrow.ListOf(arrow.PrimitiveTypes.Int32), 3, []*memory.Buffer{valid, offs}, []arrow.ArrayData{va.Data()}, 1, 0)
	out["list_nonempty_null"] = array.MakeFromData(ld)
	// A dictionary whose values hold a null.
	dv := array.NewStringBuilder(m)
	dv.Append("x")
	dv.AppendNull()
	dv.Append("y")
	dva := dv.NewArray()
	ib := array.NewInt8Builder(m)
	ib.AppendValues([]int8{0, 1, 2, 1}, nil)
	out["dictionary_value_null"] = array.NewDictionaryArray(dt, ib.NewArray(), dva)
	// A dictionary of lists of dictionaries.
	inner := out["list_dictionary"]
	ib2 := array.NewInt16Builder(m)
	ib2.AppendValues([]int16{0, 2, 1, 0}, []bool{true, true, true, false})
	out["nested_dictionary"] = array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: inner.DataType()}, ib2.NewArray(), inner)
	return out
}
