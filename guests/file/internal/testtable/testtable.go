// Package testtable makes the reference test table (reference-behaviour.md,
// "Test table") for the file destination's tests and benchmarks: every
// column type the destination must write, with nulls, extreme values,
// text that CSV must quote and JSON must escape, and lists that all hold a
// null element.
package testtable

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

func init() { arrowtypes.Register() }

// ScalarFields are the columns of the reference test table
// (reference-behaviour.md, "Test table") that are not nested.
func ScalarFields() []arrow.Field {
	tsUnits := []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond}
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
	for _, u := range tsUnits {
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
	for _, u := range tsUnits {
		fs = append(fs, arrow.Field{Name: "timestamp_" + u.String(), Type: &arrow.TimestampType{Unit: u, TimeZone: "UTC"}})
	}
	fs = append(fs, arrow.Field{Name: "decimal", Type: &arrow.Decimal128Type{Precision: 19, Scale: 10}})
	for i := range fs {
		fs[i].Nullable = true
	}
	return fs
}

// Schema is the reference test table: the internal columns, every
// scalar type, a struct of all of them and a list of every type but json.
func Schema() *arrow.Schema {
	scalars := ScalarFields()
	fs := []arrow.Field{
		{Name: abi.ColSyncTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: abi.ColSourceName, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: abi.ColID, Type: arrowtypes.NewUUIDType(), Nullable: false},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
	}
	fs = append(fs, scalars...)
	fs = append(fs, arrow.Field{Name: "struct", Type: arrow.StructOf(scalars...), Nullable: true})
	for _, f := range scalars {
		if arrowtypes.IsJSON(f.Type) {
			continue
		}
		fs = append(fs, arrow.Field{Name: f.Name + "_list", Type: arrow.ListOf(f.Type), Nullable: true})
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"test_table"})
	return arrow.NewSchema(fs, &md)
}

// Record makes n rows of schema starting at row from. Every third row
// is null in every nullable column; every list holds a null element.
func Record(schema *arrow.Schema, from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		for c, f := range schema.Fields() {
			if f.Nullable && i%3 == 2 {
				b.Field(c).AppendNull()
				continue
			}
			appendValue(b.Field(c), f.Type, i, c)
		}
	}
	return b.NewRecordBatch()
}

var baseTime = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)

// appendValue appends a value of dt that depends on row i and column c.
func appendValue(b array.Builder, dt arrow.DataType, i, c int) {
	k := int64(i*31 + c)
	switch bb := b.(type) {
	case *array.Int8Builder:
		bb.Append([]int8{math.MinInt8, math.MaxInt8, int8(k % 100), -int8(k % 100)}[i%4])
	case *array.Int16Builder:
		bb.Append([]int16{math.MinInt16, math.MaxInt16, int16(k), -int16(k)}[i%4])
	case *array.Int32Builder:
		bb.Append([]int32{math.MinInt32, math.MaxInt32, int32(k * 1001), -int32(k * 1001)}[i%4])
	case *array.Int64Builder:
		if dt.ID() == arrow.INT64 && i%4 < 2 && c > 3 {
			bb.Append([]int64{math.MinInt64, math.MaxInt64}[i%4])
		} else {
			bb.Append(k * 1_000_003)
		}
	case *array.Uint8Builder:
		bb.Append([]uint8{0, math.MaxUint8, uint8(k), 7}[i%4])
	case *array.Uint16Builder:
		bb.Append([]uint16{0, math.MaxUint16, uint16(k), 7}[i%4])
	case *array.Uint32Builder:
		bb.Append([]uint32{0, math.MaxUint32, uint32(k), 7}[i%4])
	case *array.Uint64Builder:
		bb.Append([]uint64{0, math.MaxUint64, uint64(k) * 1_000_000_007, 7}[i%4])
	case *array.Float32Builder:
		bb.Append([]float32{0, -1.5, float32(k) / 8, math.MaxFloat32}[i%4])
	case *array.Float64Builder:
		bb.Append([]float64{0, -1.25e-300, float64(k) / 3, math.MaxFloat64}[i%4])
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
		bb.Append(arrow.Duration(k*1_000_003 - 500))
	case *array.MonthIntervalBuilder:
		bb.Append(arrow.MonthInterval(k - 50))
	case *array.DayTimeIntervalBuilder:
		bb.Append(arrow.DayTimeInterval{Days: int32(k), Milliseconds: int32(-k * 1000)})
	case *array.MonthDayNanoIntervalBuilder:
		bb.Append(arrow.MonthDayNanoInterval{Months: int32(k), Days: -int32(k), Nanoseconds: k * 1_000_000_007})
	case *array.Time32Builder:
		t := arrow.Time32(k * 997 % 86400)
		if dt.(*arrow.Time32Type).Unit == arrow.Millisecond {
			t = arrow.Time32(k * 997_123 % 86_400_000)
		}
		bb.Append(t)
	case *array.Time64Builder:
		t := arrow.Time64(k * 997_123_457 % 86_400_000_000)
		if dt.(*arrow.Time64Type).Unit == arrow.Nanosecond {
			t = arrow.Time64(k * 997_123_456_789 % 86_400_000_000_000)
		}
		bb.Append(t)
	case *array.TimestampBuilder:
		ts, _ := arrow.TimestampFromTime(baseTime.Add(time.Duration(k)*time.Hour*17), dt.(*arrow.TimestampType).Unit)
		bb.Append(ts)
	case *array.Decimal128Builder:
		v, err := decimal128.FromString(fmt.Sprintf("%d.%010d", (k*12345-99999)%100_000_000, k*7919%10_000_000_000), 19, 10)
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
		if err := bb.Append(map[string]any{"row": i, "text": text(i, c), "list": []any{1, "two", nil, 3.5}, "nested": map[string]any{"ok": true}}); err != nil {
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
			appendValue(bb.FieldBuilder(f), st.Field(f).Type, i, c+f)
		}
	case *array.ListBuilder:
		bb.Append(true)
		if i%5 == 4 {
			return // an empty list
		}
		elem := dt.(*arrow.ListType).Elem()
		appendValue(bb.ValueBuilder(), elem, i, c)
		bb.ValueBuilder().AppendNull()
		appendValue(bb.ValueBuilder(), elem, i+1, c)
	default:
		panic(fmt.Sprintf("appendValue: no values for %s (%T)", dt, b))
	}
}

// text is a string with what CSV and JSON must quote or escape.
func text(i, c int) string {
	return []string{
		fmt.Sprintf("row %d col %d", i, c),
		fmt.Sprintf(`quote " comma , semicolon ; tab	newline
and ü, 日本語 %d`, i),
		"NULL",
		strings.Repeat("x", c%7+1) + " ",
	}[i%4]
}
