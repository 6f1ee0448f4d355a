//go:build !wasip1

package pgtest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/migrate"
)

func field(name string, t arrow.DataType, nullable bool, md ...string) arrow.Field {
	f := arrow.Field{Name: name, Type: t, Nullable: nullable}
	for i := 0; i+1 < len(md); i += 2 {
		f.Metadata = arrow.NewMetadata(append(f.Metadata.Keys(), md[i]), append(f.Metadata.Values(), md[i+1]))
	}
	return f
}

func sourceSchema(table string, fields ...arrow.Field) *arrow.Schema {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema(fields, &md)
}

// rows makes n rows of s with deterministic values, ids from "from".
func rows(t testing.TB, s *arrow.Schema, from, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for r := from; r < from+n; r++ {
		for c, f := range s.Fields() {
			switch bb := b.Field(c).(type) {
			case *array.Int64Builder:
				bb.Append(int64(r))
			case *array.StringBuilder:
				bb.Append(f.Name + "-" + string(rune('a'+r%26)))
			case *array.BooleanBuilder:
				bb.Append(r%2 == 0)
			case *arrowtypes.UUIDBuilder:
				var u [16]byte
				u[0], u[15] = byte(r), byte(r>>8)
				bb.Append(u)
			default:
				t.Fatalf("rows: no values for %s", f.Type)
			}
		}
	}
	return b.NewRecordBatch()
}

// migration is one case of the reference's migration tests: a table made
// from v1, then migrated to v2.
type migration struct {
	name   string
	v1, v2 []arrow.Field
	// kinds are the change kinds planned.
	kinds []abi.ChangeKind
	safe  bool
}

var (
	idPK     = field("id", arrow.PrimitiveTypes.Int64, false, abi.MetaPrimaryKey, abi.MetaTrue)
	cqID     = field(abi.ColID, arrowtypes.NewUUIDType(), false)
	cqIDPK   = field(abi.ColID, arrowtypes.NewUUIDType(), false, abi.MetaPrimaryKey, abi.MetaTrue)
	optional = field("optional", arrow.BinaryTypes.String, true)
	required = field("required", arrow.BinaryTypes.String, false)
)

func migrations() []migration {
	return []migration{
		{name: "add_column", v1: []arrow.Field{idPK}, v2: []arrow.Field{idPK, optional},
			kinds: []abi.ChangeKind{abi.ChangeAddColumn}, safe: true},
		{name: "add_column_not_null", v1: []arrow.Field{idPK}, v2: []arrow.Field{idPK, required},
			kinds: []abi.ChangeKind{abi.ChangeAddColumnNotNull}},
		{name: "remove_column", v1: []arrow.Field{idPK, optional}, v2: []arrow.Field{idPK},
			kinds: []abi.ChangeKind{abi.ChangeRemoveColumn}, safe: true},
		{name: "remove_column_not_null", v1: []arrow.Field{idPK, required}, v2: []arrow.Field{idPK},
			kinds: []abi.ChangeKind{abi.ChangeRemoveColumnNotNull}},
		{name: "change_column", v1: []arrow.Field{idPK, field("flag", arrow.FixedWidthTypes.Boolean, true)},
			v2:    []arrow.Field{idPK, field("flag", arrow.BinaryTypes.String, true)},
			kinds: []abi.ChangeKind{abi.ChangeColumnType}},
		{name: "change_column_not_null", v1: []arrow.Field{idPK, optional}, v2: []arrow.Field{idPK, field("optional", arrow.BinaryTypes.String, false)},
			kinds: []abi.ChangeKind{abi.ChangeColumnType}},
		{name: "remove_unique_constraint_only", v1: []arrow.Field{idPK, field("u", arrow.BinaryTypes.String, true, abi.MetaUnique, abi.MetaTrue)},
			v2:    []arrow.Field{idPK, field("u", arrow.BinaryTypes.String, true)},
			kinds: []abi.ChangeKind{abi.ChangeRemoveUnique}, safe: true},
		{name: "move_to_cq_id_only", v1: []arrow.Field{idPK, cqID, optional},
			v2:    []arrow.Field{field("id", arrow.PrimitiveTypes.Int64, true, abi.MetaPKComponent, abi.MetaTrue), cqIDPK, optional},
			kinds: []abi.ChangeKind{abi.ChangeMovePKToCQID}, safe: true},
	}
}

func TestMigrations(t *testing.T) {
	for _, m := range migrations() {
		for _, mode := range []abi.MigrateMode{abi.MigrateModeSafe, abi.MigrateModeForced} {
			t.Run(m.name+"/"+string(mode), func(t *testing.T) {
				e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
				table := "mig_" + m.name
				r1 := withInternal(t, rows(t, sourceSchema(table, m.v1...), 0, 10), e.opts)
				if p := e.mustMigrate(r1.Schema(), mode); p.Action != abi.MigrateCreate {
					t.Fatalf("first migration: action %q, want create", p.Action)
				}
				e.mustWrite(r1)
				r2 := withInternal(t, rows(t, sourceSchema(table, m.v2...), 100, 10), e.opts)
				plan, err := e.migrateTo(r2.Schema(), mode)
				var kinds []abi.ChangeKind
				for _, c := range plan.Changes {
					kinds = append(kinds, c.Kind)
				}
				if !reflect.DeepEqual(kinds, m.kinds) {
					t.Fatalf("planned %v, want %v", kinds, m.kinds)
				}
				unsafe := len(plan.Unsafe) > 0
				if unsafe == m.safe {
					t.Fatalf("unsafe changes %v, want safe=%v", plan.Unsafe, m.safe)
				}
				switch {
				case unsafe && mode == abi.MigrateModeSafe:
					var ue *migrate.UnsafeError
					if !errors.As(err, &ue) {
						t.Fatalf("safe mode with unsafe changes: got %v, want the refusal", err)
					}
					if n := e.count(table); n != 10 {
						t.Fatalf("refused migration changed the table: %d rows, want 10", n)
					}
					return
				case err != nil:
					t.Fatalf("migrate: %v", err)
				case unsafe:
					if plan.Action != abi.MigrateRecreate {
						t.Fatalf("forced mode: action %q, want recreate", plan.Action)
					}
				}
				e.mustWrite(r2)
				want := int64(20)
				if plan.Action == abi.MigrateRecreate {
					want = 10 // the table was dropped and created anew
				}
				if n := e.count(table); n != want {
					t.Fatalf("%d rows after the migration and a write, want %d", n, want)
				}
				// A second look finds nothing more to do.
				again, err := e.migrateTo(r2.Schema(), mode)
				if err != nil || again.Action != "" {
					t.Fatalf("migrating again: action %q, err %v; want nothing to do", again.Action, err)
				}
				for _, c := range again.Changes {
					if c.Kind != abi.ChangeRemoveColumn {
						t.Fatalf("migrating again found %s", migrate.Describe(c))
					}
				}
				if plan.Action != abi.MigrateRecreate {
					checkKeptRows(t, e, m, table)
				}
			})
		}
	}
}

// checkKeptRows checks what an alter did to the rows written before it.
func checkKeptRows(t *testing.T, e *env, m migration, table string) {
	t.Helper()
	switch m.name {
	case "add_column":
		if got := e.query(`SELECT count(*) FROM ` + table + ` WHERE optional IS NULL`); got[0][0].(int64) != 10 {
			t.Errorf("old rows with the new column NULL: %v, want 10", got[0][0])
		}
	case "remove_column":
		// The column stays: old rows keep their values, new rows get NULL.
		got := e.query(`SELECT count(optional), count(*) FROM ` + table)
		if got[0][0].(int64) != 10 || got[0][1].(int64) != 20 {
			t.Errorf("kept column: %v values of %v rows, want 10 of 20", got[0][0], got[0][1])
		}
	case "remove_unique_constraint_only":
		// Duplicates are now allowed.
		if _, err := e.raw.Exec(e.ctx, `UPDATE `+table+` SET u = 'same'`); err != nil {
			t.Errorf("unique constraint still there: %v", err)
		}
	case "move_to_cq_id_only":
		got := e.query(`SELECT a.attname, a.attnotnull FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			WHERE i.indrelid = '` + table + `'::regclass AND i.indisprimary`)
		if len(got) != 1 || got[0][0] != abi.ColID {
			t.Errorf("primary key columns %v, want only %s", got, abi.ColID)
		}
		nn := e.query(`SELECT attnotnull FROM pg_attribute WHERE attrelid = '` + table + `'::regclass AND attname = 'id'`)
		if nn[0][0].(bool) {
			t.Error("the former key column id is still NOT NULL; the schema has it nullable")
		}
	}
}

// TestDoubleMigrationAllTypes: right after a table of every type is
// created, Describe reports it exactly as wanted, so no migration follows.
func TestDoubleMigrationAllTypes(t *testing.T) {
	for _, mode := range []abi.WriteMode{abi.WriteModeOverwriteDeleteStale, abi.WriteModeAppend} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode)})
			src := tableSchema("double_migration", true, allTypes()...)
			src = arrow.NewSchema(append(src.Fields(), field("uniq", arrow.BinaryTypes.String, true, abi.MetaUnique, abi.MetaTrue)), ptr(src.Metadata()))
			wanted := e.wanted(src)
			e.mustMigrate(wanted, abi.MigrateModeSafe)
			st := e.describe(wanted)
			if !st.Exists || !reflect.DeepEqual(st.Current, st.Wanted) {
				for i := range st.Wanted {
					if i >= len(st.Current) || st.Current[i] != st.Wanted[i] {
						t.Errorf("column %d: current %+v, wanted %+v", i, at(st.Current, i), st.Wanted[i])
					}
				}
				t.Fatalf("Describe after create: %d current columns, %d wanted", len(st.Current), len(st.Wanted))
			}
			if p := e.mustMigrate(wanted, abi.MigrateModeSafe); p.Action != "" || len(p.Changes) != 0 {
				t.Fatalf("second migration planned %q %v, want nothing", p.Action, p.Changes)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func at(cols []abi.Column, i int) any {
	if i < len(cols) {
		return cols[i]
	}
	return "(none)"
}

// TestForcedRecreateRefusesDependentViews: a view on the table stops a
// forced recreate with an error naming it, and nothing changes.
func TestForcedRecreateRefusesDependentViews(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
	r1 := withInternal(t, rows(t, sourceSchema("viewed", idPK, field("flag", arrow.FixedWidthTypes.Boolean, true)), 0, 10), e.opts)
	e.mustMigrate(r1.Schema(), abi.MigrateModeForced)
	e.mustWrite(r1)
	if _, err := e.raw.Exec(e.ctx, `CREATE VIEW "my view" AS SELECT id FROM viewed; CREATE VIEW v2 AS SELECT * FROM "my view"`); err != nil {
		t.Fatal(err)
	}
	r2 := withInternal(t, rows(t, sourceSchema("viewed", idPK, field("flag", arrow.BinaryTypes.String, true)), 0, 10), e.opts)
	plan, err := e.migrateTo(r2.Schema(), abi.MigrateModeForced)
	if plan.Action != abi.MigrateRecreate {
		t.Fatalf("action %q, want recreate", plan.Action)
	}
	if err == nil {
		t.Fatal("recreate dropped a table a view depends on")
	}
	for _, want := range []string{`"public"."viewed"`, `view "my view"`, "cannot be recreated", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := e.count("viewed"); n != 10 {
		t.Errorf("%d rows after the refused recreate, want 10", n)
	}
	if got := e.query(`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'viewed'::regclass AND attname = 'flag'`); got[0][0] != "boolean" {
		t.Errorf("column flag is %v after the refused recreate, want boolean", got[0][0])
	}
	// Without the views it goes through.
	if _, err := e.raw.Exec(e.ctx, `DROP VIEW v2; DROP VIEW "my view"`); err != nil {
		t.Fatal(err)
	}
	e.mustMigrate(r2.Schema(), abi.MigrateModeForced)
}

// TestExplicitSchema: the spec's schema is created with the first table
// and used for everything; the connection's search_path is not.
func TestExplicitSchema(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale), spec: `{"schema": "My Schema"}`})
	r := withInternal(t, rows(t, sourceSchema("in_schema", idPK, optional), 0, 5), e.opts)
	if st := e.describe(r.Schema()); st.Exists {
		t.Fatal("table exists before creation")
	}
	e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	e.mustWrite(r)
	if got := e.query(`SELECT count(*) FROM "My Schema".in_schema`); got[0][0].(int64) != 5 {
		t.Fatalf("%v rows in the explicit schema, want 5", got[0][0])
	}
	if got := e.query(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); got[0][0].(int64) != 0 {
		t.Fatalf("tables in public: %v, want none", got[0][0])
	}
	e.deleteStale("in_schema", e.opts.SyncTime.Add(time.Microsecond))
	if got := e.query(`SELECT count(*) FROM "My Schema".in_schema`); got[0][0].(int64) != 0 {
		t.Fatalf("delete-stale left %v rows", got[0][0])
	}
}

// TestSearchPathSchema: without the spec's schema, tables go to the
// connection's current schema (search_path in the connection string).
func TestSearchPathSchema(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeAppend)})
	if _, err := e.raw.Exec(e.ctx, `CREATE SCHEMA sp`); err != nil {
		t.Fatal(err)
	}
	db, err := openWithSearchPath(e, "sp")
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.pool = e.newPool(`{}`, 1)
	r := withInternal(t, rows(t, sourceSchema("via_search_path", idPK, optional), 0, 3), e.opts)
	e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	e.mustWrite(r)
	if got := e.query(`SELECT count(*) FROM sp.via_search_path`); got[0][0].(int64) != 3 {
		t.Fatalf("%v rows in sp, want 3", got[0][0])
	}
}

// TestRemoveUniqueIndex: a unique index the user made (not a constraint)
// counts as the column's uniqueness, and dropping it is the safe change.
func TestRemoveUniqueIndex(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
	r := withInternal(t, rows(t, sourceSchema("uidx", idPK, optional), 0, 5), e.opts)
	e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	if _, err := e.raw.Exec(e.ctx, `CREATE UNIQUE INDEX "my index" ON uidx (optional)`); err != nil {
		t.Fatal(err)
	}
	p := e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	if p.Action != abi.MigrateAlter || len(p.Changes) != 1 || p.Changes[0].Kind != abi.ChangeRemoveUnique {
		t.Fatalf("plan %q %v, want alter with remove_unique_constraint", p.Action, p.Changes)
	}
	if got := e.query(`SELECT count(*) FROM pg_indexes WHERE indexname = 'my index'`); got[0][0].(int64) != 0 {
		t.Fatal("the unique index is still there")
	}
}

// TestReferenceCreatedTable: a table as the CloudQuery PostgreSQL
// destination creates it describes with no difference for the types both
// store alike, so switching destinations needs no migration.
func TestReferenceCreatedTable(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
	if _, err := e.raw.Exec(e.ctx, `CREATE TABLE "ref" (
		"_cq_sync_time" timestamp without time zone, "_cq_source_name" text,
		"_cq_id" uuid UNIQUE NOT NULL, "_cq_parent_id" uuid,
		"id" bigint NOT NULL, "name" text, "tags" text[], "attrs" jsonb, "mac" macaddr, "ip" inet,
		"u64" numeric(20,0), "small" smallint, "ratio" double precision, "f32" real, "day" date,
		"at" timestamp without time zone, "blob" bytea, "ok" boolean, "d" numeric(19,10), "n" integer,
		CONSTRAINT "ref_cqpk" PRIMARY KEY ("id"))`); err != nil {
		t.Fatal(err)
	}
	src := sourceSchema("ref",
		cqIDUnique(), field(abi.ColParentID, arrowtypes.NewUUIDType(), true), idPK,
		field("name", arrow.BinaryTypes.String, true), field("tags", arrow.ListOf(arrow.BinaryTypes.String), true),
		field("attrs", arrowtypes.NewJSONType(), true), field("mac", arrowtypes.NewMACType(), true),
		field("ip", arrowtypes.NewInetType(), true), field("u64", arrow.PrimitiveTypes.Uint64, true),
		field("small", arrow.PrimitiveTypes.Int8, true), field("ratio", arrow.PrimitiveTypes.Float64, true),
		field("f32", arrow.PrimitiveTypes.Float32, true), field("day", arrow.FixedWidthTypes.Date32, true),
		field("at", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, true),
		field("blob", arrow.BinaryTypes.LargeBinary, true), field("ok", arrow.FixedWidthTypes.Boolean, true),
		field("d", &arrow.Decimal128Type{Precision: 19, Scale: 10}, true), field("n", arrow.PrimitiveTypes.Uint16, true))
	wanted := e.wanted(src)
	if p := e.mustMigrate(wanted, abi.MigrateModeSafe); p.Action != "" || len(p.Changes) != 0 {
		t.Fatalf("plan %q, changes %v; want none", p.Action, p.Changes)
	}
}

func cqIDUnique() arrow.Field {
	return field(abi.ColID, arrowtypes.NewUUIDType(), false, abi.MetaUnique, abi.MetaTrue)
}
