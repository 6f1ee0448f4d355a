package codec

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/jsonstring"
)

// jsonWriter writes JSON Lines: one object per row, keys in schema order.
// Values are what arrow-go's own array.RecordToJSON writes (each array's
// GetOneForMarshal), so arrow-go's JSON reader reads them back, with three
// differences: keys keep the schema's order (RecordToJSON sorts them), NaN
// and ±Inf become the strings "NaN", "+Inf" and "-Inf" (which the reader
// parses; JSON has no such numbers and RecordToJSON fails on them), and no
// HTML escaping of <, > and &.
type jsonWriter struct {
	w    io.Writer
	buf  []byte
	keys [][]byte
}

func newJSONWriter(w io.Writer, schema *arrow.Schema) *jsonWriter {
	jw := &jsonWriter{w: w}
	for i, f := range schema.Fields() {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = jsonstring.Append(k, f.Name)
		jw.keys = append(jw.keys, append(k, ':'))
	}
	return jw
}

func (jw *jsonWriter) Write(rec arrow.RecordBatch) error {
	encs := make([]encoder, rec.NumCols())
	for j, c := range rec.Columns() {
		encs[j] = newEncoder(c)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		for j, enc := range encs {
			jw.buf = append(jw.buf, jw.keys[j]...)
			var err error
			if jw.buf, err = enc(jw.buf, i); err != nil {
				return fmt.Errorf("column %s, row %d: %w", rec.ColumnName(j), i, err)
			}
		}
		if len(encs) == 0 {
			jw.buf = append(jw.buf, '{')
		}
		jw.buf = append(jw.buf, '}', '\n')
		if len(jw.buf) >= 64<<10 {
			if err := jw.flush(); err != nil {
				return err
			}
		}
	}
	return jw.flush()
}

func (jw *jsonWriter) flush() error {
	_, err := jw.w.Write(jw.buf)
	jw.buf = jw.buf[:0]
	return err
}

func (jw *jsonWriter) Close() error { return jw.flush() }

// encoder appends the JSON form of element i.
type encoder func(dst []byte, i int) ([]byte, error)

func newEncoder(arr arrow.Array) encoder {
	enc := valueEncoder(arr)
	if arr.NullN() == 0 {
		return enc
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return append(dst, "null"...), nil
		}
		return enc(dst, i)
	}
}

// valueEncoder encodes non-null elements.
func valueEncoder(arr arrow.Array) encoder {
	switch a := arr.(type) {
	case *array.Boolean:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendBool(dst, a.Value(i)), nil }
	case *array.Int8:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }
	case *array.Int16:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }
	case *array.Int32:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }
	case *array.Int64:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, a.Value(i), 10), nil }
	case *array.Uint8:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }
	case *array.Uint16:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }
	case *array.Uint32:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }
	case *array.Uint64:
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, a.Value(i), 10), nil }
	case *array.Float32:
		return func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, float64(a.Value(i)), 32), nil }
	case *array.Float64:
		return func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, a.Value(i), 64), nil }
	case *array.String:
		return func(dst []byte, i int) ([]byte, error) { return jsonstring.Append(dst, a.Value(i)), nil }
	case *array.LargeString:
		return func(dst []byte, i int) ([]byte, error) { return jsonstring.Append(dst, a.Value(i)), nil }
	case *array.Binary:
		return func(dst []byte, i int) ([]byte, error) { return appendBase64(dst, a.Value(i)), nil }
	case *array.LargeBinary:
		return func(dst []byte, i int) ([]byte, error) { return appendBase64(dst, a.Value(i)), nil }
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		keys := make([][]byte, st.NumFields())
		fields := make([]encoder, st.NumFields())
		for k, f := range st.Fields() {
			keys[k] = append(jsonstring.Append(nil, f.Name), ':')
			fields[k] = newEncoder(a.Field(k))
		}
		return func(dst []byte, i int) ([]byte, error) {
			dst = append(dst, '{')
			for k, enc := range fields {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, keys[k]...)
				var err error
				if dst, err = enc(dst, i); err != nil {
					return dst, err
				}
			}
			return append(dst, '}'), nil
		}
	case array.ListLike:
		if _, isMap := a.(*array.Map); !isMap {
			values := newEncoder(a.ListValues())
			return func(dst []byte, i int) ([]byte, error) {
				start, end := a.ValueOffsets(i)
				dst = append(dst, '[')
				for k := start; k < end; k++ {
					if k > start {
						dst = append(dst, ',')
					}
					var err error
					if dst, err = values(dst, int(k)); err != nil {
						return dst, err
					}
				}
				return append(dst, ']'), nil
			}
		}
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit.String()
		return func(dst []byte, i int) ([]byte, error) {
			dst = strconv.AppendInt(append(dst, '"'), int64(a.Value(i)), 10)
			return append(append(dst, unit...), '"'), nil
		}
	case *array.MonthInterval:
		return func(dst []byte, i int) ([]byte, error) {
			return append(strconv.AppendInt(append(dst, `{"months":`...), int64(a.Value(i)), 10), '}'), nil
		}
	case *array.DayTimeInterval:
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			dst = strconv.AppendInt(append(dst, `{"days":`...), int64(v.Days), 10)
			dst = strconv.AppendInt(append(dst, `,"milliseconds":`...), int64(v.Milliseconds), 10)
			return append(dst, '}'), nil
		}
	case *array.MonthDayNanoInterval:
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			dst = strconv.AppendInt(append(dst, `{"months":`...), int64(v.Months), 10)
			dst = strconv.AppendInt(append(dst, `,"days":`...), int64(v.Days), 10)
			dst = strconv.AppendInt(append(dst, `,"nanoseconds":`...), v.Nanoseconds, 10)
			return append(dst, '}'), nil
		}
	case *array.Date32:
		return dateEncoder(arr, func(i int) (int64, bool) { return int64(a.Value(i)), true })
	case *array.Date64:
		// arrow-go's Date64.ToTime truncates milliseconds to days toward zero.
		return dateEncoder(arr, func(i int) (int64, bool) { return int64(a.Value(i)) / 86400000, true })
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return timeEncoder(arr, unit, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return timeEncoder(arr, unit, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Timestamp:
		if ts, unit := utcTimestamps(a); ts != nil {
			return func(dst []byte, i int) ([]byte, error) {
				out, ok := appendUTC(append(dst, '"'), int64(ts.Value(i)), unit, 'T')
				if !ok {
					return appendAny(dst, a.GetOneForMarshal(i))
				}
				return append(out, '"'), nil
			}
		}
	case array.ExtensionArray:
		if value := uuidBytes(a); value != nil {
			return func(dst []byte, i int) ([]byte, error) {
				return append(appendUUID(append(dst, '"'), value(i)), '"'), nil
			}
		}
		if arrowtypes.IsJSON(a.DataType()) {
			return func(dst []byte, i int) ([]byte, error) {
				raw := []byte(a.ValueStr(i))
				if !stdjson.Valid(raw) {
					// Not a JSON document: keep the text as a string rather
					// than break the line.
					return jsonstring.Append(dst, string(raw)), nil
				}
				return appendCompact(dst, raw), nil
			}
		}
	}
	return func(dst []byte, i int) ([]byte, error) { return appendAny(dst, arr.GetOneForMarshal(i)) }
}

// dateEncoder writes "YYYY-MM-DD" for days since the epoch, as arrow-go's
// FormattedString does, for years 0 to 9999 (others take the slow path).
func dateEncoder(arr arrow.Array, days func(int) (int64, bool)) encoder {
	return func(dst []byte, i int) ([]byte, error) {
		d, _ := days(i)
		y, m, dd := civil(d)
		if y < 0 || y > 9999 {
			return appendAny(dst, arr.GetOneForMarshal(i))
		}
		dst = append4(append(dst, '"'), y)
		dst = append2(append(dst, '-'), m)
		dst = append2(append(dst, '-'), dd)
		return append(dst, '"'), nil
	}
}

// timeEncoder writes a time of day as arrow-go's GetOneForMarshal does:
// "15:04:05" and the fraction without trailing zeros. Values outside one
// day take the slow path.
func timeEncoder(arr arrow.Array, unit arrow.TimeUnit, value func(int) int64) encoder {
	per := int64(unit.Multiplier())
	perSec := int64(1e9) / per
	return func(dst []byte, i int) ([]byte, error) {
		v := value(i)
		if v < 0 || v >= 86400*perSec {
			return appendAny(dst, arr.GetOneForMarshal(i))
		}
		sec, nsec := v/perSec, v%perSec*per
		dst = append2(append(dst, '"'), sec/3600)
		dst = append2(append(dst, ':'), sec/60%60)
		dst = append2(append(dst, ':'), sec%60)
		if nsec != 0 {
			var digits [9]byte
			for k := 8; k >= 0; k-- {
				digits[k] = byte('0' + nsec%10)
				nsec /= 10
			}
			n := 9
			for digits[n-1] == '0' {
				n--
			}
			dst = append(append(dst, '.'), digits[:n]...)
		}
		return append(dst, '"'), nil
	}
}

// appendAny appends a GetOneForMarshal value.
func appendAny(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return jsonstring.Append(dst, v), nil
	case []byte:
		return appendBase64(dst, v), nil
	case stdjson.RawMessage:
		return appendCompact(dst, v), nil
	case float64:
		return appendFloat(dst, v, 64), nil
	case float32:
		return appendFloat(dst, float64(v), 32), nil
	}
	var b bytes.Buffer
	enc := stdjson.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...), nil
}

func appendCompact(dst, raw []byte) []byte {
	var b bytes.Buffer
	if err := stdjson.Compact(&b, raw); err != nil {
		return append(dst, raw...)
	}
	return append(dst, b.Bytes()...)
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// readJSON reads JSON Lines written with schema, emitting record batches of
// schema (the file's own types; see Convert).
func readJSON(r io.Reader, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	twin := twinSchema(schema, jsonTwin)
	jr := array.NewJSONReader(r, twin, array.WithChunk(readChunk), array.WithAllocator(mem))
	defer jr.Release()
	for jr.Next() {
		if err := emitConverted(jr.RecordBatch(), schema, emit); err != nil {
			return err
		}
	}
	return jr.Err()
}

// readChunk is how many rows a reader puts in one record batch.
const readChunk = 10000

// twinSchema maps every field type of schema with f.
func twinSchema(schema *arrow.Schema, f func(arrow.DataType) arrow.DataType) *arrow.Schema {
	fs := make([]arrow.Field, schema.NumFields())
	for i, fd := range schema.Fields() {
		fd.Type = f(fd.Type)
		fs[i] = fd
	}
	md := schema.Metadata()
	return arrow.NewSchema(fs, &md)
}

// emitConverted converts rec's columns to schema's types and emits the result.
func emitConverted(rec arrow.RecordBatch, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		c, err := Convert(rec.Column(j), schema.Field(j).Type)
		if err != nil {
			return fmt.Errorf("column %s: %w", schema.Field(j).Name, err)
		}
		cols[j] = c
	}
	out := array.NewRecordBatch(schema, cols, rec.NumRows())
	defer out.Release()
	return emit(out)
}
