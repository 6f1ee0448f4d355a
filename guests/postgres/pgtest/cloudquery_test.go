//go:build !wasip1

package pgtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/cqddl"
	"github.com/wasmdest/wasmdest/host/conformance"
)

// TestCloudQueryCreatedReferenceTable: the reference test table created by
// the CREATE TABLE the CloudQuery destination issues (its
// createTableIfNotExist) is synced into through the guest in safe mode
// with no migration; the rows read back exactly, and the columns it stores
// as text hold exactly its text (arrow-go's ValueStr, what its transformer
// writes and its reader parses).
func TestCloudQueryCreatedReferenceTable(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
	src := conformance.TableSchema("cq_ref", true, conformance.TestTableFields()...)
	rec := withInternal(t, conformance.Rows(src, 0, 15, conformance.RowOptions{}), e.opts)
	wanted := rec.Schema()
	ddl := cqddl.CreateTable(wanted)
	if _, err := e.raw.Exec(e.ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	if p := e.mustMigrate(wanted, abi.MigrateModeSafe); p.Action != "" || len(p.Changes) != 0 {
		t.Fatalf("plan %q, changes %v; want none", p.Action, p.Changes)
	}
	e.mustWrite(rec)
	e.mustWrite(rec) // upserts
	sameValues(t, []arrow.RecordBatch{rec}, e.read(wanted))
	checked := 0
	for c, f := range wanted.Fields() {
		if cqddl.PgType(f.Type) != "text" || f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING {
			continue
		}
		rows, err := e.raw.Query(e.ctx, fmt.Sprintf(`SELECT "%s" FROM "cq_ref" ORDER BY id`, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for rows.Next() {
			var got *string
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			switch {
			case rec.Column(c).IsNull(i):
				if got != nil {
					t.Errorf("%s row %d: %q, want NULL", f.Name, i, *got)
				}
			case got == nil || *got != rec.Column(c).ValueStr(i):
				t.Errorf("%s row %d: stored %v, CloudQuery writes %s", f.Name, i, got, rec.Column(c).ValueStr(i))
			default:
				checked++
			}
			i++
		}
		rows.Close()
	}
	if checked < 50 {
		t.Errorf("only %d text values compared", checked)
	}
}

// canonValue is a value's ValueStr, JSON documents re-encoded (jsonb
// normalises spacing and key order).
func canonValue(arr arrow.Array, i int) (s string) {
	if st, ok := arr.(*array.Struct); ok && st.IsValid(i) {
		// Field by field: arrow-go's ValueStr of a struct panics on a
		// float that JSON cannot hold.
		var b strings.Builder
		for j := 0; j < st.NumField(); j++ {
			fmt.Fprintf(&b, "%s=%s;", st.DataType().(*arrow.StructType).Field(j).Name, canonValue(st.Field(j), i))
		}
		return b.String()
	}
	s = arr.ValueStr(i)
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return s
}

// sameValues fails unless got holds the rows of want, matched by id, with
// every column's type equal and values equal as canonValue shows them (JSON
// inside a struct's CloudQuery text is compacted, as CloudQuery's encoder
// does, where jsonb spaces it).
func sameValues(t *testing.T, want []arrow.RecordBatch, got arrow.Table) {
	t.Helper()
	type at struct {
		rec arrow.RecordBatch
		i   int
	}
	byID := map[int64]at{}
	tr := array.NewTableReader(got, 1000)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		rec.Retain()
		t.Cleanup(rec.Release)
		ids := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			byID[ids.Value(i)] = at{rec, i}
		}
	}
	rows := 0
	for _, w := range want {
		rows += int(w.NumRows())
		for c, f := range w.Schema().Fields() {
			if gt := got.Schema().Field(c).Type; !arrow.TypeEqual(gt, f.Type) {
				t.Errorf("column %s: type %s, want %s", f.Name, gt, f.Type)
			}
		}
		ids := w.Column(w.Schema().FieldIndices("id")[0]).(*array.Int64)
		for n := 0; n < int(w.NumRows()); n++ {
			g, ok := byID[ids.Value(n)]
			if !ok {
				t.Errorf("id %d was not read back", ids.Value(n))
				continue
			}
			for c, f := range w.Schema().Fields() {
				gi := g.rec.Schema().FieldIndices(f.Name)[0]
				if wv, h := canonValue(w.Column(c), n), canonValue(g.rec.Column(gi), g.i); wv != h {
					t.Errorf("id %d, column %s (%s): read %.300s, wrote %.300s", ids.Value(n), f.Name, f.Type, h, wv)
				}
			}
		}
	}
	if len(byID) != rows {
		t.Errorf("read %d rows, wrote %d", len(byID), rows)
	}
}
