//go:build !wasip1

package dest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/dest"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

var syncTime = time.Date(2026, 11, 21, 6, 25, 49, 123456000, time.UTC)

// users is a source table: id (the primary key when pk), name, score.
func users(pk bool) *arrow.Schema {
	id := arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64}
	if pk {
		id.Metadata = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"users"})
	return arrow.NewSchema([]arrow.Field{id,
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, &md)
}

// rows makes a record of s with the given ids, names "<prefix> <id>" and
// scores id/2, with the internal columns of a sync at when from source.
func rows(t *testing.T, s *arrow.Schema, o schema.Options, prefix string, ids ...int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%s %d", prefix, id))
		b.Field(2).(*array.Float64Builder).Append(float64(id) / 2)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	out := testenv.HostRecord(t, rec, o)
	t.Cleanup(out.Release)
	return out
}

// newDest is a destination on a fresh database with spec.
func newDest(t *testing.T, spec string) (*dest.Destination, *pgxDB) {
	t.Helper()
	db := newPgxDB(t)
	d := dest.New(db)
	if err := d.Init(abi.InitRequest{Spec: json.RawMessage(spec), WriteMode: abi.WriteModeOverwriteDeleteStale}); err != nil {
		t.Fatal(err)
	}
	return d, db
}

// migrateTo plans and applies the migration of wanted as the host does.
func migrateTo(t *testing.T, d *dest.Destination, wanted *arrow.Schema) migrate.Plan {
	t.Helper()
	table := schema.TableName(wanted)
	st, err := d.Describe(table, wanted)
	if err != nil {
		t.Fatal(err)
	}
	p, err := migrate.PlanTable(wanted, st, abi.MigrateModeSafe)
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != "" {
		if err := d.Migrate(p.Request(), wanted); err != nil {
			t.Fatal(err)
		}
	}
	after, err := d.Describe(table, wanted)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate.VerifyApplied(wanted, after); err != nil {
		t.Fatal(err)
	}
	return p
}

func write(d *dest.Destination, recs ...arrow.RecordBatch) error {
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		return err
	}
	defer rr.Release()
	_, err = d.Write(schema.TableName(recs[0].Schema()), rr)
	return err
}

// read returns "id:name:score" of every stored row, ordered by id.
func read(t *testing.T, d *dest.Destination, s *arrow.Schema) []string {
	t.Helper()
	var out []string
	err := d.Read(schema.TableName(s), s, func(rec arrow.RecordBatch) error {
		ids := rec.Column(s.FieldIndices("id")[0]).(*array.Int64)
		names := rec.Column(s.FieldIndices("name")[0]).(*array.String)
		scores := rec.Column(s.FieldIndices("score")[0]).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, fmt.Sprintf("%d:%s:%g", ids.Value(i), names.Value(i), scores.Value(i)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestCreateWriteRead: describe of a missing table, create, inserts, and
// reading back in the schema written; a second describe plans nothing.
func TestCreateWriteRead(t *testing.T) {
	d, _ := newDest(t, `{}`)
	o := schema.Options{WriteMode: abi.WriteModeAppend, SourceName: "src", SyncTime: syncTime}
	r := rows(t, users(false), o, "user", 1, 2, 3)
	if p := migrateTo(t, d, r.Schema()); p.Action != abi.MigrateCreate {
		t.Fatalf("first migration %q, want create", p.Action)
	}
	if err := write(d, r, r); err != nil {
		t.Fatal(err)
	}
	got := read(t, d, r.Schema())
	want := []string{"1:user 1:0.5", "1:user 1:0.5", "2:user 2:1", "2:user 2:1", "3:user 3:1.5", "3:user 3:1.5"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("read %v, want %v (append keeps both copies)", got, want)
	}
	if p := migrateTo(t, d, r.Schema()); p.Action != "" || len(p.Changes) != 0 {
		t.Errorf("second migration %+v, want nothing to do", p)
	}
}

// TestUpsertLastWins: with a primary key, a batch holding a key twice keeps
// the last row, and a later batch replaces rows by key.
func TestUpsertLastWins(t *testing.T) {
	d, _ := newDest(t, `{}`)
	o := schema.Options{WriteMode: abi.WriteModeOverwrite, SourceName: "src", SyncTime: syncTime}
	first := rows(t, users(true), o, "first", 1, 2, 1)
	migrateTo(t, d, first.Schema())
	if err := write(d, first); err != nil {
		t.Fatal(err)
	}
	if err := write(d, rows(t, users(true), o, "second", 2, 3)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(read(t, d, first.Schema()), ",")
	if want := "1:first 1:0.5,2:second 2:1,3:second 3:1.5"; got != want {
		t.Errorf("read %s, want %s", got, want)
	}
}

// TestDeleteStale deletes the source's rows of earlier syncs only.
func TestDeleteStale(t *testing.T) {
	d, db := newDest(t, `{}`)
	old := schema.Options{WriteMode: abi.WriteModeOverwriteDeleteStale, SourceName: "src", SyncTime: syncTime}
	now := old
	now.SyncTime = syncTime.Add(time.Hour)
	other := old
	other.SourceName = "other"
	r := rows(t, users(true), old, "old", 1, 2)
	migrateTo(t, d, r.Schema())
	for _, rec := range []arrow.RecordBatch{r, rows(t, users(true), other, "other", 3), rows(t, users(true), now, "now", 2)} {
		if err := write(d, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteStale(abi.DeleteStaleRequest{Table: "users", SourceName: "src", SyncTime: abi.FormatTime(now.SyncTime)}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(db.rawSQL(t, `SELECT id::text FROM users ORDER BY id`), ",")
	if got != "2,3" {
		t.Errorf("ids %s after delete stale, want 2 (rewritten now) and 3 (another source)", got)
	}
}

// TestBatchWholeOrNothing: a batch whose last row cannot be stored (text
// that is not UTF-8) fails naming the column, and leaves the table as it
// was: its first row is not written either.
func TestBatchWholeOrNothing(t *testing.T) {
	d, db := newDest(t, `{}`)
	o := schema.Options{WriteMode: abi.WriteModeOverwrite, SourceName: "src", SyncTime: syncTime}
	r := rows(t, users(true), o, "kept", 1)
	migrateTo(t, d, r.Schema())
	if err := write(d, r); err != nil {
		t.Fatal(err)
	}
	bad := rows(t, users(true), o, "new", 2, 3)
	cols := bad.Columns()
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	sb.Append("fine")
	sb.Append("bad \xff")
	names := sb.NewArray()
	defer names.Release()
	idx := bad.Schema().FieldIndices("name")[0]
	mixed := array.NewRecordBatch(bad.Schema(), append(append(append([]arrow.Array{}, cols[:idx]...), names), cols[idx+1:]...), 2)
	defer mixed.Release()
	err := write(d, mixed)
	if err == nil || !strings.Contains(err.Error(), "name") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("got %v, want an error naming the column and the invalid UTF-8", err)
	}
	if got := strings.Join(db.rawSQL(t, `SELECT id::text FROM users ORDER BY id`), ","); got != "1" {
		t.Errorf("ids %s after the failed batch, want only 1", got)
	}
}

// TestSpecSchema: the spec's schema holds the tables, created when missing;
// a bad name is refused by Init.
func TestSpecSchema(t *testing.T) {
	d, db := newDest(t, `{"schema": "landing"}`)
	o := schema.Options{WriteMode: abi.WriteModeAppend, SourceName: "src", SyncTime: syncTime}
	r := rows(t, users(false), o, "user", 1)
	migrateTo(t, d, r.Schema())
	if err := write(d, r); err != nil {
		t.Fatal(err)
	}
	if got := db.rawSQL(t, `SELECT count(*)::text FROM landing.users`); len(got) != 1 || got[0] != "1" {
		t.Errorf("landing.users holds %v rows, want 1", got)
	}
	err := dest.New(db).Init(abi.InitRequest{Spec: json.RawMessage(`{"schema": ""}`)})
	if err != nil {
		t.Errorf("an empty schema (the connection's own) was refused: %v", err)
	}
	err = dest.New(db).Init(abi.InitRequest{Spec: json.RawMessage(`{"schema": 7}`)})
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		t.Errorf("a schema that is not a string: got %v", err)
	}
}
