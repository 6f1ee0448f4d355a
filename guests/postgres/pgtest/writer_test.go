//go:build !wasip1

package pgtest

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
)

// The writer test checklist of docs/background.md ("The writer tests"), driven at the pool
// level: the test plays the host's part (schema transform, migration plan,
// operations) and checks the database.

var pkMeta = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})

// nameSchema is a table whose primary key is a string "name".
func nameSchema(table string) *arrow.Schema {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Metadata: pkMeta},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, &md)
}

func nameRecord(s *arrow.Schema, names []string, values []int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i, n := range names {
		b.Field(0).(*array.StringBuilder).Append(n)
		b.Field(1).(*array.Int64Builder).Append(values[i])
	}
	return b.NewRecordBatch()
}

func TestUpsertBasic(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwrite)})
	rec := withInternal(t, nameRecord(nameSchema("upsert_basic"), []string{"foo"}, []int64{1}), e.opts)
	e.mustMigrate(rec.Schema(), abi.MigrateModeSafe)
	e.mustWrite(rec)
	e.mustWrite(rec)
	if n := e.count("upsert_basic"); n != 1 {
		t.Fatalf("%d rows after writing the same row twice with a primary key, want 1", n)
	}
	rec2 := withInternal(t, nameRecord(nameSchema("upsert_basic"), []string{"foo"}, []int64{2}), e.opts)
	e.mustWrite(rec2)
	if got := e.query(`SELECT value FROM upsert_basic`); len(got) != 1 || got[0][0].(int64) != 2 {
		t.Fatalf("after the upsert: %v, want one row with value 2", got)
	}
}

// TestUpsertAll: 10 rows of every type, then 10 rows with the same keys and
// every other column null: the whole rows are replaced, NULLs included.
func TestUpsertAll(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwriteDeleteStale)})
	src := tableSchema("upsert_all", true, allTypes()...)
	full := withInternal(t, makeRecord(t, src, 0, 10, false), e.opts)
	nulls := withInternal(t, makeRecord(t, src, 0, 10, true), e.opts)
	e.mustMigrate(full.Schema(), abi.MigrateModeSafe)
	e.mustWrite(full)
	// Values compared as JSON inside structs (CloudQuery's text compacts it).
	sameValues(t, []arrow.RecordBatch{full}, e.read(full.Schema()))
	e.mustWrite(nulls)
	if n := e.count("upsert_all"); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
	if d := sameRows(t, []arrow.RecordBatch{nulls}, e.read(full.Schema())); d != "" {
		t.Fatal(d)
	}
}

// TestUpsertDuplicateKeysInOneBatch: ten rows with one key in one batch
// leave one row, the last; also when the batch arrives as several records.
func TestUpsertDuplicateKeysInOneBatch(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwrite)})
	s := nameSchema("dup_keys")
	names := make([]string, 10)
	vals := make([]int64, 10)
	for i := range names {
		names[i], vals[i] = "id-1", int64(i)
	}
	rec := withInternal(t, nameRecord(s, names, vals), e.opts)
	e.mustMigrate(rec.Schema(), abi.MigrateModeSafe)
	e.mustWrite(rec)
	if got := e.query(`SELECT name, value FROM dup_keys`); len(got) != 1 || got[0][1].(int64) != 9 {
		t.Fatalf("got %v, want one row with the last value 9", got)
	}
	// The same key across the records of one write, and a second key.
	r1 := withInternal(t, nameRecord(s, []string{"id-1", "id-2", "id-1"}, []int64{10, 20, 11}), e.opts)
	r2 := withInternal(t, nameRecord(s, []string{"id-2", "id-1"}, []int64{21, 12}), e.opts)
	e.mustWrite(r1, r2)
	got := e.query(`SELECT name, value FROM dup_keys ORDER BY name`)
	if len(got) != 2 || got[0][1].(int64) != 12 || got[1][1].(int64) != 21 {
		t.Fatalf("got %v, want id-1=12 and id-2=21 (the last of each key)", got)
	}
}

func TestInsertBasic(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeAppend)})
	rec := withInternal(t, nameRecord(nameSchema("insert_basic"), []string{"foo"}, []int64{1}), e.opts)
	if len(rec.Schema().Field(2).Metadata.Keys()) != 0 {
		t.Fatal("append should strip the primary key")
	}
	e.mustMigrate(rec.Schema(), abi.MigrateModeSafe)
	e.mustWrite(rec)
	e.mustWrite(rec)
	if n := e.count("insert_basic"); n != 2 {
		t.Fatalf("%d rows after inserting the same row twice, want 2", n)
	}
}

func TestInsertAll(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeAppend)})
	src := tableSchema("insert_all", false, allTypes()...)
	full := withInternal(t, makeRecord(t, src, 0, 10, false), e.opts)
	nulls := withInternal(t, makeRecord(t, src, 10, 10, true), e.opts)
	e.mustMigrate(full.Schema(), abi.MigrateModeSafe)
	e.mustWrite(full)
	e.mustWrite(nulls)
	if n := e.count("insert_all"); n != 20 {
		t.Fatalf("%d rows, want 20", n)
	}
	sameValues(t, []arrow.RecordBatch{full, nulls}, e.read(full.Schema()))
}

// TestDeleteStale: rows of the same source strictly before the sync time go;
// rows at the sync time and rows of other sources stay.
func TestDeleteStale(t *testing.T) {
	for _, index := range []bool{false, true} {
		name := "plain"
		spec := `{}`
		if index {
			name, spec = "performance_index", `{"create_performance_indexes": true}`
		}
		t.Run(name, func(t *testing.T) {
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
			t1 := t0.Add(time.Microsecond)
			o := optsFor(abi.WriteModeOverwriteDeleteStale)
			o.SyncTime = t0
			e := newEnv(t, envConfig{opts: o, spec: spec})
			s := nameSchema("stale")
			old := withInternal(t, nameRecord(s, []string{"a", "b"}, []int64{1, 2}), o)
			o2 := o
			o2.SourceName = "other-source"
			other := withInternal(t, nameRecord(s, []string{"c"}, []int64{3}), o2)
			o3 := o
			o3.SyncTime = t1
			fresh := withInternal(t, nameRecord(s, []string{"b", "d"}, []int64{20, 4}), o3)
			e.mustMigrate(old.Schema(), abi.MigrateModeSafe)
			e.mustWrite(old)
			e.mustWrite(other)
			e.mustWrite(fresh)
			// At t0 nothing is strictly older.
			e.deleteStale("stale", t0)
			if n := e.count("stale"); n != 4 {
				t.Fatalf("delete-stale at the oldest sync time deleted rows: %d left, want 4", n)
			}
			e.deleteStale("stale", t1)
			got := e.query(`SELECT name FROM stale ORDER BY name`)
			var names []string
			for _, r := range got {
				names = append(names, r[0].(string))
			}
			if strings.Join(names, ",") != "b,c,d" {
				t.Fatalf("rows left %v, want b (rewritten), c (other source), d", names)
			}
			idx := e.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'stale' AND indexname = 'stale_cqpi'`)
			if (len(idx) == 1) != index {
				t.Errorf("performance index present: %v, want %v", len(idx) == 1, index)
			}
		})
	}
}
