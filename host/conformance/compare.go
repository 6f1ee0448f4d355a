package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// row is one row as canonical values by column name: nil for null, strings
// for scalars (arrow-go's exact text form), []any for lists, map[string]any
// for structs, and decoded JSON for json columns, so that two rows are equal
// when their values are, whatever the chunking of the arrays they came from.
type row map[string]any

// rowsOf returns the rows of recs.
func rowsOf(recs ...arrow.RecordBatch) []row {
	var out []row
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			r := make(row, rec.NumCols())
			for c, f := range rec.Schema().Fields() {
				r[f.Name] = canon(rec.Column(c), i)
			}
			out = append(out, r)
		}
	}
	return out
}

// canon returns the canonical value of arr[i].
func canon(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	if arrowtypes.IsJSON(arr.DataType()) {
		return canonJSON(textOf(arr, i))
	}
	switch a := arr.(type) {
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, a.NumField())
		for j := 0; j < a.NumField(); j++ {
			m[st.Field(j).Name] = canon(a.Field(j), i)
		}
		return m
	case *array.Map:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, []any{canon(a.Keys(), int(j)), canon(a.Items(), int(j))})
		}
		return out
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, canon(a.ListValues(), int(j)))
		}
		return out
	}
	return arr.ValueStr(i)
}

// textOf returns the text held by a string- or binary-backed array.
func textOf(arr arrow.Array, i int) string {
	if ext, ok := arr.(array.ExtensionArray); ok {
		arr = ext.Storage()
	}
	switch a := arr.(type) {
	case interface{ ValueString(int) string }:
		return a.ValueString(i)
	case interface{ Value(int) string }:
		return a.Value(i)
	}
	return arr.ValueStr(i)
}

// canonJSON decodes a JSON document into a form where equal JSON values are
// equal: numbers as exact rationals, so 1, 1.0 and 1e0 agree. A document
// that does not decode stays as its text.
func canonJSON(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "invalid JSON: " + s
	}
	return canonNumbers(v)
}

func canonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return "number:" + r.RatString()
		}
		return "number:" + string(x)
	case []any:
		for i := range x {
			x[i] = canonNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = canonNumbers(x[k])
		}
	}
	return v
}

// key returns the row's values for cols, in that order, as one comparable
// string.
func (r row) key(cols []string) string {
	vals := make([]any, len(cols))
	for i, c := range cols {
		vals[i] = r[c]
	}
	b, _ := json.Marshal(vals)
	return string(b)
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	s := strings.TrimSpace(b.String())
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// diffRows compares the rows read back with the rows wanted, as multisets,
// on the columns of schema (a column a row lacks is null). It returns ""
// when they are equal, else a description of the first differences: per
// column when both sides have an "id" column with the same ids, else the
// rows missing and the rows not expected.
func diffRows(schema *arrow.Schema, want, got []row) string {
	cols := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = f.Name
	}
	count := func(rows []row) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r.key(cols)]++
		}
		return m
	}
	wm, gm := count(want), count(got)
	var missing, extra []string
	for k, n := range wm {
		for range n - gm[k] {
			missing = append(missing, k)
		}
	}
	for k, n := range gm {
		for range n - wm[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "read back %d rows, want %d", len(got), len(want))
	if d := diffByID(cols, want, got); d != "" {
		b.WriteString(": " + d)
		return b.String()
	}
	sort.Strings(missing)
	sort.Strings(extra)
	list := func(what string, keys []string) {
		if len(keys) == 0 {
			return
		}
		fmt.Fprintf(&b, "; %d %s", len(keys), what)
		for i, k := range keys {
			if i == 3 {
				b.WriteString(" ...")
				break
			}
			if len(k) > 300 {
				k = k[:300] + "..."
			}
			fmt.Fprintf(&b, " %s", k)
		}
	}
	if len(cols) <= 10 {
		fmt.Fprintf(&b, " (columns %s)", strings.Join(cols, ", "))
	}
	list("missing:", missing)
	list("not expected:", extra)
	return b.String()
}

// diffByID compares rows matched by their "id" column, when both sides hold
// each id once and the same ids, and names every column that differs.
func diffByID(cols []string, want, got []row) string {
	if !slices.Contains(cols, "id") || len(want) != len(got) {
		return ""
	}
	byID := func(rows []row) map[any]row {
		m := map[any]row{}
		for _, r := range rows {
			m[r["id"]] = r
		}
		return m
	}
	wm, gm := byID(want), byID(got)
	if len(wm) != len(want) || len(gm) != len(got) {
		return ""
	}
	type colDiff struct {
		want, got  any
		firstID    string
		totalCount int
	}
	diffs := map[string]*colDiff{}
	var order []string
	ids := make([]string, 0, len(wm))
	for id := range wm {
		if _, ok := gm[id]; !ok {
			return ""
		}
		ids = append(ids, fmt.Sprint(id))
	}
	sort.Strings(ids)
	for _, id := range ids {
		w, g := wm[id], gm[id]
		for _, c := range cols {
			if show(w[c]) == show(g[c]) {
				continue
			}
			d := diffs[c]
			if d == nil {
				d = &colDiff{want: w[c], got: g[c], firstID: id}
				diffs[c] = d
				order = append(order, c)
			}
			d.totalCount++
		}
	}
	if len(order) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d columns differ:", len(order))
	for i, c := range order {
		if i == 8 {
			fmt.Fprintf(&b, " ... and %d more", len(order)-8)
			break
		}
		d := diffs[c]
		fmt.Fprintf(&b, "\n  %s (%d rows; id %s: want %s, got %s)", c, d.totalCount, d.firstID, show(d.want), show(d.got))
	}
	return b.String()
}

// checkTypes reports fields of got whose names or types differ from want.
func checkTypes(want, got *arrow.Schema) string {
	if got.NumFields() != want.NumFields() {
		return fmt.Sprintf("read back %d columns, want %d (%s)", got.NumFields(), want.NumFields(), fieldNames(want))
	}
	var bad []string
	for i, f := range want.Fields() {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			bad = append(bad, fmt.Sprintf("%s %s read back as %s %s", f.Name, f.Type, g.Name, g.Type))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("%d columns have another name or type than written: %s", len(bad), strings.Join(bad, "; "))
}

func fieldNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
