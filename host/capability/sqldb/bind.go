package sqldb

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The Arrow types a load's rows may have, and what a database receives:
//
//	bool                                  boolean
//	int8..int64, uint8..uint32            integer
//	uint64                                integer; beyond int64, its decimal text
//	float32, float64                      double
//	utf8, large_utf8                      text
//	binary, large_binary, fixed_size_binary  bytes
//	timestamp (any unit, any zone)        the instant, in UTC
//	date32, date64                        a date (midnight UTC)
//	decimal128                            its decimal text
//
// Extension types load as their storage. Others are refused: a guest
// converts them to one of these first.

// binder returns a function giving row i of arr as a database/sql value.
func binder(arr arrow.Array) (func(int) any, error) {
	if ext, ok := arr.(array.ExtensionArray); ok {
		arr = ext.Storage()
	}
	null := func(f func(int) any) func(int) any {
		if arr.NullN() == 0 {
			return f
		}
		return func(i int) any {
			if arr.IsNull(i) {
				return nil
			}
			return f(i)
		}
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.Int8:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Int16:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Int32:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Int64:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.Uint8:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Uint16:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Uint32:
		return null(func(i int) any { return int64(a.Value(i)) }), nil
	case *array.Uint64:
		return null(func(i int) any {
			if v := a.Value(i); v > math.MaxInt64 {
				return strconv.FormatUint(v, 10)
			}
			return int64(a.Value(i))
		}), nil
	case *array.Float32:
		return null(func(i int) any { return float64(a.Value(i)) }), nil
	case *array.Float64:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.String:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.LargeString:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.Binary:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.LargeBinary:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.FixedSizeBinary:
		return null(func(i int) any { return a.Value(i) }), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return null(func(i int) any { return a.Value(i).ToTime(unit).UTC() }), nil
	case *array.Date32:
		return null(func(i int) any { return a.Value(i).ToTime().UTC() }), nil
	case *array.Date64:
		return null(func(i int) any { return a.Value(i).ToTime().UTC() }), nil
	case *array.Decimal128:
		return null(func(i int) any { return a.ValueStr(i) }), nil
	}
	return nil, fmt.Errorf("Arrow type %s cannot be loaded: convert it to bool, an integer, a float, utf8, binary, timestamp, date or decimal128 first", arr.DataType())
}

// textAppender returns a function appending row i of arr to dst in the
// default text format of MySQL's LOAD DATA (fields separated by tabs,
// backslash escapes, \N for NULL).
func textAppender(arr arrow.Array) (func(dst []byte, i int) []byte, error) {
	if ext, ok := arr.(array.ExtensionArray); ok {
		arr = ext.Storage()
	}
	null := func(f func([]byte, int) []byte) func([]byte, int) []byte {
		if arr.NullN() == 0 {
			return f
		}
		return func(dst []byte, i int) []byte {
			if arr.IsNull(i) {
				return append(dst, '\\', 'N')
			}
			return f(dst, i)
		}
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return null(func(dst []byte, i int) []byte {
			if a.Value(i) {
				return append(dst, '1')
			}
			return append(dst, '0')
		}), nil
	case *array.Int8:
		return null(func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }), nil
	case *array.Int16:
		return null(func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }), nil
	case *array.Int32:
		return null(func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }), nil
	case *array.Int64:
		return null(func(dst []byte, i int) []byte { return strconv.AppendInt(dst, a.Value(i), 10) }), nil
	case *array.Uint8:
		return null(func(dst []byte, i int) []byte { return strconv.AppendUint(dst, uint64(a.Value(i)), 10) }), nil
	case *array.Uint16:
		return null(func(dst []byte, i int) []byte { return strconv.AppendUint(dst, uint64(a.Value(i)), 10) }), nil
	case *array.Uint32:
		return null(func(dst []byte, i int) []byte { return strconv.AppendUint(dst, uint64(a.Value(i)), 10) }), nil
	case *array.Uint64:
		return null(func(dst []byte, i int) []byte { return strconv.AppendUint(dst, a.Value(i), 10) }), nil
	case *array.Float32:
		// The float64 of the value, in full: its shortest float32 form
		// ("3.4028235e+38") may parse beyond a FLOAT's range.
		return null(func(dst []byte, i int) []byte { return appendFloat(dst, float64(a.Value(i))) }), nil
	case *array.Float64:
		return null(func(dst []byte, i int) []byte { return appendFloat(dst, a.Value(i)) }), nil
	case *array.String:
		return null(func(dst []byte, i int) []byte { return appendEscaped(dst, a.Value(i)) }), nil
	case *array.LargeString:
		return null(func(dst []byte, i int) []byte { return appendEscaped(dst, a.Value(i)) }), nil
	case *array.Binary:
		return null(func(dst []byte, i int) []byte { return appendEscaped(dst, a.Value(i)) }), nil
	case *array.LargeBinary:
		return null(func(dst []byte, i int) []byte { return appendEscaped(dst, a.Value(i)) }), nil
	case *array.FixedSizeBinary:
		return null(func(dst []byte, i int) []byte { return appendEscaped(dst, a.Value(i)) }), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return null(func(dst []byte, i int) []byte {
			return a.Value(i).ToTime(unit).UTC().AppendFormat(dst, "2006-01-02 15:04:05.999999")
		}), nil
	case *array.Date32:
		return null(func(dst []byte, i int) []byte { return a.Value(i).ToTime().UTC().AppendFormat(dst, time.DateOnly) }), nil
	case *array.Date64:
		return null(func(dst []byte, i int) []byte { return a.Value(i).ToTime().UTC().AppendFormat(dst, time.DateOnly) }), nil
	case *array.Decimal128:
		return null(func(dst []byte, i int) []byte { return append(dst, a.ValueStr(i)...) }), nil
	}
	return nil, fmt.Errorf("Arrow type %s cannot be loaded: convert it to bool, an integer, a float, utf8, binary, timestamp, date or decimal128 first", arr.DataType())
}

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f), math.IsInf(f, 0):
		// MySQL has no NaN nor infinity: NULL, as its own conversions do.
		return append(dst, '\\', 'N')
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendEscaped appends s with LOAD DATA's backslash escapes for the
// bytes its default format gives meaning to.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0:
			dst = append(dst, '\\', '0')
		case 0x1a:
			dst = append(dst, '\\', 'Z')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
