package filetest

import (
	"bufio"
	"bytes"
	"context"
	stdcsv "encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// The independent readers. Each reads a file the guest wrote with arrow-go's
// own reader for the format, configured from the documented type mapping
// (guests/file/README.md), and compares every value with what was written.

// checkJSONLines reads JSON Lines twice: line by line with encoding/json
// (every column, compared through its JSON form), and with arrow-go's JSON
// reader.
func checkJSONLines(t *testing.T, what string, data []byte, want arrow.RecordBatch) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	row := 0
	for sc.Scan() {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("%s: line %d is not a JSON object: %v", what, row+1, err)
		}
		if row >= int(want.NumRows()) {
			row++
			continue
		}
		for j, f := range want.Schema().Fields() {
			raw, ok := obj[f.Name]
			if !ok {
				t.Errorf("%s: line %d has no key %q", what, row+1, f.Name)
				continue
			}
			if w, g := jsonValue(want.Column(j), row), decodeJSON(raw); !sameJSON(w, g) {
				t.Errorf("%s: line %d key %s (%s):\nwrote %s\nread  %s", what, row+1, f.Name, f.Type, short(w), short(g))
			}
		}
		row++
	}
	if row != int(want.NumRows()) {
		t.Errorf("%s: %d lines, want %d", what, row, want.NumRows())
	}

	twin := jsonReadSchema(want.Schema())
	jr := array.NewJSONReader(bytes.NewReader(data), twin, array.WithChunk(-1))
	defer jr.Release()
	if !jr.Next() {
		t.Fatalf("%s: arrow-go's JSON reader read nothing: %v", what, jr.Err())
	}
	compareColumns(t, what+" (arrow-go JSON reader)", want, jr.RecordBatch(), func(w, g arrow.Array, i int) (bool, any, any) {
		wv, gv := jsonValue(w, i), jsonValue(g, i)
		return sameJSONKeys(wv, gv, true), wv, gv
	})
}

// jsonReadSchema is the schema arrow-go's JSON reader is given for JSON Lines
// of schema. CloudQuery's extension builders take base64 of their storage,
// so UUIDs are read as arrow.uuid and inet and mac as utf8; json documents,
// which no arrow-go builder reads from embedded JSON, are left out (the
// reader skips them; the encoding/json pass checks them).
func jsonReadSchema(schema *arrow.Schema) *arrow.Schema {
	var twin func(arrow.DataType) (arrow.DataType, bool)
	twin = func(dt arrow.DataType) (arrow.DataType, bool) {
		switch t := dt.(type) {
		case arrow.ExtensionType:
			switch {
			case arrowtypes.IsUUID(dt):
				return extensions.NewUUIDType(), true
			case arrowtypes.IsJSON(dt):
				return nil, false
			}
			return arrow.BinaryTypes.String, true
		case *arrow.StructType:
			var fs []arrow.Field
			for _, f := range t.Fields() {
				if ft, ok := twin(f.Type); ok {
					f.Type = ft
					fs = append(fs, f)
				}
			}
			return arrow.StructOf(fs...), true
		case *arrow.ListType:
			f := t.ElemField()
			ft, ok := twin(f.Type)
			f.Type = ft
			return arrow.ListOfField(f), ok
		}
		return dt, true
	}
	var fs []arrow.Field
	for _, f := range schema.Fields() {
		if ft, ok := twin(f.Type); ok {
			f.Type = ft
			fs = append(fs, f)
		}
	}
	return arrow.NewSchema(fs, nil)
}

// checkCSV parses CSV with encoding/csv (RFC 4180: CRLF line ends, one
// header line), then reads it with arrow-go's CSV reader.
func checkCSV(t *testing.T, what string, data []byte, want arrow.RecordBatch, comma rune, header bool) {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Errorf("%s: does not end with CRLF (RFC 4180)", what)
	}
	r := stdcsv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	lines, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: not RFC 4180 CSV: %v", what, err)
	}
	wantLines := int(want.NumRows())
	if header {
		wantLines++
		names := make([]string, want.NumCols())
		for i, f := range want.Schema().Fields() {
			names[i] = f.Name
		}
		if len(lines) == 0 || strings.Join(lines[0], ",") != strings.Join(names, ",") {
			t.Errorf("%s: first line is not the header", what)
		}
		for i, l := range lines[1:] {
			if strings.Join(l, ",") == strings.Join(names, ",") {
				t.Errorf("%s: line %d repeats the header", what, i+2)
			}
		}
	}
	if len(lines) != wantLines {
		t.Errorf("%s: %d lines, want %d", what, len(lines), wantLines)
	}

	cr := csv.NewReader(bytes.NewReader(data), csvReadSchema(want.Schema()),
		csv.WithComma(comma), csv.WithHeader(header), csv.WithNullReader(true, ""), csv.WithChunk(-1))
	defer cr.Release()
	if !cr.Next() {
		t.Fatalf("%s: arrow-go's CSV reader read nothing: %v", what, cr.Err())
	}
	if cr.Err() != nil {
		t.Fatalf("%s: arrow-go's CSV reader: %v", what, cr.Err())
	}
	compareColumns(t, what+" (arrow-go CSV reader)", want, cr.RecordBatch(), sameAsJSON)
}

// csvReadSchema keeps the types arrow-go's CSV reader parses and reads the
// others as text, which holds their JSON Lines form.
func csvReadSchema(schema *arrow.Schema) *arrow.Schema {
	var twin func(arrow.DataType) arrow.DataType
	twin = func(dt arrow.DataType) arrow.DataType {
		switch t := dt.(type) {
		case *arrow.BooleanType, *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
			*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type,
			*arrow.Float32Type, *arrow.Float64Type, *arrow.StringType, *arrow.LargeStringType,
			*arrow.BinaryType, *arrow.LargeBinaryType, *arrow.Date32Type, *arrow.Date64Type,
			*arrow.TimestampType, *arrow.Decimal128Type, arrow.ExtensionType:
			return dt
		case *arrow.ListType:
			f := t.ElemField()
			f.Type = twin(f.Type)
			return arrow.ListOfField(f)
		}
		return arrow.BinaryTypes.String
	}
	fs := make([]arrow.Field, schema.NumFields())
	for i, f := range schema.Fields() {
		f.Type = twin(f.Type)
		fs[i] = f
	}
	return arrow.NewSchema(fs, nil)
}

// checkParquet reads a Parquet file with pqarrow and compares values by
// meaning: instants as instants, times of day as nanoseconds since midnight,
// whatever unit the file keeps them in.
func checkParquet(t *testing.T, what string, data []byte, want arrow.RecordBatch) *arrow.Schema {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not Parquet: %v", what, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("%s: pqarrow: %v", what, err)
	}
	defer tbl.Release()
	got := concat(tbl.Schema(), tableRecords(tbl))
	defer got.Release()
	compareColumns(t, what+" (pqarrow)", want, got, func(w, g arrow.Array, i int) (bool, any, any) {
		wv, gv := typedValue(w.DataType(), w, i), typedValue(w.DataType(), g, i)
		return sameJSON(wv, gv), wv, gv
	})
	return tbl.Schema()
}

func tableRecords(tbl arrow.Table) []arrow.RecordBatch {
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	var out []arrow.RecordBatch
	for tr.Next() {
		r := tr.RecordBatch()
		r.Retain()
		out = append(out, r)
	}
	return out
}

// typedValue is element i of arr, written as type w, in a form that does
// not depend on units: timestamps as RFC 3339 instants, times of day as
// nanoseconds, dates as dates, durations as counts, intervals as objects
// of their parts, JSON documents decoded (Parquet keeps them in BYTE_ARRAY
// columns of logical type JSON, which pqarrow reads as binary).
func typedValue(w arrow.DataType, arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	num := func(v int64) any { return json.Number(strconv.FormatInt(v, 10)) }
	if arrowtypes.IsJSON(w) {
		switch a := arr.(type) {
		case *array.Binary:
			return decodeJSON(a.Value(i))
		case *array.String:
			return decodeJSON([]byte(a.Value(i)))
		}
	}
	switch a := arr.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
	case *array.Time32:
		return num(int64(a.Value(i)) * int64(a.DataType().(*arrow.Time32Type).Unit.Multiplier()))
	case *array.Time64:
		return num(int64(a.Value(i)) * int64(a.DataType().(*arrow.Time64Type).Unit.Multiplier()))
	case *array.Date32:
		return a.Value(i).FormattedString()
	case *array.Date64:
		return a.Value(i).FormattedString()
	case *array.Duration:
		return num(int64(a.Value(i)))
	case *array.MonthInterval:
		return num(int64(a.Value(i)))
	case *array.DayTimeInterval:
		v := a.Value(i)
		return map[string]any{"days": num(int64(v.Days)), "milliseconds": num(int64(v.Milliseconds))}
	case *array.MonthDayNanoInterval:
		v := a.Value(i)
		return map[string]any{"months": num(int64(v.Months)), "days": num(int64(v.Days)), "nanoseconds": num(v.Nanoseconds)}
	case *array.Struct:
		m := map[string]any{}
		wst, _ := w.(*arrow.StructType)
		for k, f := range a.DataType().(*arrow.StructType).Fields() {
			ft := f.Type
			if wst != nil {
				if idx, ok := wst.FieldIdx(f.Name); ok {
					ft = wst.Field(idx).Type
				}
			}
			m[f.Name] = typedValue(ft, a.Field(k), i)
		}
		return m
	case array.ListLike:
		elem := a.DataType().(arrow.ListLikeType).Elem()
		if wl, ok := w.(arrow.ListLikeType); ok {
			elem = wl.Elem()
		}
		start, end := a.ValueOffsets(i)
		out := []any{}
		for k := start; k < end; k++ {
			out = append(out, typedValue(elem, a.ListValues(), int(k)))
		}
		return out
	case array.ExtensionArray:
		if arrowtypes.IsJSON(a.DataType()) {
			return decodeJSON([]byte(a.ValueStr(i)))
		}
		return a.ValueStr(i)
	}
	return jsonValue(arr, i)
}

// parquetTypes checks the Parquet schema of a file against the documented
// mapping (guests/file/README.md): physical and logical types of the
// columns of the test table.
func parquetTypes(t *testing.T, what string, data []byte, version string) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	want := map[string]string{
		"int8":                                "INT32 Int(bitWidth=8, isSigned=true)",
		"uint64":                              "INT64 Int(bitWidth=64, isSigned=false)",
		"string":                              "BYTE_ARRAY String",
		"binary":                              "BYTE_ARRAY None",
		"uuid":                                "FIXED_LEN_BYTE_ARRAY UUID",
		"json":                                "BYTE_ARRAY JSON",
		"inet":                                "BYTE_ARRAY String",
		"mac":                                 "BYTE_ARRAY String",
		"date32":                              "INT32 Date",
		"date64":                              "INT32 Date",
		"duration_ms":                         "INT64 Int(bitWidth=64, isSigned=true)",
		"time32_s":                            "INT32 Time(isAdjustedToUTC=false, timeUnit=milliseconds)",
		"time64_ns":                           "INT64 Time(isAdjustedToUTC=false, timeUnit=nanoseconds)",
		"timestamp_s":                         "INT64 Timestamp(isAdjustedToUTC=true, timeUnit=milliseconds, is_from_converted_type=false, force_set_converted_type=false)",
		"timestamp_ns":                        "INT64 Timestamp(isAdjustedToUTC=true, timeUnit=nanoseconds, is_from_converted_type=false, force_set_converted_type=false)",
		"decimal128":                          "FIXED_LEN_BYTE_ARRAY Decimal(precision=19, scale=10)",
		"interval_month":                      "INT32 Int(bitWidth=32, isSigned=true)",
		"interval_day_time.days":              "INT32 Int(bitWidth=32, isSigned=true)",
		"interval_month_day_nano.nanoseconds": "INT64 Int(bitWidth=64, isSigned=true)",
	}
	if version == "v1.0" || version == "v2.4" {
		want["timestamp_ns"] = "INT96 None"
	}
	got := map[string]string{}
	for i := 0; i < sc.NumColumns(); i++ {
		c := sc.Column(i)
		got[c.Path()] = fmt.Sprintf("%s %s", c.PhysicalType(), c.LogicalType())
	}
	for col, typ := range want {
		if got[col] != typ {
			t.Errorf("%s: column %s is %q in the Parquet schema, README says %q", what, col, got[col], typ)
		}
	}
	if got["uuid"] != "" && sc.Column(sc.ColumnIndexByName("uuid")).TypeLength() != 16 {
		t.Errorf("%s: uuid is not FIXED_LEN_BYTE_ARRAY(16)", what)
	}
}
