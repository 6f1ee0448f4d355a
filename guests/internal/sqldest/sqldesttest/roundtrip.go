//go:build !wasip1

package sqldesttest

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest"
	"github.com/wasmdest/wasmdest/host/conformance"
)

// RoundTrip writes the reference test table (every type, nulls, lists
// with null elements) through d, reads it back and compares every column;
// then writes it again as upserts and checks that nothing doubled.
func RoundTrip(t *testing.T, d *sqldest.Destination, table string) {
	t.Helper()
	arrowtypes.Register()
	schema := conformance.TableSchema(table, true, conformance.TestTableFields()...)
	st, err := d.Describe(table, schema)
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists {
		t.Fatalf("table %s exists before the test", table)
	}
	if err := d.Migrate(abi.MigrateRequest{Table: table, Action: abi.MigrateCreate}, schema); err != nil {
		t.Fatal(err)
	}
	st, err = d.Describe(table, schema)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Current, st.Wanted) {
		for i := range st.Wanted {
			if i >= len(st.Current) || st.Current[i] != st.Wanted[i] {
				var cur abi.Column
				if i < len(st.Current) {
					cur = st.Current[i]
				}
				t.Errorf("describe after create: column %d is %+v, want %+v", i, cur, st.Wanted[i])
			}
		}
	}
	rec := conformance.Rows(schema, 0, 12, conformance.RowOptions{})
	nulls := conformance.Rows(schema, 100, 3, conformance.RowOptions{Nulls: true})
	if err := d.Write(table, Reader(t, rec, nulls)); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(table, Reader(t, rec)); err != nil {
		t.Fatal(err)
	}
	got := ReadAll(t, d, table, schema)
	tbl := array.NewTableFromRecords(schema, got)
	defer tbl.Release()
	if tbl.NumRows() != 15 {
		t.Fatalf("read back %d rows, want 15 (12 + 3 null rows, the 12 upserted again)", tbl.NumRows())
	}
	want := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec, nulls})
	defer want.Release()
	// Rows come back in any order: index them by id.
	gotByID := byID(tbl)
	wantByID := byID(want)
	compared := 0
	defer func() { t.Logf("compared %d values of %d columns", compared, schema.NumFields()) }()
	for c, f := range schema.Fields() {
		for id, wi := range wantByID {
			compared++
			gi, ok := gotByID[id]
			if !ok {
				t.Fatalf("id %d not read back", id)
			}
			w, g := valueAt(want.Column(c), wi), valueAt(tbl.Column(c), gi)
			if arrowtypes.IsJSON(f.Type) {
				w, g = canonJSON(w), canonJSON(g)
			}
			if !reflect.DeepEqual(w, g) {
				t.Errorf("column %s (%s), id %d: read back %v, want %v", f.Name, f.Type, id, g, w)
				break
			}
		}
		if !arrow.TypeEqual(tbl.Column(c).DataType(), f.Type) {
			t.Errorf("column %s: read back as %s, want %s", f.Name, tbl.Column(c).DataType(), f.Type)
		}
	}
}

func byID(tbl arrow.Table) map[int64]int {
	out := map[int64]int{}
	row := 0
	for _, ch := range tbl.Column(0).Data().Chunks() {
		ids := ch.(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			out[ids.Value(i)] = row
			row++
		}
	}
	return out
}

// valueAt is the JSON form of row i of a chunked column.
func valueAt(col *arrow.Column, i int) any {
	for _, ch := range col.Data().Chunks() {
		if i < ch.Len() {
			if ch.IsNull(i) {
				return nil
			}
			b, _ := json.Marshal(ch.GetOneForMarshal(i))
			var v any
			json.Unmarshal(b, &v)
			return v
		}
		i -= ch.Len()
	}
	return "missing"
}

func canonJSON(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	var out any
	if json.Unmarshal([]byte(s), &out) != nil {
		return v
	}
	return out
}

// ColumnTypes returns, one line each, how dialect stores every column of
// the reference test table: "name: type, encoding", for comparison with a
// dialect's testdata/types.txt.
func ColumnTypes(t *testing.T, dialect sqldest.Dialect) string {
	t.Helper()
	arrowtypes.Register()
	schema := conformance.TableSchema("reference", true, conformance.TestTableFields()...)
	cols, err := sqldest.New(nil, dialect).Columns("reference", schema)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&b, "%s: %s, %s\n", c.Name, c.Type, c.Codec.Encoding())
	}
	return b.String()
}

// CheckColumnTypes compares ColumnTypes with the file golden; with
// WASMDEST_UPDATE_GOLDEN set it writes the file instead.
func CheckColumnTypes(t *testing.T, dialect sqldest.Dialect, golden string) {
	t.Helper()
	got := ColumnTypes(t, dialect)
	if os.Getenv("WASMDEST_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (WASMDEST_UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Errorf("column types differ from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}
