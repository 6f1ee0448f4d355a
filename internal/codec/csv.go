package codec

import (
	"bytes"
	"encoding/base64"
	stdcsv "encoding/csv"
	stdjson "encoding/json"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
)

// CSV is written with arrow-go's arrow/csv writer: RFC 4180 (CRLF line ends,
// fields quoted where needed), a header line unless skip_header, nulls as
// empty fields. For types that writer has no text for (times, durations,
// intervals, structs, maps, ...) a cell holds the value's JSON Lines form,
// with strings unquoted ("12:30:00", "1500ms", {"days":1,"milliseconds":0}).
func newCSVWriter(w io.Writer, schema *arrow.Schema, s CSVSpec) *csv.Writer {
	return csv.NewWriter(w, schema,
		csv.WithComma(s.Comma()),
		csv.WithHeader(!s.SkipHeader),
		csv.WithCRLF(true),
		csv.WithNullWriter(""),
		csv.WithCustomTypeConverter(csvCells),
	)
}

type csvWriter struct{ w *csv.Writer }

func (c csvWriter) Write(rec arrow.RecordBatch) error { return c.w.Write(rec) }
func (c csvWriter) Close() error                      { return c.w.Flush() }

// csvCells is the arrow/csv custom converter: it handles the types arrow/csv
// does not (csvWritable), giving each value's JSON Lines form. It also
// writes lists, as arrow/csv does ("{a,,b}") but without the csv.Writer,
// and its 4 KiB buffer, arrow/csv makes for every list cell: for a wide
// table that is hundreds of MiB of garbage per batch, which a guest's
// single-threaded garbage collector does not keep up with.
func csvCells(dt arrow.DataType, col arrow.Array) ([]string, bool) {
	if out := fastCells(col); out != nil {
		return out, true
	}
	if l, ok := col.(array.ListLike); ok && isList(dt) {
		return listCells(l), true
	}
	if csvWritable(dt) {
		return nil, false
	}
	enc := valueEncoder(col)
	quoted := jsonStringForm(dt)
	out := make([]string, col.Len())
	var buf []byte
	for i := range out {
		if col.IsNull(i) {
			continue
		}
		var err error
		buf, err = enc(buf[:0], i)
		if err != nil {
			buf = append(buf[:0], col.ValueStr(i)...)
		} else if quoted && len(buf) >= 2 && buf[0] == '"' {
			var s string
			if stdjson.Unmarshal(buf, &s) == nil {
				out[i] = s
				continue
			}
		}
		out[i] = string(buf)
	}
	return out, true
}

func isList(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		return true
	}
	return false
}

// listCells writes each list as arrow/csv does: its elements as one
// comma-separated CSV record (encoding/csv, LF, nulls empty) in braces.
func listCells(l array.ListLike) []string {
	values := l.ListValues()
	elem := cellsOf(values.DataType(), values)
	out := make([]string, l.Len())
	var b bytes.Buffer
	w := stdcsv.NewWriter(&b)
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		start, end := l.ValueOffsets(i)
		b.Reset()
		b.WriteByte('{')
		w.Write(elem[start:end])
		w.Flush()
		b.Truncate(b.Len() - 1) // the record's line end
		b.WriteByte('}')
		out[i] = b.String()
	}
	return out
}

// cellsOf returns the CSV text of every element of col, nulls empty.
func cellsOf(dt arrow.DataType, col arrow.Array) []string {
	if out, ok := csvCells(dt, col); ok {
		return out
	}
	return scalarCells(dt, col)
}

// scalarCells formats the types arrow/csv writes itself, as it writes
// them (csv_test.go checks that the two agree).
func scalarCells(dt arrow.DataType, col arrow.Array) []string {
	out := make([]string, col.Len())
	var text func(i int) string
	switch a := col.(type) {
	case *array.Boolean:
		text = func(i int) string { return strconv.FormatBool(a.Value(i)) }
	case *array.Int8:
		text = func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }
	case *array.Int16:
		text = func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }
	case *array.Int32:
		text = func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }
	case *array.Int64:
		text = func(i int) string { return strconv.FormatInt(a.Value(i), 10) }
	case *array.Uint8:
		text = func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }
	case *array.Uint16:
		text = func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }
	case *array.Uint32:
		text = func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }
	case *array.Uint64:
		text = func(i int) string { return strconv.FormatUint(a.Value(i), 10) }
	case *array.Float16:
		text = func(i int) string { return a.Value(i).String() }
	case *array.Float32:
		text = func(i int) string { return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32) }
	case *array.Float64:
		text = func(i int) string { return strconv.FormatFloat(a.Value(i), 'g', -1, 64) }
	case *array.String:
		text = a.Value
	case *array.LargeString:
		text = a.Value
	case *array.Date32:
		text = func(i int) string { return a.Value(i).FormattedString() }
	case *array.Date64:
		text = func(i int) string { return a.Value(i).FormattedString() }
	case *array.Timestamp:
		t := dt.(*arrow.TimestampType)
		toTime, err := t.GetToTimeFunc()
		if err != nil {
			return nil
		}
		layout := "2006-01-02 15:04:05.999999999"
		if t.TimeZone != "" {
			layout += "Z07:00"
		}
		text = func(i int) string {
			v := toTime(a.Value(i))
			if v.Year() < 0 || v.Year() > 9999 {
				return strconv.FormatInt(int64(a.Value(i)), 10)
			}
			l := layout
			if _, off := v.Zone(); t.TimeZone != "" && off%60 != 0 {
				l += ":00"
			}
			return v.Format(l)
		}
	case *array.Decimal128:
		scale := dt.(*arrow.Decimal128Type).Scale
		text = func(i int) string { return a.Value(i).ToString(scale) }
	case *array.Decimal256:
		scale := dt.(*arrow.Decimal256Type).Scale
		text = func(i int) string { return a.Value(i).ToString(scale) }
	case *array.Binary:
		text = func(i int) string { return base64.StdEncoding.EncodeToString(a.Value(i)) }
	case *array.LargeBinary:
		text = func(i int) string { return base64.StdEncoding.EncodeToString(a.Value(i)) }
	case *array.FixedSizeBinary:
		text = func(i int) string { return base64.StdEncoding.EncodeToString(a.Value(i)) }
	case array.ExtensionArray:
		text = a.ValueStr
	default:
		text = col.ValueStr
	}
	for i := range out {
		if col.IsValid(i) && col.DataType().ID() != arrow.NULL {
			out[i] = text(i)
		}
	}
	return out
}

// fastCells formats UTC timestamps and UUIDs as arrow/csv does, faster
// (see fastfmt.go). It returns nil for other columns.
func fastCells(col arrow.Array) []string {
	ts, unit := utcTimestamps(col)
	value := uuidBytes(col)
	if ts == nil && value == nil {
		return nil
	}
	out := make([]string, col.Len())
	var buf []byte
	for i := range out {
		if col.IsNull(i) {
			continue
		}
		if value != nil {
			buf = appendUUID(buf[:0], value(i))
			out[i] = string(buf)
			continue
		}
		b, ok := appendUTC(buf[:0], int64(ts.Value(i)), unit, ' ')
		if !ok {
			b = strconv.AppendInt(buf[:0], int64(ts.Value(i)), 10)
		}
		buf = b
		out[i] = string(b)
	}
	return out
}

// csvWritable lists the types arrow/csv's writer turns into text itself.
func csvWritable(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.STRING, arrow.LARGE_STRING,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DECIMAL128, arrow.DECIMAL256,
		arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY, arrow.EXTENSION, arrow.NULL:
		return true
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		return true // elements go through csvCells again
	}
	return false
}

// csvTwin is the type arrow/csv's reader reads a column of dt as: dt where
// that reader parses it, else utf8 (then parsed by Convert).
func csvTwin(dt arrow.DataType) arrow.DataType {
	if l, ok := listTwin(dt, csvTwin); ok {
		return l
	}
	if csvWritable(dt) {
		return dt
	}
	return arrow.BinaryTypes.String
}

func readCSV(r io.Reader, schema *arrow.Schema, s CSVSpec, emit func(arrow.RecordBatch) error) error {
	twin := twinSchema(schema, csvTwin)
	cr := csv.NewReader(r, twin,
		csv.WithComma(s.Comma()),
		csv.WithHeader(!s.SkipHeader),
		csv.WithNullReader(true, ""),
		csv.WithChunk(readChunk),
		csv.WithAllocator(mem),
	)
	defer cr.Release()
	for cr.Next() {
		if err := emitConverted(cr.RecordBatch(), schema, emit); err != nil {
			return err
		}
	}
	return cr.Err()
}

var _ array.RecordReader = (*csv.Reader)(nil)
