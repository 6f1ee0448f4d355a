package codec_test

import (
	"bytes"
	"github.com/wasmdest/wasmdest/internal/codec"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host/conformance"
)

// timestampValues are instants around the edges of the fast path: before
// 1970, leap days, the ends of years 0 and 9999, and out of its range.
func timestampValues(unit arrow.TimeUnit) []int64 {
	per := int64(1e9) / int64(unit.Multiplier())
	secs := []int64{0, -1, 1, 951782400, 951868799, 1709251198, -62135596800, -62167219200, -62167219201, 253402300799, 253402300800,
		-2208988800, 4102444800, 86399, -86400, -86401}
	var out []int64
	for _, s := range secs {
		if s > math.MaxInt64/per || s < math.MinInt64/per {
			continue
		}
		for _, f := range []int64{0, 1, per / 2, per - 1, per / 10} {
			out = append(out, s*per+f, s*per-f)
		}
	}
	return append(out, math.MaxInt64, math.MinInt64+1)
}

// TestFastTimestamps: the fast path writes what arrow-go writes, in JSON
// (Timestamp.GetOneForMarshal) and in CSV (arrow/csv's writer).
func TestFastTimestamps(t *testing.T) {
	for _, unit := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		dt := &arrow.TimestampType{Unit: unit, TimeZone: "UTC"}
		b := array.NewTimestampBuilder(memory.DefaultAllocator, dt)
		for _, v := range timestampValues(unit) {
			b.Append(arrow.Timestamp(v))
		}
		arr := b.NewArray().(*array.Timestamp)
		enc := codec.ValueEncoder(arr)
		for i := 0; i < arr.Len(); i++ {
			got, _ := enc(nil, i)
			want, _ := codec.AppendAny(nil, arr.GetOneForMarshal(i))
			if !bytes.Equal(got, want) {
				t.Errorf("%s %d: JSON %s, arrow-go %s", unit, arr.Value(i), got, want)
			}
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: dt}}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
		var fast, plain bytes.Buffer
		w := codec.NewCSVWriter(&fast, schema, codec.CSVSpec{Delimiter: ","})
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		pw := csv.NewWriter(&plain, schema, csv.WithHeader(true), csv.WithCRLF(true), csv.WithNullWriter(""))
		if err := pw.Write(rec); err != nil {
			t.Fatal(err)
		}
		if fast.String() != plain.String() {
			fl, pl := strings.Split(fast.String(), "\r\n"), strings.Split(plain.String(), "\r\n")
			for i := range fl {
				if i < len(pl) && fl[i] != pl[i] {
					t.Errorf("%s CSV line %d: %q, arrow/csv %q", unit, i, fl[i], pl[i])
				}
			}
		}
	}
}

func TestFastUUID(t *testing.T) {
	b := arrowtypes.NewUUIDBuilder(memory.DefaultAllocator)
	for i := 0; i < 50; i++ {
		b.Append(uuid.New())
	}
	arr := b.NewArray()
	enc := codec.ValueEncoder(arr)
	cells := codec.FastCells(arr)
	for i := 0; i < arr.Len(); i++ {
		got, _ := enc(nil, i)
		if want := `"` + arr.ValueStr(i) + `"`; string(got) != want {
			t.Errorf("JSON %s, want %s", got, want)
		}
		if cells[i] != arr.ValueStr(i) {
			t.Errorf("CSV %s, want %s", cells[i], arr.ValueStr(i))
		}
	}
}

// TestFastJSONAsArrow: every encoder writes what arrow-go's own
// GetOneForMarshal gives, for every column of the test table and for
// values at the edges of the fast paths.
func TestFastJSONAsArrow(t *testing.T) {
	schema := testTable()
	rec := conformance.Rows(schema, 0, 200, conformance.RowOptions{Nanoseconds: true})
	cols := rec.Columns()
	for _, dt := range []arrow.DataType{arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Date64} {
		b := array.NewBuilder(memory.DefaultAllocator, dt)
		for _, d := range []int64{0, -1, 1, 59, 60, -719528, -719529, 2932896, 2932897, 11016, -25567} {
			switch bb := b.(type) {
			case *array.Date32Builder:
				bb.Append(arrow.Date32(d))
			case *array.Date64Builder:
				bb.Append(arrow.Date64(d*86400000 + 1))
				bb.Append(arrow.Date64(d*86400000 - 1))
			}
		}
		cols = append(cols, b.NewArray())
	}
	for _, dt := range []arrow.DataType{arrow.FixedWidthTypes.Time32s, arrow.FixedWidthTypes.Time32ms, arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Time64ns} {
		b := array.NewBuilder(memory.DefaultAllocator, dt)
		per := int64(1e9) / int64(dt.(arrow.TemporalWithUnit).TimeUnit().Multiplier())
		for _, v := range []int64{0, 1, per - 1, 86400*per - 1, 86400 * per, -1, 43200*per + per/3} {
			switch bb := b.(type) {
			case *array.Time32Builder:
				bb.Append(arrow.Time32(v))
			case *array.Time64Builder:
				bb.Append(arrow.Time64(v))
			}
		}
		cols = append(cols, b.NewArray())
	}
	for _, col := range cols {
		if _, nested := col.DataType().(arrow.NestedType); nested {
			continue
		}
		enc := codec.NewEncoder(col)
		for i := 0; i < col.Len(); i++ {
			got, err := enc(nil, i)
			if err != nil {
				t.Fatal(err)
			}
			want, err := codec.AppendAny(nil, col.GetOneForMarshal(i))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) && !(arrowtypes.IsJSON(col.DataType())) {
				t.Errorf("%s row %d: %s, arrow-go %s", col.DataType(), i, got, want)
			}
		}
	}
}
