//go:build !wasip1

package dest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/cqddl"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/dest"
	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// canonValue is a value's ValueStr, JSON documents re-encoded (jsonb
// normalises spacing and key order).
func canonValue(arr arrow.Array, i int) string {
	s := arr.ValueStr(i)
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return s
}

// sameRows fails unless got holds the rows of want (matched by id), every
// column equal as canonValue shows it.
func sameRows(t *testing.T, want arrow.RecordBatch, got []arrow.RecordBatch) {
	t.Helper()
	type at struct {
		rec arrow.RecordBatch
		i   int
	}
	byID := map[int64]at{}
	for _, g := range got {
		ids := g.Column(g.Schema().FieldIndices("id")[0]).(*array.Int64)
		for i := 0; i < int(g.NumRows()); i++ {
			byID[ids.Value(i)] = at{g, i}
		}
	}
	if len(byID) != int(want.NumRows()) {
		t.Errorf("read %d rows, wrote %d", len(byID), want.NumRows())
	}
	ids := want.Column(want.Schema().FieldIndices("id")[0]).(*array.Int64)
	for n := 0; n < int(want.NumRows()); n++ {
		g, ok := byID[ids.Value(n)]
		if !ok {
			t.Errorf("row id %d was not read back", ids.Value(n))
			continue
		}
		for c, f := range want.Schema().Fields() {
			gi := g.rec.Schema().FieldIndices(f.Name)[0]
			if w, h := canonValue(want.Column(c), n), canonValue(g.rec.Column(gi), g.i); w != h {
				t.Errorf("id %d, column %s (%s): read %s, wrote %s", ids.Value(n), f.Name, f.Type, h, w)
			}
		}
	}
}

func readAll(t *testing.T, d *dest.Destination, s *arrow.Schema) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	err := d.Read(schema.TableName(s), s, func(rec arrow.RecordBatch) error {
		rec.Retain()
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, r := range out {
			r.Release()
		}
	})
	return out
}

// referenceRecord is n rows of the reference test table (every type,
// a struct of all, a list of each) as the host hands them to a guest.
func referenceRecord(t *testing.T, table string, n int) arrow.RecordBatch {
	t.Helper()
	s := conformance.TableSchema(table, true, conformance.TestTableFields()...)
	rec := conformance.Rows(s, 1, n, conformance.RowOptions{})
	defer rec.Release()
	out := testenv.HostRecord(t, rec, schema.Options{WriteMode: abi.WriteModeOverwriteDeleteStale, SourceName: "src", SyncTime: syncTime})
	t.Cleanup(out.Release)
	return out
}

// TestCloudQueryCreatedTable: a table created with the CloudQuery
// destination's own DDL for the reference test table describes as equal
// (no migration in safe mode), takes writes and upserts, and holds in each
// column what the CloudQuery destination writes: the same text for the
// columns it stores as text (arrow-go's ValueStr, as its transformer
// writes), so its reader reads them back; and Read returns the rows exactly.
func TestCloudQueryCreatedTable(t *testing.T) {
	d, db := newDest(t, `{}`)
	rec := referenceRecord(t, "cq_reference", 12)
	s := rec.Schema()
	ddl := cqddl.CreateTable(s)
	if _, err := db.Exec(0, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	st, err := d.Describe(schema.TableName(s), s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := migrate.PlanTable(s, st, abi.MigrateModeSafe)
	if err != nil {
		t.Fatalf("safe mode refuses the CloudQuery table: %v", err)
	}
	if p.Action != "" || len(p.Changes) != 0 {
		t.Fatalf("the CloudQuery table needs a migration: %+v", p)
	}
	// Describe reports the types as format_type prints them: the wanted
	// ones equal the current ones column by column.
	cur := map[string]string{}
	for _, c := range st.Current {
		cur[c.Name] = c.Type
	}
	for _, w := range st.Wanted {
		if cur[w.Name] != w.Type {
			t.Errorf("column %s: wanted %s, current %s", w.Name, w.Type, cur[w.Name])
		}
	}
	if err := write(d, rec); err != nil {
		t.Fatal(err)
	}
	if err := write(d, rec); err != nil { // upsert of the same keys
		t.Fatal(err)
	}
	sameRows(t, rec, readAll(t, d, s))

	// The text columns hold exactly CloudQuery's text.
	textCols := 0
	for c, f := range s.Fields() {
		if cqddl.PgType(f.Type) != "text" || f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING {
			continue
		}
		textCols++
		res, err := db.Query(0, fmt.Sprintf(`SELECT "%s" FROM "cq_reference" ORDER BY id`, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.Rows {
			want := rec.Column(c).ValueStr(i)
			if rec.Column(c).IsNull(i) {
				if r[0] != nil {
					t.Errorf("column %s, row %d: %q, want NULL", f.Name, i, *r[0])
				}
				continue
			}
			if r[0] == nil || *r[0] != want {
				got := "NULL"
				if r[0] != nil {
					got = *r[0]
				}
				t.Errorf("column %s, row %d: stored %s, CloudQuery writes %s", f.Name, i, got, want)
			}
		}
	}
	if textCols < 8 { // 4 durations, 3 intervals, the struct
		t.Errorf("only %d columns CloudQuery stores as text", textCols)
	}
	// A decimal inside the struct is a JSON string, as CloudQuery's JSON
	// encoder writes it (and as its reader reads it).
	res, err := db.Query(0, `SELECT "struct"::jsonb ->> 'decimal128', jsonb_typeof("struct"::jsonb -> 'decimal128') FROM "cq_reference" WHERE "struct"::jsonb ->> 'decimal128' IS NOT NULL ORDER BY id LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][1] == nil || *res.Rows[0][1] != "string" {
		t.Errorf("struct's decimal: %v, want a JSON string", res.Rows)
	}
}

// TestRichMapping: with type_mapping rich the reference table is created
// with interval and jsonb; a destination on the default mapping then takes
// that table as it is (no migration) and both read it back exactly.
func TestRichMapping(t *testing.T) {
	d, db := newDest(t, `{"type_mapping": "rich"}`)
	rec := referenceRecord(t, "rich_reference", 9)
	s := rec.Schema()
	if p := migrateTo(t, d, s); p.Action != abi.MigrateCreate {
		t.Fatalf("plan %+v, want create", p)
	}
	res, err := db.Query(0, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'rich_reference'::regclass AND attname IN ('duration_ms', 'struct', 'interval_month') ORDER BY attname`)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range res.Rows {
		types = append(types, *r[0])
	}
	if strings.Join(types, ",") != "interval,interval,jsonb" {
		t.Errorf("rich types %v, want interval, interval, jsonb", types)
	}
	if err := write(d, rec); err != nil {
		t.Fatal(err)
	}
	sameRows(t, rec, readAll(t, d, s))

	def := dest.New(db)
	if err := def.Init(abi.InitRequest{WriteMode: abi.WriteModeOverwriteDeleteStale}); err != nil {
		t.Fatal(err)
	}
	if p := migrateTo(t, def, s); p.Action != "" || len(p.Changes) != 0 {
		t.Fatalf("the default mapping migrates a rich table: %+v", p)
	}
	more := referenceRecord(t, "rich_reference", 9) // same keys: upserts
	if err := write(def, more); err != nil {
		t.Fatal(err)
	}
	sameRows(t, rec, readAll(t, def, s))

	bad := dest.New(db)
	err = bad.Init(abi.InitRequest{Spec: json.RawMessage(`{"type_mapping": "jsonb"}`)})
	if err == nil || !strings.Contains(err.Error(), "type_mapping") {
		t.Errorf("bad type_mapping: %v", err)
	}
}

// TestDefaultMappingTypes: a new table under the default mapping has
// exactly CloudQuery's column types for the reference table.
func TestDefaultMappingTypes(t *testing.T) {
	d, db := newDest(t, `{}`)
	rec := referenceRecord(t, "default_reference", 3)
	s := rec.Schema()
	migrateTo(t, d, s)
	res, err := db.Query(0, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'default_reference'::regclass AND attnum > 0 AND NOT attisdropped`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res.Rows {
		got[*r[0]] = *r[1]
	}
	for _, f := range s.Fields() {
		want := cqddl.PgType(f.Type)
		switch want { // format_type's name of int
		case "int":
			want = "integer"
		case "int[]":
			want = "integer[]"
		}
		if got[f.Name] != want {
			t.Errorf("column %s (%s): %s, CloudQuery's type is %s", f.Name, f.Type, got[f.Name], want)
		}
	}
	if err := write(d, rec); err != nil {
		t.Fatal(err)
	}
	sameRows(t, rec, readAll(t, d, s))
}
