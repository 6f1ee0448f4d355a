package sqldb

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// A load's encodings (abi.SQLLoadRequest.Encodings) turn the guest's Arrow
// columns into the values loaded, in the host: a guest states its policy
// per column (its value as it is, as text, as JSON, a timestamp as
// fixed-width UTC text) instead of converting every value itself in
// WebAssembly and sending the rows back through an Arrow IPC stream.

// checkEncodings checks a load's encodings against the rows' schema.
func checkEncodings(req abi.SQLLoadRequest, schema *arrow.Schema) error {
	if len(req.Encodings) > 0 && len(req.Encodings) != schema.NumFields() {
		return fmt.Errorf("bad request: %d encodings for rows of %d columns", len(req.Encodings), schema.NumFields())
	}
	for i, e := range req.Encodings {
		switch e {
		case "", abi.SQLEncodeNative, abi.SQLEncodeText, abi.SQLEncodeJSON:
		case abi.SQLEncodeTimeText:
			if schema.Field(i).Type.ID() != arrow.TIMESTAMP {
				return fmt.Errorf("bad request: column %q: encoding %s needs a timestamp, not %s", schema.Field(i).Name, e, schema.Field(i).Type)
			}
		default:
			return fmt.Errorf("bad request: column %q: unknown encoding %q (want %s, %s, %s or %s)", schema.Field(i).Name, e,
				abi.SQLEncodeNative, abi.SQLEncodeText, abi.SQLEncodeJSON, abi.SQLEncodeTimeText)
		}
	}
	for _, k := range req.LastOfKeys {
		if k < 0 || k >= schema.NumFields() {
			return fmt.Errorf("bad request: last_of_keys: no column %d in rows of %d columns", k, schema.NumFields())
		}
	}
	return nil
}

// encodedSchema is the schema of the rows after their encodings.
func encodedSchema(encodings []string, schema *arrow.Schema) *arrow.Schema {
	fs := slices.Clone(schema.Fields())
	for i := range fs {
		fs[i].Metadata = arrow.Metadata{}
		enc := abi.SQLEncodeNative
		if i < len(encodings) && encodings[i] != "" {
			enc = encodings[i]
		}
		if enc != abi.SQLEncodeNative {
			fs[i].Type = arrow.BinaryTypes.String
			continue
		}
		dt := fs[i].Type
		if ext, ok := dt.(arrow.ExtensionType); ok {
			dt = ext.StorageType()
		}
		if dt.ID() == arrow.DURATION {
			dt = arrow.PrimitiveTypes.Int64
		}
		fs[i].Type = dt
	}
	return arrow.NewSchema(fs, nil)
}

// encodeRecords applies the encodings to recs and keeps, of rows with equal
// LastOfKeys, only the last. The caller releases what it returns.
func encodeRecords(req abi.SQLLoadRequest, schema *arrow.Schema, recs []arrow.RecordBatch) ([]arrow.RecordBatch, *arrow.Schema, error) {
	out := encodedSchema(req.Encodings, schema)
	var encoded []arrow.RecordBatch
	fail := func(err error) ([]arrow.RecordBatch, *arrow.Schema, error) {
		for _, r := range encoded {
			r.Release()
		}
		return nil, nil, err
	}
	for _, rec := range recs {
		if rec.NumRows() == 0 {
			continue
		}
		r, err := encodeRecord(req.Encodings, out, rec)
		if err != nil {
			return fail(err)
		}
		encoded = append(encoded, r)
	}
	if len(req.LastOfKeys) > 0 {
		encoded = lastOfKeys(req.LastOfKeys, encoded)
	}
	return encoded, out, nil
}

func encodeRecord(encodings []string, out *arrow.Schema, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i := range cols {
		enc := ""
		if i < len(encodings) {
			enc = encodings[i]
		}
		a, err := encodeColumn(enc, rec.Column(i))
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
		cols[i] = a
	}
	return array.NewRecordBatch(out, cols, rec.NumRows()), nil
}

// encodeColumn returns arr's values as enc says.
func encodeColumn(enc string, arr arrow.Array) (arrow.Array, error) {
	switch enc {
	case "", abi.SQLEncodeNative:
		if ext, ok := arr.(array.ExtensionArray); ok {
			arr = ext.Storage()
		}
		if arr.DataType().ID() == arrow.DURATION {
			d := arr.Data()
			data := array.NewData(arrow.PrimitiveTypes.Int64, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
			defer data.Release()
			return array.NewInt64Data(data), nil
		}
		arr.Retain()
		return arr, nil
	case abi.SQLEncodeTimeText:
		ts := arr.(*array.Timestamp)
		unit := ts.DataType().(*arrow.TimestampType).Unit
		layout := "2006-01-02 15:04:05.000000"
		if unit == arrow.Nanosecond {
			layout = "2006-01-02 15:04:05.000000000"
		}
		return stringColumn(arr, func(dst []byte, i int) ([]byte, error) {
			return ts.Value(i).ToTime(unit).UTC().AppendFormat(dst, layout), nil
		})
	}
	return stringColumn(arr, encodedText(arr, enc == abi.SQLEncodeJSON))
}

// stringColumn builds a utf8 column of arr's non-null values as appendValue
// gives them, straight into its buffers (an array builder's growth and
// per-value calls cost more than the encoding in profiles).
func stringColumn(arr arrow.Array, appendValue func(dst []byte, i int) ([]byte, error)) (arrow.Array, error) {
	n := arr.Len()
	offsets := make([]int32, n+1)
	data := make([]byte, 0, 16*n)
	var valid []byte
	if arr.NullN() > 0 {
		valid = make([]byte, bitutil.BytesForBits(int64(n)))
	}
	var err error
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			offsets[i+1] = int32(len(data))
			continue
		}
		if valid != nil {
			bitutil.SetBit(valid, i)
		}
		if data, err = appendValue(data, i); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if len(data) > math.MaxInt32 {
			return nil, fmt.Errorf("row %d: the column's text passes 2 GiB: send smaller batches", i)
		}
		offsets[i+1] = int32(len(data))
	}
	bufs := []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}
	if valid != nil {
		bufs[0] = memory.NewBufferBytes(valid)
	}
	d := array.NewData(arrow.BinaryTypes.String, n, bufs, nil, arr.NullN(), 0)
	defer d.Release()
	return array.NewStringData(d), nil
}

// encodedText returns the function appending row i of arr as text (asJSON:
// its JSON text; else its text form, a string unquoted). The common types
// of CloudQuery's tables have fast paths; the rest go through arrow-go's
// JSON form of the value.
func encodedText(arr arrow.Array, asJSON bool) func(dst []byte, i int) ([]byte, error) {
	switch a := arr.(type) {
	case *arrowtypes.JSONArray:
		return func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }
	case *arrowtypes.UUIDArray:
		return func(dst []byte, i int) ([]byte, error) {
			if asJSON {
				dst = append(dst, '"')
			}
			dst = appendUUID(dst, a.Value(i))
			if asJSON {
				dst = append(dst, '"')
			}
			return dst, nil
		}
	case *array.List:
		if vals, ok := a.ListValues().(*array.String); ok {
			// A list of strings: a JSON array of JSON strings.
			return func(dst []byte, i int) ([]byte, error) {
				start, end := a.ValueOffsets(i)
				dst = append(dst, '[')
				for j := start; j < end; j++ {
					if j > start {
						dst = append(dst, ',')
					}
					if vals.IsNull(int(j)) {
						dst = append(dst, "null"...)
					} else {
						dst = appendJSONString(dst, vals.Value(int(j)))
					}
				}
				return append(dst, ']'), nil
			}
		}
	}
	return func(dst []byte, i int) ([]byte, error) {
		v := arr.GetOneForMarshal(i)
		if s, ok := v.(string); ok && !asJSON {
			return append(dst, s...), nil
		}
		if raw, ok := v.(json.RawMessage); ok && asJSON {
			return append(dst, raw...), nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters too, so that the text is the one the guest's
// own conversion used to give).
func appendJSONString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\u2028\u2029") {
		// Rare: encoding/json decides (invalid UTF-8, line separators).
		b, _ := json.Marshal(s)
		return append(dst, b...)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// lastOfKeys keeps, of rows with equal values in the key columns, only the
// last, across the records in order. It takes over recs' references.
func lastOfKeys(keys []int, recs []arrow.RecordBatch) []arrow.RecordBatch {
	type pos struct{ rec, row int }
	last := map[string]pos{}
	var key strings.Builder
	keyOf := func(rec arrow.RecordBatch, row int) string {
		key.Reset()
		for _, j := range keys {
			col := rec.Column(j)
			if col.IsNull(row) {
				key.WriteString("\x00N")
			} else {
				key.WriteString(col.ValueStr(row))
			}
			key.WriteString("\x00|")
		}
		return key.String()
	}
	dups := false
	for r, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			k := keyOf(rec, i)
			if _, ok := last[k]; ok {
				dups = true
			}
			last[k] = pos{r, i}
		}
	}
	if !dups {
		return recs
	}
	var out []arrow.RecordBatch
	for r, rec := range recs {
		start := -1
		flush := func(end int) {
			if start >= 0 {
				out = append(out, rec.NewSlice(int64(start), int64(end)))
				start = -1
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if last[keyOf(rec, i)] == (pos{r, i}) {
				if start < 0 {
					start = i
				}
			} else {
				flush(i)
			}
		}
		flush(int(rec.NumRows()))
		rec.Release()
	}
	return out
}

// appendUUID appends u in its canonical text form (uuid.UUID.String's,
// without its allocation).
func appendUUID(dst []byte, u uuid.UUID) []byte {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return append(dst, b[:]...)
}
