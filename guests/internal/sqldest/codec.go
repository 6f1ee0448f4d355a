package sqldest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
)

// Codec says how a column's Arrow values are stored, and how they are read
// back into the same Arrow type.
type Codec int

const (
	// Native: the values go to the host as they are (or as their
	// extension type's storage) and come back as ReadType.
	Native Codec = iota
	// Text: the value's text form (arrow-go's JSON form of it, unquoted
	// when a string: "2001:db8::1", "123.4500000000", "02:51:49").
	Text
	// JSON: the value's JSON form (structs, lists, intervals, JSON).
	JSON
	// TimeText: a timestamp as fixed-width UTC text, "2006-01-02
	// 15:04:05.000000" (nine fractional digits for nanoseconds), which
	// sorts and compares as the instants do.
	TimeText
)

// Encoding is the load encoding (abi.SQLEncode*) the host applies to the
// column's values.
func (c Codec) Encoding() string {
	switch c {
	case Text:
		return abi.SQLEncodeText
	case JSON:
		return abi.SQLEncodeJSON
	case TimeText:
		return abi.SQLEncodeTimeText
	}
	return abi.SQLEncodeNative
}

// Column is one column of a table as a dialect stores it.
type Column struct {
	// Name is the field's name; Type the stored type as describe reports it.
	Name string
	Type string
	// NotNull, PK and Unique are the column's constraints.
	NotNull, PK, Unique bool
	// Field is the Arrow field the column stores.
	Field arrow.Field
	Codec Codec
	// ReadType is the result type the column is read back as (abi.SQLType*).
	ReadType string
	// ReadExpr, when set, is the expression that reads the column (with
	// %s for the quoted column name), e.g. "CAST(%s AS TEXT)".
	ReadExpr string
}

// timeTextLayout returns the TimeText layout of unit.
func timeTextLayout(unit arrow.TimeUnit) string {
	if unit == arrow.Nanosecond {
		return "2006-01-02 15:04:05.000000000"
	}
	return "2006-01-02 15:04:05.000000"
}

// fromStored converts arr, the column as read back (of ReadType), to the
// field's Arrow type.
func (c *Column) fromStored(arr arrow.Array) (arrow.Array, error) {
	want := c.Field.Type
	switch c.Codec {
	case Text, JSON:
		s, ok := arr.(*array.String)
		if !ok {
			return nil, fmt.Errorf("column %q: read back as %s, want utf8", c.Name, arr.DataType())
		}
		var sb strings.Builder
		sb.WriteByte('[')
		quote := c.Codec == Text && !numericText(want)
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			switch {
			case s.IsNull(i):
				sb.WriteString("null")
			case quote:
				q, _ := json.Marshal(s.Value(i))
				sb.Write(q)
			default:
				sb.WriteString(s.Value(i))
			}
		}
		sb.WriteByte(']')
		out, _, err := array.FromJSON(memory.DefaultAllocator, want, strings.NewReader(sb.String()))
		if err != nil {
			return nil, fmt.Errorf("column %q: read back its %s values: %w", c.Name, want, err)
		}
		return out, nil
	case TimeText:
		s, ok := arr.(*array.String)
		if !ok {
			return nil, fmt.Errorf("column %q: read back as %s, want utf8", c.Name, arr.DataType())
		}
		tt := want.(*arrow.TimestampType)
		b := array.NewTimestampBuilder(memory.DefaultAllocator, tt)
		defer b.Release()
		for i := 0; i < s.Len(); i++ {
			if s.IsNull(i) {
				b.AppendNull()
				continue
			}
			t, err := time.Parse(timeTextLayout(tt.Unit), s.Value(i))
			if err != nil {
				return nil, fmt.Errorf("column %q, row %d: %w", c.Name, i, err)
			}
			v, err := arrow.TimestampFromTime(t, tt.Unit)
			if err != nil {
				return nil, fmt.Errorf("column %q, row %d: %w", c.Name, i, err)
			}
			b.Append(v)
		}
		return b.NewArray(), nil
	}
	return castNative(c.Name, arr, want)
}

// numericText reports whether dt's text form is a JSON number (uint64
// stored as text).
func numericText(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.UINT64, arrow.INT64, arrow.UINT32, arrow.INT32:
		return true
	}
	return false
}

// castNative converts a column read back as one of the host's result
// types to want, which the column stores natively.
func castNative(name string, arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(arr.DataType(), want) {
		arr.Retain()
		return arr, nil
	}
	storage := want
	ext, isExt := want.(arrow.ExtensionType)
	if isExt {
		storage = ext.StorageType()
	}
	b := array.NewBuilder(memory.DefaultAllocator, storage)
	defer b.Release()
	n := arr.Len()
	fail := func(i int) error {
		return fmt.Errorf("column %q, row %d: %s value %s does not fit %s", name, i, arr.DataType(), arr.ValueStr(i), want)
	}
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch a := arr.(type) {
		case *array.Int64:
			v := a.Value(i)
			switch bb := b.(type) {
			case *array.Int8Builder:
				if int64(int8(v)) != v {
					return nil, fail(i)
				}
				bb.Append(int8(v))
			case *array.Int16Builder:
				if int64(int16(v)) != v {
					return nil, fail(i)
				}
				bb.Append(int16(v))
			case *array.Int32Builder:
				if int64(int32(v)) != v {
					return nil, fail(i)
				}
				bb.Append(int32(v))
			case *array.Int64Builder:
				bb.Append(v)
			case *array.Uint8Builder:
				if v < 0 || v > 0xff {
					return nil, fail(i)
				}
				bb.Append(uint8(v))
			case *array.Uint16Builder:
				if v < 0 || v > 0xffff {
					return nil, fail(i)
				}
				bb.Append(uint16(v))
			case *array.Uint32Builder:
				if v < 0 || v > 0xffffffff {
					return nil, fail(i)
				}
				bb.Append(uint32(v))
			case *array.Uint64Builder:
				if v < 0 {
					return nil, fail(i)
				}
				bb.Append(uint64(v))
			case *array.DurationBuilder:
				bb.Append(arrow.Duration(v))
			case *array.BooleanBuilder:
				bb.Append(v != 0)
			default:
				return nil, fail(i)
			}
		case *array.Uint64:
			bb, ok := b.(*array.Uint64Builder)
			if !ok {
				return nil, fail(i)
			}
			bb.Append(a.Value(i))
		case *array.Float64:
			switch bb := b.(type) {
			case *array.Float32Builder:
				bb.Append(float32(a.Value(i)))
			case *array.Float64Builder:
				bb.Append(a.Value(i))
			default:
				return nil, fail(i)
			}
		case *array.Boolean:
			bb, ok := b.(*array.BooleanBuilder)
			if !ok {
				return nil, fail(i)
			}
			bb.Append(a.Value(i))
		case *array.String:
			if err := b.AppendValueFromString(a.Value(i)); err != nil {
				return nil, fmt.Errorf("column %q, row %d: %w", name, i, err)
			}
		case *array.Binary:
			switch bb := b.(type) {
			case *array.BinaryBuilder:
				bb.Append(a.Value(i))
			case *array.FixedSizeBinaryBuilder:
				if len(a.Value(i)) != storage.(*arrow.FixedSizeBinaryType).ByteWidth {
					return nil, fail(i)
				}
				bb.Append(a.Value(i))
			case *array.StringBuilder:
				bb.BinaryBuilder.Append(a.Value(i))
			case *array.LargeStringBuilder:
				bb.Append(string(a.Value(i)))
			default:
				return nil, fail(i)
			}
		case *array.Timestamp:
			us := int64(a.Value(i))
			switch bb := b.(type) {
			case *array.TimestampBuilder:
				unit := storage.(*arrow.TimestampType).Unit
				bb.Append(arrow.Timestamp(fromMicros(us, unit)))
			case *array.Date32Builder:
				bb.Append(arrow.Date32FromTime(time.UnixMicro(us).UTC()))
			case *array.Date64Builder:
				bb.Append(arrow.Date64FromTime(time.UnixMicro(us).UTC()))
			case *array.Time64Builder:
				unit := storage.(*arrow.Time64Type).Unit
				bb.Append(arrow.Time64(fromMicros(us, unit)))
			default:
				return nil, fail(i)
			}
		default:
			return nil, fail(i)
		}
	}
	out := b.NewArray()
	if isExt {
		defer out.Release()
		return array.NewExtensionArrayWithStorage(ext, out), nil
	}
	return out, nil
}

func fromMicros(us int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return us / 1_000_000
	case arrow.Millisecond:
		return us / 1000
	case arrow.Nanosecond:
		return us * 1000
	}
	return us
}

// readTypeOf is the result type a native column is read back as.
func readTypeOf(dt arrow.DataType) string {
	if ext, ok := dt.(arrow.ExtensionType); ok {
		dt = ext.StorageType()
	}
	switch dt.ID() {
	case arrow.BOOL:
		return abi.SQLTypeBool
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.DURATION:
		return abi.SQLTypeInt64
	case arrow.UINT64:
		return abi.SQLTypeUint64
	case arrow.FLOAT32, arrow.FLOAT64:
		return abi.SQLTypeFloat64
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return abi.SQLTypeBinary
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return abi.SQLTypeTimestamp
	}
	return abi.SQLTypeUTF8
}

// itoa is strconv.Itoa, for the dialects' type names.
func itoa(n int) string { return strconv.Itoa(n) }
