//go:build !wasip1

package pgtest

import (
	"fmt"
	"math"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// scalarTypes are the non-nested Arrow types of the reference test table
// (docs/background.md, "The writer tests") and the others the guest stores.
func scalarTypes() []arrow.Field {
	canonicalJSON, _ := extensions.NewJSONType(arrow.BinaryTypes.String)
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	fs := []arrow.Field{
		f("int8", arrow.PrimitiveTypes.Int8), f("int16", arrow.PrimitiveTypes.Int16),
		f("int32", arrow.PrimitiveTypes.Int32), f("int64", arrow.PrimitiveTypes.Int64),
		f("uint8", arrow.PrimitiveTypes.Uint8), f("uint16", arrow.PrimitiveTypes.Uint16),
		f("uint32", arrow.PrimitiveTypes.Uint32), f("uint64", arrow.PrimitiveTypes.Uint64),
		f("float16", arrow.FixedWidthTypes.Float16), f("float32", arrow.PrimitiveTypes.Float32),
		f("float64", arrow.PrimitiveTypes.Float64),
		f("binary", arrow.BinaryTypes.Binary), f("large_binary", arrow.BinaryTypes.LargeBinary),
		f("binary_view", arrow.BinaryTypes.BinaryView), f("fixed_size_binary", &arrow.FixedSizeBinaryType{ByteWidth: 5}),
		f("string", arrow.BinaryTypes.String), f("large_string", arrow.BinaryTypes.LargeString),
		f("string_view", arrow.BinaryTypes.StringView),
		f("bool", arrow.FixedWidthTypes.Boolean),
		f("uuid", arrowtypes.NewUUIDType()), f("arrow_uuid", extensions.NewUUIDType()),
		f("inet", arrowtypes.NewInetType()), f("mac", arrowtypes.NewMACType()),
		f("json", arrowtypes.NewJSONType()), f("arrow_json", canonicalJSON),
		f("date32", arrow.FixedWidthTypes.Date32), f("date64", arrow.FixedWidthTypes.Date64),
		f("duration_s", arrow.FixedWidthTypes.Duration_s), f("duration_ms", arrow.FixedWidthTypes.Duration_ms),
		f("duration_us", arrow.FixedWidthTypes.Duration_us), f("duration_ns", arrow.FixedWidthTypes.Duration_ns),
		f("interval_month", arrow.FixedWidthTypes.MonthInterval), f("interval_day_time", arrow.FixedWidthTypes.DayTimeInterval),
		f("interval_month_day_nano", arrow.FixedWidthTypes.MonthDayNanoInterval),
		f("time32_s", arrow.FixedWidthTypes.Time32s), f("time32_ms", arrow.FixedWidthTypes.Time32ms),
		f("time64_us", arrow.FixedWidthTypes.Time64us), f("time64_ns", arrow.FixedWidthTypes.Time64ns),
		f("decimal32", &arrow.Decimal32Type{Precision: 9, Scale: 2}),
		f("decimal64", &arrow.Decimal64Type{Precision: 18, Scale: 4}),
		f("decimal128", &arrow.Decimal128Type{Precision: 19, Scale: 10}),
		f("decimal256", &arrow.Decimal256Type{Precision: 40, Scale: 5}),
	}
	for _, u := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		fs = append(fs,
			f("timestamp_"+u.String()+"_utc", &arrow.TimestampType{Unit: u, TimeZone: "UTC"}),
			f("timestamp_"+u.String(), &arrow.TimestampType{Unit: u}))
	}
	fs = append(fs, f("timestamp_us_new_york", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "America/New_York"}))
	return fs
}

// allTypes returns the columns of the test table: every scalar type, a
// struct of all of them, a list of each (with a null element in every
// list), other list kinds, lists of lists and of structs, and maps.
func allTypes() []arrow.Field {
	scalars := scalarTypes()
	fs := append([]arrow.Field{}, scalars...)
	fs = append(fs, arrow.Field{Name: "struct", Type: arrow.StructOf(scalars...), Nullable: true})
	for _, s := range scalars {
		fs = append(fs, arrow.Field{Name: "list_" + s.Name, Type: arrow.ListOfField(arrow.Field{Name: "item", Type: s.Type, Nullable: true}), Nullable: true})
	}
	small := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true})
	fs = append(fs,
		arrow.Field{Name: "large_list", Type: arrow.LargeListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		arrow.Field{Name: "fixed_size_list", Type: arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Int32), Nullable: true},
		arrow.Field{Name: "list_of_lists", Type: arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int64)), Nullable: true},
		arrow.Field{Name: "list_of_structs", Type: arrow.ListOf(small), Nullable: true},
		arrow.Field{Name: "map_string_int", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
		arrow.Field{Name: "map_int_string", Type: arrow.MapOf(arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String), Nullable: true},
	)
	return fs
}

// tableSchema returns a source table schema: an int64 "id" (primary key
// when pk) followed by fields.
func tableSchema(table string, pk bool, fields ...arrow.Field) *arrow.Schema {
	id := arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64}
	if pk {
		id.Metadata = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema(append([]arrow.Field{id}, fields...), &md)
}

// makeRecord makes n rows of s with ids from, values chosen by row. With
// nulls, every column but id is null.
func makeRecord(t testing.TB, s *arrow.Schema, from, n int, nulls bool) arrow.RecordBatch {
	t.Helper()
	storage := pgbinary.StorageSchema(s)
	b := array.NewRecordBuilder(memory.DefaultAllocator, storage)
	defer b.Release()
	for r := from; r < from+n; r++ {
		for c, f := range storage.Fields() {
			if f.Name == "id" {
				b.Field(c).(*array.Int64Builder).Append(int64(r))
				continue
			}
			if nulls {
				b.Field(c).AppendNull()
				continue
			}
			fillValue(b.Field(c), f, r)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	cols := make([]arrow.Array, s.NumFields())
	for i := range cols {
		cols[i] = pgbinary.Retype(rec.Column(i), s.Field(i).Type)
		defer cols[i].Release()
	}
	return array.NewRecordBatch(s, cols, rec.NumRows())
}

func pick[T any](r int, vals ...T) T { return vals[r%len(vals)] }

// fillValue appends a value for row r to a builder of storage type f.Type.
// Values are in the form PostgreSQL gives back (canonical JSON, inet, mac),
// and within its precision (whole microseconds), so that a round trip is exact.
func fillValue(b array.Builder, f arrow.Field, r int) {
	ext, _ := f.Metadata.GetValue(pgbinary.ExtNameKey)
	switch ext {
	case abi.ExtUUID, abi.ExtCanonicalUUID:
		u := make([]byte, 16)
		for i := range u {
			u[i] = byte(r*31 + i*7)
		}
		b.(*array.FixedSizeBinaryBuilder).Append(u)
		return
	case abi.ExtJSON, abi.ExtCanonicalJSON:
		appendText(b, pick(r, `{"a": 1, "b": [true, null, "x"]}`, `[1, 2.5, "s\"q"]`, `"str"`, `123`, `{}`,
			`{"nested": {"deep": [1, {"k": "ü☃"}]}}`, `{"n": 12345678901234567890123}`))
		return
	case abi.ExtInet:
		appendText(b, pick(r, "192.168.0.1/24", "10.0.0.1", "2001:db8::1/64", "::1", "0.0.0.0/0", "::ffff:1.2.3.4"))
		return
	case abi.ExtMAC:
		// CloudQuery's mac storage: the raw address bytes.
		hw, err := net.ParseMAC(pick(r, "08:00:2b:01:02:03", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"))
		if err != nil {
			panic(err)
		}
		appendText(b, string(hw))
		return
	}
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(pick[int8](r, math.MinInt8, math.MaxInt8, 0, -1, int8(r)))
	case *array.Int16Builder:
		b.Append(pick[int16](r, math.MinInt16, math.MaxInt16, 0, -1, int16(r)))
	case *array.Int32Builder:
		b.Append(pick[int32](r, math.MinInt32, math.MaxInt32, 0, -1, int32(r)))
	case *array.Int64Builder:
		b.Append(pick[int64](r, math.MinInt64, math.MaxInt64, 0, -1, int64(r)))
	case *array.Uint8Builder:
		b.Append(pick[uint8](r, 0, math.MaxUint8, 1, uint8(r)))
	case *array.Uint16Builder:
		b.Append(pick[uint16](r, 0, math.MaxUint16, 1, uint16(r)))
	case *array.Uint32Builder:
		b.Append(pick[uint32](r, 0, math.MaxUint32, 1, uint32(r)))
	case *array.Uint64Builder:
		b.Append(pick[uint64](r, 0, math.MaxUint64, 1, uint64(r)*1e15))
	case *array.Float16Builder:
		b.Append(float16.New(pick[float32](r, 1.5, -2, 65504, 0, float32(math.Inf(1)))))
	case *array.Float32Builder:
		b.Append(pick[float32](r, 1.5, -2.25, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.NaN()), float32(math.Inf(-1)), 0.1))
	case *array.Float64Builder:
		b.Append(pick(r, 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), 0.1))
	case *array.Decimal32Builder:
		b.Append(pick[decimal.Decimal32](r, 0, 1, -1, 999999999, -12345))
	case *array.Decimal64Builder:
		b.Append(pick[decimal.Decimal64](r, 0, 1, -1, 999999999999999999, -123456789))
	case *array.Decimal128Builder:
		v, _ := new(big.Int).SetString(pick(r, "1234567890123456789", "-1", "0", "9999999999999999999", "-9999999999999999999", "10000000000"), 10)
		b.Append(decimal128.FromBigInt(v))
	case *array.Decimal256Builder:
		v, _ := new(big.Int).SetString(pick(r, "1234567890123456789012345678901234567890", "-5", "0", "-9999999999999999999999999999999999999999"), 10)
		b.Append(decimal256.FromBigInt(v))
	case *array.BooleanBuilder:
		b.Append(r%2 == 0)
	case *array.FixedSizeBinaryBuilder:
		v := make([]byte, b.Type().(*arrow.FixedSizeBinaryType).ByteWidth)
		for i := range v {
			v[i] = byte(r + i*50)
		}
		b.Append(v)
	case *array.BinaryBuilder, *array.BinaryViewBuilder:
		appendText(b, pick(r, "\x00\x01\xff", "", "plain", strings.Repeat("\xfe", 300)))
	case *array.StringBuilder, *array.LargeStringBuilder, *array.StringViewBuilder:
		appendText(b, pick(r, "héllo wörld ☃", "", `quote" back\slash`, "line\nbreak\ttab", strings.Repeat("long ", 200), "日本語"))
	case *array.Date32Builder:
		b.Append(pick[arrow.Date32](r, 0, -1, 19000, 2932896, -719162, 1000000))
	case *array.Date64Builder:
		b.Append(pick[arrow.Date64](r, 0, -86400000, 19000*86400000, 2932896*86400000))
	case *array.Time32Builder:
		if b.Type().(*arrow.Time32Type).Unit == arrow.Second {
			b.Append(pick[arrow.Time32](r, 0, 86399, 3600, 45296))
		} else {
			b.Append(pick[arrow.Time32](r, 0, 86399999, 3600000, 45296789))
		}
	case *array.Time64Builder:
		if b.Type().(*arrow.Time64Type).Unit == arrow.Microsecond {
			b.Append(pick[arrow.Time64](r, 0, 86399999999, 45296789012))
		} else {
			b.Append(pick[arrow.Time64](r, 0, 86399999999000, 45296789012000))
		}
	case *array.TimestampBuilder:
		secs := pick[int64](r, 0, -62135596800, 253402300799, 1700000000, -1, 946684800)
		switch b.Type().(*arrow.TimestampType).Unit {
		case arrow.Second:
			b.Append(arrow.Timestamp(pick(r, secs, 300000000000))) // year 11476: past jsonb's string form
		case arrow.Millisecond:
			b.Append(arrow.Timestamp(secs*1000 + int64(r%1000)))
		case arrow.Microsecond:
			b.Append(arrow.Timestamp(secs*1000000 + int64(r*12345%1000000)))
		case arrow.Nanosecond:
			b.Append(arrow.Timestamp(pick(r, 0, 1700000000123456000, -1000, 9000000000000000000)))
		}
	case *array.DurationBuilder:
		v := pick[int64](r, 0, -5, 1000000000, 86400)
		if b.Type().(*arrow.DurationType).Unit == arrow.Nanosecond {
			v *= 1000
		}
		b.Append(arrow.Duration(v))
	case *array.MonthIntervalBuilder:
		b.Append(pick[arrow.MonthInterval](r, 0, -3, 14))
	case *array.DayTimeIntervalBuilder:
		b.Append(pick(r, arrow.DayTimeInterval{Days: 1, Milliseconds: 500}, arrow.DayTimeInterval{Days: -2, Milliseconds: -3}, arrow.DayTimeInterval{}))
	case *array.MonthDayNanoIntervalBuilder:
		b.Append(pick(r, arrow.MonthDayNanoInterval{Months: 1, Days: 2, Nanoseconds: 3000}, arrow.MonthDayNanoInterval{Months: -1, Days: 40, Nanoseconds: -86400000000000}))
	case *array.StructBuilder:
		if r%7 == 3 {
			b.AppendNull()
			return
		}
		b.Append(true)
		st := f.Type.(*arrow.StructType)
		for i, cf := range st.Fields() {
			if (r+i)%11 == 5 {
				b.FieldBuilder(i).AppendNull()
				continue
			}
			fillValue(b.FieldBuilder(i), cf, r+i)
		}
	case *array.MapBuilder:
		if r%5 == 4 {
			b.AppendNull()
			return
		}
		b.Append(true)
		mt := f.Type.(*arrow.MapType)
		for j := 0; j < r%4; j++ {
			if mt.KeyType().ID() == arrow.STRING {
				// Keys in jsonb's order (shorter first), which is how they read back.
				appendText(b.KeyBuilder(), strings.Repeat("k", j+1))
			} else {
				fillValue(b.KeyBuilder(), mt.KeyField(), r+j)
			}
			if j == 1 {
				b.ItemBuilder().AppendNull()
			} else {
				fillValue(b.ItemBuilder(), mt.ItemField(), r+j)
			}
		}
	case array.ListLikeBuilder:
		if r%6 == 5 {
			b.AppendNull()
			return
		}
		var elem arrow.Field
		n := r%4 + 2
		switch lt := f.Type.(type) {
		case *arrow.FixedSizeListType:
			elem, n = lt.ElemField(), int(lt.Len())
		case arrow.ListLikeType:
			elem = lt.ElemField()
		}
		if r%6 == 4 {
			n = 0 // an empty list
			if _, ok := f.Type.(*arrow.FixedSizeListType); ok {
				n = int(f.Type.(*arrow.FixedSizeListType).Len())
			}
		}
		b.Append(true)
		for j := 0; j < n; j++ {
			if j == 1 {
				b.ValueBuilder().AppendNull() // every list holds a null element
				continue
			}
			fillValue(b.ValueBuilder(), elem, r+j)
		}
	default:
		panic(fmt.Sprintf("fillValue: no values for %T (%s)", b, f.Type))
	}
}

func appendText(b array.Builder, s string) {
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(s)
	case *array.LargeStringBuilder:
		b.Append(s)
	case *array.StringViewBuilder:
		b.Append(s)
	case *array.BinaryBuilder:
		b.Append([]byte(s))
	case *array.BinaryViewBuilder:
		b.Append([]byte(s))
	default:
		panic(fmt.Sprintf("appendText: %T", b))
	}
}

// sameRows reports how the rows of got differ from want, matching rows by
// their int64 "id" (column 0 of the source schema, wherever it is), or "".
func sameRows(t testing.TB, want []arrow.RecordBatch, got arrow.Table) string {
	t.Helper()
	if len(want) == 0 {
		if got.NumRows() != 0 {
			return fmt.Sprintf("got %d rows, want none", got.NumRows())
		}
		return ""
	}
	s := want[0].Schema()
	wantTbl := array.NewTableFromRecords(s, want)
	defer wantTbl.Release()
	if got.NumRows() != wantTbl.NumRows() {
		return fmt.Sprintf("got %d rows, want %d", got.NumRows(), wantTbl.NumRows())
	}
	sorted := func(tbl arrow.Table) arrow.RecordBatch {
		tr := array.NewTableReader(tbl, -1)
		defer tr.Release()
		var recs []arrow.RecordBatch
		for tr.Next() {
			r := tr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		return concatSortedByID(t, s, recs)
	}
	w, g := sorted(wantTbl), sorted(got)
	defer w.Release()
	defer g.Release()
	var diffs []string
	for c := 0; c < int(w.NumCols()); c++ {
		wa, ga := w.Column(c), g.Column(c)
		if !arrow.TypeEqual(wa.DataType(), ga.DataType()) {
			diffs = append(diffs, fmt.Sprintf("column %s: type %s, want %s", s.Field(c).Name, ga.DataType(), wa.DataType()))
			continue
		}
		if !arraysEqual(wa, ga) {
			for i := 0; i < wa.Len(); i++ {
				ws, gs := wa.ValueStr(i), ga.ValueStr(i)
				if ws != gs {
					diffs = append(diffs, fmt.Sprintf("column %s, id %s: got %.300s, want %.300s", s.Field(c).Name, w.Column(idIndex(s)).ValueStr(i), gs, ws))
					break
				}
			}
			if len(diffs) == 0 || !strings.HasPrefix(diffs[len(diffs)-1], "column "+s.Field(c).Name+",") {
				diffs = append(diffs, fmt.Sprintf("column %s: %s", s.Field(c).Name, explainDiff(wa, ga)))
			}
		}
	}
	return strings.Join(diffs, "\n")
}

func idIndex(s *arrow.Schema) int {
	idx := s.FieldIndices("id")
	if len(idx) == 0 {
		return 0
	}
	return idx[0]
}

// concatSortedByID concatenates recs and orders the rows by "id".
func concatSortedByID(t testing.TB, s *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	type ref struct {
		rec int
		row int
		id  int64
	}
	var refs []ref
	id := idIndex(s)
	for ri, r := range recs {
		ids := r.Column(id).(*array.Int64)
		for i := 0; i < int(r.NumRows()); i++ {
			refs = append(refs, ref{ri, i, ids.Value(i)})
		}
	}
	sortRefs := func(a, b ref) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	}
	slices.SortFunc(refs, sortRefs)
	cols := make([]arrow.Array, s.NumFields())
	for c := range cols {
		var parts []arrow.Array
		for _, rf := range refs {
			parts = append(parts, array.NewSlice(recs[rf.rec].Column(c), int64(rf.row), int64(rf.row+1)))
		}
		if len(parts) == 0 {
			cols[c] = array.MakeArrayOfNull(memory.DefaultAllocator, s.Field(c).Type, 0)
			continue
		}
		var err error
		if cols[c], err = array.Concatenate(parts, memory.DefaultAllocator); err != nil {
			t.Fatalf("concatenate %s: %v", s.Field(c).Name, err)
		}
		for _, p := range parts {
			p.Release()
		}
	}
	for _, r := range recs {
		r.Release()
	}
	out := array.NewRecordBatch(s, cols, int64(len(refs)))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// arraysEqual is array.Equal with NaN equal to NaN (the values are stored as
// they are, NaN included), working around array.ApproxEqual's float16
// comparison, which finds +Inf unequal to +Inf.
func arraysEqual(a, b arrow.Array) bool {
	if array.Equal(a, b) || array.ApproxEqual(a, b, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
		return true
	}
	if a.Len() != b.Len() || !arrow.TypeEqual(a.DataType(), b.DataType()) {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) != b.IsNull(i) {
			return false
		}
	}
	switch a := a.(type) {
	case *array.Float16:
		b := b.(*array.Float16)
		for i := 0; i < a.Len(); i++ {
			x, y := a.Value(i).Float32(), b.Value(i).Float32()
			if !a.IsNull(i) && x != y && !(x != x && y != y) {
				return false
			}
		}
		return true
	case *array.Struct:
		b := b.(*array.Struct)
		for f := 0; f < a.NumField(); f++ {
			if !arraysEqual(a.Field(f), b.Field(f)) {
				return false
			}
		}
		return true
	case array.ListLike:
		b := b.(array.ListLike)
		for i := 0; i < a.Len(); i++ {
			as, ae := a.ValueOffsets(i)
			bs, be := b.ValueOffsets(i)
			if ae-as != be-bs {
				return false
			}
			x := array.NewSlice(a.ListValues(), as, ae)
			y := array.NewSlice(b.ListValues(), bs, be)
			eq := arraysEqual(x, y)
			x.Release()
			y.Release()
			if !eq {
				return false
			}
		}
		return true
	}
	return false
}
