package sqldb

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
)

var driverErrBadConn = driver.ErrBadConn

// queryBatchRows is the most rows of one record batch of a query result.
const queryBatchRows = 10000

var timestampUS = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// arrowType returns the Arrow type of a result type name.
func arrowType(name string) (arrow.DataType, error) {
	switch name {
	case abi.SQLTypeBool:
		return arrow.FixedWidthTypes.Boolean, nil
	case abi.SQLTypeInt64:
		return arrow.PrimitiveTypes.Int64, nil
	case abi.SQLTypeUint64:
		return arrow.PrimitiveTypes.Uint64, nil
	case abi.SQLTypeFloat64:
		return arrow.PrimitiveTypes.Float64, nil
	case abi.SQLTypeUTF8:
		return arrow.BinaryTypes.String, nil
	case abi.SQLTypeBinary:
		return arrow.BinaryTypes.Binary, nil
	case abi.SQLTypeTimestamp:
		return timestampUS, nil
	}
	return nil, fmt.Errorf("bad request: result type %q is not one of bool, int64, uint64, float64, utf8, binary, timestamp", name)
}

// guessType chooses a result column's type from the driver's column type.
func guessType(ct *sql.ColumnType) arrow.DataType {
	switch ct.ScanType().Kind() {
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return arrow.PrimitiveTypes.Int64
	case reflect.Uint, reflect.Uint64:
		return arrow.PrimitiveTypes.Uint64
	case reflect.Float32, reflect.Float64:
		return arrow.PrimitiveTypes.Float64
	}
	if ct.ScanType() == reflect.TypeOf(time.Time{}) || ct.ScanType() == reflect.TypeOf(sql.NullTime{}) {
		return timestampUS
	}
	switch strings.ToUpper(ct.DatabaseTypeName()) {
	case "BLOB", "BINARY", "VARBINARY", "LONGBLOB", "MEDIUMBLOB", "TINYBLOB":
		return arrow.BinaryTypes.Binary
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT":
		return arrow.PrimitiveTypes.Int64
	case "FLOAT", "DOUBLE", "REAL":
		return arrow.PrimitiveTypes.Float64
	}
	return arrow.BinaryTypes.String
}

// rowsToArrow reads rows into an Arrow IPC stream with one column per
// result column, of the types named (or guessed), failing beyond limit
// bytes of values.
func rowsToArrow(rows *sql.Rows, types []string, limit int) ([]byte, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	if len(types) > 0 && len(types) != len(cts) {
		return nil, fmt.Errorf("bad request: %d result types for %d columns", len(types), len(cts))
	}
	fields := make([]arrow.Field, len(cts))
	seen := map[string]int{}
	for i, ct := range cts {
		var dt arrow.DataType
		if len(types) > 0 {
			if dt, err = arrowType(types[i]); err != nil {
				return nil, err
			}
		} else {
			dt = guessType(ct)
		}
		name := ct.Name()
		if n := seen[name]; n > 0 {
			name = fmt.Sprintf("%s_%d", name, n) // Arrow IPC keeps duplicates, but readers match by name
		}
		seen[ct.Name()]++
		fields[i] = arrow.Field{Name: name, Type: dt, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, size := 0, 0
	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		return w.Write(rec)
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			sz, err := appendValue(b.Field(i), v)
			if err != nil {
				return nil, fmt.Errorf("column %q, row %d: %w", cts[i].Name(), n+1, err)
			}
			size += sz
		}
		n++
		if size > limit {
			return nil, fmt.Errorf("result is larger than the %d MiB the host returns: read in parts", limit>>20)
		}
		if n%queryBatchRows == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n == 0 || n%queryBatchRows != 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// appendValue appends v, a value a driver returned, to b converted to b's
// type, and returns about how many bytes it took.
func appendValue(b array.Builder, v any) (int, error) {
	if v == nil {
		b.AppendNull()
		return 1, nil
	}
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		x, err := toBool(v)
		if err != nil {
			return 0, err
		}
		bb.Append(x)
		return 1, nil
	case *array.Int64Builder:
		x, err := toInt64(v)
		if err != nil {
			return 0, err
		}
		bb.Append(x)
		return 8, nil
	case *array.Uint64Builder:
		x, err := toUint64(v)
		if err != nil {
			return 0, err
		}
		bb.Append(x)
		return 8, nil
	case *array.Float64Builder:
		x, err := toFloat64(v)
		if err != nil {
			return 0, err
		}
		bb.Append(x)
		return 8, nil
	case *array.StringBuilder:
		s := textOf(v)
		bb.Append(s)
		return len(s), nil
	case *array.BinaryBuilder:
		if p, ok := v.([]byte); ok {
			bb.Append(p)
			return len(p), nil
		}
		s := textOf(v)
		bb.AppendString(s)
		return len(s), nil
	case *array.TimestampBuilder:
		t, err := toTime(v)
		if err != nil {
			return 0, err
		}
		bb.Append(arrow.Timestamp(t.UnixMicro()))
		return 8, nil
	}
	return 0, fmt.Errorf("no conversion to %s", b.Type())
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case []byte, string:
		switch strings.ToLower(textOf(x)) {
		case "1", "true", "t":
			return true, nil
		case "0", "false", "f":
			return false, nil
		}
	default:
		if n, err := toInt64(v); err == nil {
			return n != 0, nil
		}
	}
	return false, fmt.Errorf("%T %q is not a boolean", v, textOf(v))
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), nil
		}
	case []byte, string:
		if n, err := strconv.ParseInt(strings.TrimSpace(textOf(x)), 10, 64); err == nil {
			return n, nil
		}
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
	}
	return 0, fmt.Errorf("%T %q is not an int64", v, textOf(v))
}

func toUint64(v any) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case []byte, string:
		if n, err := strconv.ParseUint(strings.TrimSpace(textOf(x)), 10, 64); err == nil {
			return n, nil
		}
	case *big.Int:
		if x.IsUint64() {
			return x.Uint64(), nil
		}
	default:
		if n, err := toInt64(v); err == nil && n >= 0 {
			return uint64(n), nil
		}
	}
	return 0, fmt.Errorf("%T %q is not a uint64", v, textOf(v))
}

func toFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case []byte, string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(textOf(x)), 64); err == nil {
			return f, nil
		}
	default:
		if n, err := toInt64(v); err == nil {
			return float64(n), nil
		}
	}
	return 0, fmt.Errorf("%T %q is not a float64", v, textOf(v))
}

// timeLayouts are the text forms of timestamps toTime reads.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case []byte, string:
		s := strings.TrimSpace(textOf(x))
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%T %q is not a timestamp", v, textOf(v))
}

// textOf is the text form of a driver value.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
