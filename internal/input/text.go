package input

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// openText opens a CSV or JSON Lines input with the given, remembered or
// inferred schema.
func (o *Opener) openText(format Format, name string, r io.Reader, table string, closers []io.Closer) (Input, error) {
	sc := o.givenSchema(table)
	if sc == nil && table != "" {
		sc = o.inferred[table]
	}
	if sc == nil {
		// Sample the input, keeping every byte read so that it is read
		// again from the start.
		var kept bytes.Buffer
		tee := io.TeeReader(r, &kept)
		var err error
		if format == FormatCSV {
			sc, err = InferCSV(tee, o.opts.SampleRows)
		} else {
			sc, err = InferJSON(tee, o.opts.SampleRows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: inferring the schema: %w", name, err)
		}
		r = io.MultiReader(bytes.NewReader(kept.Bytes()), r)
		if table != "" {
			o.inferred[table] = sc
		}
	}
	t, err := tableFrom(name, sc, table)
	if err != nil {
		return nil, err
	}
	in := &textInput{name: name, table: t, closers: closers}
	var rr array.RecordReader
	if err := protect(func() error {
		if format == FormatCSV {
			rr = arrowcsv.NewReader(r, t.Schema, arrowcsv.WithHeader(true), arrowcsv.WithChunk(o.opts.Chunk),
				arrowcsv.WithNullReader(true, ""), arrowcsv.WithLazyQuotes(false))
		} else {
			rr = array.NewJSONReader(r, t.Schema, array.WithChunk(o.opts.Chunk))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	in.rr = rr
	return in, nil
}

// givenSchema is the schema of Options.Schemas for table: the one named
// so, else the one without a name.
func (o *Opener) givenSchema(table string) *arrow.Schema {
	var unnamed *arrow.Schema
	for _, sc := range o.opts.Schemas {
		name, _ := sc.Metadata().GetValue(abi.MetaTableName)
		if name == "" && unnamed == nil {
			unnamed = sc
		}
		if name != "" && name == table {
			return sc
		}
	}
	if unnamed == nil && len(o.opts.Schemas) == 1 && table == "" {
		return o.opts.Schemas[0] // stdin: the one schema names the table
	}
	return unnamed
}

// textInput reads CSV or JSON Lines records.
type textInput struct {
	name    string
	table   arrowio.Table
	rr      array.RecordReader
	rows    int64
	closers []io.Closer
}

func (t *textInput) Table() arrowio.Table { return t.table }

func (t *textInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ok bool
	err := protect(func() error { ok = t.rr.Next(); return nil })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	if !ok {
		if err := t.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: after row %d: %w (the schema says %s)", t.name, t.rows, err, t.table.Schema)
		}
		return nil, io.EOF
	}
	rec := t.rr.RecordBatch()
	t.rows += rec.NumRows()
	rec.Retain()
	return rec, nil
}

func (t *textInput) Close() error {
	if t.rr != nil {
		t.rr.Release()
		t.rr = nil
	}
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i].Close()
	}
	t.closers = nil
	return nil
}

// kind is what inference has seen of a column.
type kind int

const (
	kNone kind = iota // only nulls so far
	kBool
	kInt
	kFloat
	kTime
	kString
	kJSON
)

func (k kind) arrow() arrow.DataType {
	switch k {
	case kBool:
		return arrow.FixedWidthTypes.Boolean
	case kInt:
		return arrow.PrimitiveTypes.Int64
	case kFloat:
		return arrow.PrimitiveTypes.Float64
	case kTime:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case kJSON:
		return arrowtypes.NewJSONType()
	}
	return arrow.BinaryTypes.String
}

// widen combines what a column was with what a new value is.
func widen(a, b kind) kind {
	switch {
	case a == kNone:
		return b
	case b == kNone, a == b:
		return a
	case (a == kInt && b == kFloat) || (a == kFloat && b == kInt):
		return kFloat
	case a == kJSON || b == kJSON:
		return kJSON
	}
	return kString
}

// timeLayouts are the timestamp forms inference recognises (CloudQuery's
// file destination writes the first in CSV and JSON).
var timeLayouts = []string{"2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"}

func textKind(s string) kind {
	if s == "" {
		return kNone
	}
	if s == "true" || s == "false" {
		return kBool
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return kInt
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return kFloat
	}
	for _, l := range timeLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return kTime
		}
	}
	if (s[0] == '{' || s[0] == '[') && json.Valid([]byte(s)) {
		return kJSON
	}
	return kString
}

// InferCSV infers the schema of CSV with a header row from its first
// sample rows: per column int64, float64, bool (true/false), timestamp
// (UTC, microseconds), JSON (objects and arrays) or, for anything else and
// columns with only empty values, utf8. Every column is nullable (an empty
// value is null).
func InferCSV(r io.Reader, sample int) (*arrow.Schema, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("no header row: %w", err)
	}
	names := append([]string(nil), header...)
	kinds := make([]kind, len(names))
	for n := 0; n < sample; n++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for i, v := range row {
			if i < len(kinds) {
				kinds[i] = widen(kinds[i], textKind(v))
			}
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("column %d has no name in the header row", i+1)
		}
		fields[i] = arrow.Field{Name: n, Type: kinds[i].arrow(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// InferJSON infers the schema of JSON Lines from its first sample lines:
// the keys in order of first appearance; per key bool, int64, float64,
// timestamp (strings that all parse as one), utf8, or JSON (objects,
// arrays, and keys whose values mix kinds). Every column is nullable.
func InferJSON(r io.Reader, sample int) (*arrow.Schema, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	var names []string
	kinds := map[string]kind{}
	for n := 0; n < sample && sc.Scan(); {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %w", n, err)
		}
		keys, err := keyOrder(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		for _, k := range keys {
			if _, ok := kinds[k]; !ok {
				names = append(names, k)
				kinds[k] = kNone
			}
			kinds[k] = widenJSON(kinds[k], jsonKind(obj[k]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("no JSON object in the sample")
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: kinds[n].arrow(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// widenJSON is widen for JSON values, where values of different kinds
// (but numbers) make a JSON column that holds each as it is.
func widenJSON(a, b kind) kind {
	w := widen(a, b)
	text := func(k kind) bool { return k == kString || k == kTime }
	if w == kString && a != kNone && b != kNone && !(text(a) && text(b)) {
		return kJSON
	}
	return w
}

func jsonKind(v any) kind {
	switch v := v.(type) {
	case nil:
		return kNone
	case bool:
		return kBool
	case json.Number:
		if _, err := v.Int64(); err == nil && !strings.ContainsAny(v.String(), ".eE") {
			return kInt
		}
		return kFloat
	case string:
		for _, l := range timeLayouts[:2] {
			if _, err := time.Parse(l, v); err == nil {
				return kTime
			}
		}
		return kString
	}
	return kJSON
}

// keyOrder returns an object's keys in the order they appear.
func keyOrder(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
