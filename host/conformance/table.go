package conformance

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// ScalarFields are the columns of the reference test table that are not
// nested: every type a CloudQuery destination must store (the writer test
// checklist of docs/background.md, "The writer tests", maps left out).
func ScalarFields() []arrow.Field {
	units := []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond}
	fs := []arrow.Field{
		{Name: "int8", Type: arrow.PrimitiveTypes.Int8},
		{Name: "int16", Type: arrow.PrimitiveTypes.Int16},
		{Name: "int32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "int64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "uint8", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "uint16", Type: arrow.PrimitiveTypes.Uint16},
		{Name: "uint32", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "uint64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "float32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "float64", Type: arrow.PrimitiveTypes.Float64},
		{Name: "binary", Type: arrow.BinaryTypes.Binary},
		{Name: "string", Type: arrow.BinaryTypes.String},
		{Name: "bool", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "uuid", Type: arrowtypes.NewUUIDType()},
		{Name: "inet", Type: arrowtypes.NewInetType()},
		{Name: "mac", Type: arrowtypes.NewMACType()},
		{Name: "json", Type: arrowtypes.NewJSONType()},
		{Name: "date32", Type: arrow.FixedWidthTypes.Date32},
		{Name: "date64", Type: arrow.FixedWidthTypes.Date64},
	}
	for _, u := range units {
		fs = append(fs, arrow.Field{Name: "duration_" + u.String(), Type: &arrow.DurationType{Unit: u}})
	}
	fs = append(fs,
		arrow.Field{Name: "interval_month", Type: arrow.FixedWidthTypes.MonthInterval},
		arrow.Field{Name: "interval_day_time", Type: arrow.FixedWidthTypes.DayTimeInterval},
		arrow.Field{Name: "interval_month_day_nano", Type: arrow.FixedWidthTypes.MonthDayNanoInterval},
		arrow.Field{Name: "large_binary", Type: arrow.BinaryTypes.LargeBinary},
		arrow.Field{Name: "large_string", Type: arrow.BinaryTypes.LargeString},
		arrow.Field{Name: "time32_s", Type: arrow.FixedWidthTypes.Time32s},
		arrow.Field{Name: "time32_ms", Type: arrow.FixedWidthTypes.Time32ms},
		arrow.Field{Name: "time64_us", Type: arrow.FixedWidthTypes.Time64us},
		arrow.Field{Name: "time64_ns", Type: arrow.FixedWidthTypes.Time64ns},
	)
	for _, u := range units {
		fs = append(fs, arrow.Field{Name: "timestamp_" + u.String(), Type: &arrow.TimestampType{Unit: u, TimeZone: "UTC"}})
	}
	fs = append(fs, arrow.Field{Name: "decimal128", Type: &arrow.Decimal128Type{Precision: 19, Scale: 10}})
	for i := range fs {
		fs[i].Nullable = true
	}
	return fs
}

// TestTableFields are the reference test table's columns after its key "id":
// every scalar type, a struct of all of them, and a list of every scalar
// type but json, each list holding a null element.
func TestTableFields() []arrow.Field {
	scalars := ScalarFields()
	fs := append([]arrow.Field{}, scalars...)
	fs = append(fs, arrow.Field{Name: "struct", Type: arrow.StructOf(scalars...), Nullable: true})
	for _, f := range scalars {
		if arrowtypes.IsJSON(f.Type) {
			continue
		}
		fs = append(fs, arrow.Field{Name: "list_" + f.Name, Type: arrow.ListOfField(arrow.Field{Name: "item", Type: f.Type, Nullable: true}), Nullable: true})
	}
	return fs
}

// TableSchema is a source table named table: an int64 "id" (the primary key
// when pk) followed by fields.
func TableSchema(table string, pk bool, fields ...arrow.Field) *arrow.Schema {
	id := arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64}
	if pk {
		id.Metadata = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema(append([]arrow.Field{id}, fields...), &md)
}

// RowOptions shape the values Rows makes.
type RowOptions struct {
	// Nulls makes every column but id null: the "null rows" of the
	// checklist.
	Nulls bool
	// Nanoseconds gives nanosecond timestamps, times, durations and
	// intervals a sub-microsecond part, for destinations that store
	// nanoseconds (files). Without it every such value is a whole number of
	// microseconds, which every destination in this repository stores
	// exactly (PostgreSQL keeps microseconds).
	Nanoseconds bool
}

// Rows makes n rows of s with ids from, from+1, ... Values depend on the id
// and the column. Unless o.Nulls, every third row's nullable columns are
// null, lists hold a null element and every fifth list is empty.
//
// Values stay where every destination in this repository stores them
// exactly: canonical inet, mac and JSON text, no NUL bytes in text, and
// whole microseconds unless o.Nanoseconds.
func Rows(s *arrow.Schema, from, n int, o RowOptions) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i := from; i < from+n; i++ {
		for c, f := range s.Fields() {
			switch {
			case f.Name == "id":
				b.Field(c).(*array.Int64Builder).Append(int64(i))
			case o.Nulls && f.Nullable, f.Nullable && i%3 == 2:
				b.Field(c).AppendNull()
			default:
				appendValue(b.Field(c), f.Type, i, c, o.Nanoseconds)
			}
		}
	}
	return b.NewRecordBatch()
}

// baseTime is the origin of time values; its nanoseconds are cut to
// microseconds unless RowOptions.Nanoseconds.
var baseTime = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)

func pick[T any](i int, vals ...T) T { return vals[i%len(vals)] }

// appendValue appends a value of dt that depends on row i and column c,
// with sub-microsecond parts when nanos.
func appendValue(b array.Builder, dt arrow.DataType, i, c int, nanos bool) {
	k := int64(i*31 + c)
	// subMicro is the sub-microsecond part of nanosecond values.
	var subMicro int64
	if nanos {
		subMicro = k*7%999 + 1
	}
	switch bb := b.(type) {
	case *array.Int8Builder:
		bb.Append(pick(i, math.MinInt8, math.MaxInt8, int8(k%100), -int8(k%100)))
	case *array.Int16Builder:
		bb.Append(pick(i, math.MinInt16, math.MaxInt16, int16(k), -int16(k)))
	case *array.Int32Builder:
		bb.Append(pick(i, math.MinInt32, math.MaxInt32, int32(k*1001), -int32(k*1001)))
	case *array.Int64Builder:
		bb.Append(pick(i, math.MinInt64, math.MaxInt64, k*1_000_003, -k))
	case *array.Uint8Builder:
		bb.Append(pick(i, 0, math.MaxUint8, uint8(k), 7))
	case *array.Uint16Builder:
		bb.Append(pick(i, 0, math.MaxUint16, uint16(k), 7))
	case *array.Uint32Builder:
		bb.Append(pick(i, 0, math.MaxUint32, uint32(k), 7))
	case *array.Uint64Builder:
		bb.Append(pick(i, 0, math.MaxUint64, uint64(k)*1_000_000_007, 7))
	case *array.Float32Builder:
		bb.Append(pick(i, 0, -1.5, float32(k)/8, math.MaxFloat32))
	case *array.Float64Builder:
		bb.Append(pick(i, 0, -1.25e-300, float64(k)/3, math.MaxFloat64))
	case *array.BooleanBuilder:
		bb.Append(i%2 == 0)
	case *array.StringBuilder:
		bb.Append(text(i, c))
	case *array.LargeStringBuilder:
		bb.Append(text(i, c))
	case *array.BinaryBuilder:
		bb.Append([]byte{0, 1, 2, byte(i), byte(c), 0xff, '\n', ',', '"'})
	case *array.Date32Builder:
		bb.Append(arrow.Date32FromTime(baseTime.AddDate(0, 0, int(k)-500)))
	case *array.Date64Builder:
		bb.Append(arrow.Date64FromTime(baseTime.AddDate(0, 0, 500-int(k)).Truncate(24 * time.Hour)))
	case *array.DurationBuilder:
		v := k*1_000_003 - 500
		if dt.(*arrow.DurationType).Unit == arrow.Nanosecond {
			v = v*1000 + subMicro
		}
		bb.Append(arrow.Duration(v))
	case *array.MonthIntervalBuilder:
		bb.Append(arrow.MonthInterval(k - 50))
	case *array.DayTimeIntervalBuilder:
		bb.Append(arrow.DayTimeInterval{Days: int32(k), Milliseconds: int32(-k * 1000)})
	case *array.MonthDayNanoIntervalBuilder:
		bb.Append(arrow.MonthDayNanoInterval{Months: int32(k), Days: -int32(k), Nanoseconds: k*1_000_007_000 + subMicro})
	case *array.Time32Builder:
		t := arrow.Time32(k * 997 % 86400)
		if dt.(*arrow.Time32Type).Unit == arrow.Millisecond {
			t = arrow.Time32(k * 997_123 % 86_400_000)
		}
		bb.Append(t)
	case *array.Time64Builder:
		t := arrow.Time64(k * 997_123_457 % 86_400_000_000)
		if dt.(*arrow.Time64Type).Unit == arrow.Nanosecond {
			t = t*1000 + arrow.Time64(subMicro)
		}
		bb.Append(t)
	case *array.TimestampBuilder:
		at := baseTime.Add(time.Duration(k) * 17 * time.Hour)
		if !nanos {
			at = at.Truncate(time.Microsecond)
		}
		ts, _ := arrow.TimestampFromTime(at, dt.(*arrow.TimestampType).Unit)
		bb.Append(ts)
	case *array.Decimal128Builder:
		v, err := decimal128.FromString(fmt.Sprintf("%d.%010d", k*12345%1_000_000_000-99999, k*7919%10_000_000_000), 19, 10)
		if err != nil {
			panic(err)
		}
		if i%5 == 1 {
			v = v.Negate()
		}
		bb.Append(v)
	case *arrowtypes.UUIDBuilder:
		bb.Append(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d/%d", i, c)))
	case *arrowtypes.JSONBuilder:
		doc := pick(i,
			fmt.Sprintf(`{"row":%d,"list":[1,"two",null,3.5],"nested":{"ok":true}}`, i),
			`[1,2.5,"s\"q",{"k":"ü☃"}]`,
			`"a string"`,
			fmt.Sprintf(`%d`, k))
		if err := bb.AppendRaw([]byte(doc)); err != nil {
			panic(err)
		}
	case *arrowtypes.InetBuilder:
		if i%2 == 0 {
			bb.Append(netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), byte(c)}), 24))
		} else {
			bb.AppendAddr(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x:%x", k>>16&0xffff, k&0xffff)))
		}
	case *arrowtypes.MACBuilder:
		bb.Append(net.HardwareAddr{0x00, 0x1b, 0x63, byte(i), byte(c), 0xff})
	case *array.StructBuilder:
		bb.Append(true)
		st := dt.(*arrow.StructType)
		for f := 0; f < st.NumFields(); f++ {
			if i%4 == 1 && f%2 == 1 {
				bb.FieldBuilder(f).AppendNull()
				continue
			}
			appendValue(bb.FieldBuilder(f), st.Field(f).Type, i, c+f, nanos)
		}
	case *array.ListBuilder:
		bb.Append(true)
		if i%5 == 4 {
			return // an empty list
		}
		elem := dt.(*arrow.ListType).Elem()
		appendValue(bb.ValueBuilder(), elem, i, c, nanos)
		bb.ValueBuilder().AppendNull()
		appendValue(bb.ValueBuilder(), elem, i+1, c, nanos)
	default:
		panic(fmt.Sprintf("conformance: no test values for %s (%T)", dt, b))
	}
}

// text is a string with what CSV must quote and JSON must escape.
func text(i, c int) string {
	return pick(i,
		fmt.Sprintf("row %d col %d", i, c),
		fmt.Sprintf("quote \" comma , semicolon ; tab\tnewline\nand ü, 日本語 %d", i),
		"NULL",
		strings.Repeat("x", c%7+1)+" ")
}

// kv is a small table: a string key "name" (the primary key when pk) and an
// int64 "value".
func kvSchema(table string, pk bool) *arrow.Schema {
	name := arrow.Field{Name: "name", Type: arrow.BinaryTypes.String}
	if pk {
		name.Metadata = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema([]arrow.Field{name, {Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, &md)
}

// kvRows makes one row per name, with the values given.
func kvRows(s *arrow.Schema, names []string, values []int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i, n := range names {
		b.Field(0).(*array.StringBuilder).Append(n)
		b.Field(1).(*array.Int64Builder).Append(values[i])
	}
	return b.NewRecordBatch()
}
