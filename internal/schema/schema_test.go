package schema

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

var (
	pk     = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	unique = arrow.NewMetadata([]string{abi.MetaUnique}, []string{abi.MetaTrue})
	pkUniq = arrow.NewMetadata([]string{abi.MetaPrimaryKey, abi.MetaUnique, abi.MetaIncremental}, []string{abi.MetaTrue, abi.MetaTrue, abi.MetaTrue})
)

func tableMeta(name string) *arrow.Metadata {
	md := arrow.NewMetadata([]string{abi.MetaTableName, abi.MetaTableDesc}, []string{name, "a test table"})
	return &md
}

// source returns a typical source schema: _cq_id (unique), id (pk), name.
func source() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: abi.ColID, Type: arrow.BinaryTypes.String, Metadata: unique},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, tableMeta("users"))
}

type col struct {
	name     string
	typ      string
	nullable bool
	pk, uniq bool
}

func describe(s *arrow.Schema) []col {
	var out []col
	for _, f := range s.Fields() {
		out = append(out, col{f.Name, f.Type.String(), f.Nullable, arrowtypes.IsPrimaryKey(f), arrowtypes.IsUnique(f)})
	}
	return out
}

func TestTransform(t *testing.T) {
	syncTime := col{abi.ColSyncTime, "timestamp[us, tz=UTC]", true, false, false}
	sourceName := col{abi.ColSourceName, "utf8", true, false, false}
	cqID := col{abi.ColID, "utf8", false, false, true}
	id := col{"id", "int64", false, true, false}
	name := col{"name", "utf8", true, false, false}
	with := func(c col, f func(*col)) col { f(&c); return c }

	tests := []struct {
		name string
		in   *arrow.Schema
		o    Options
		want []col
	}{
		{"default", source(), Options{}, []col{syncTime, sourceName, cqID, id, name}},
		{"overwrite", source(), Options{WriteMode: abi.WriteModeOverwrite}, []col{syncTime, sourceName, cqID, id, name}},
		{"append strips pk and unique", source(), Options{WriteMode: abi.WriteModeAppend},
			[]col{syncTime, sourceName, with(cqID, func(c *col) { c.uniq = false }), with(id, func(c *col) { c.pk = false }), name}},
		{"cq-id-only", source(), Options{PKMode: abi.PKModeCQIDOnly},
			[]col{syncTime, sourceName, with(cqID, func(c *col) { c.pk = true }), with(id, func(c *col) { c.pk = false }), name}},
		{"cq-id-only ignored in append", source(), Options{WriteMode: abi.WriteModeAppend, PKMode: abi.PKModeCQIDOnly},
			[]col{syncTime, sourceName, with(cqID, func(c *col) { c.uniq = false }), with(id, func(c *col) { c.pk = false }), name}},
		{"sync group overwrite joins pk", source(), Options{WriteMode: abi.WriteModeOverwrite, SyncGroupID: "g"},
			[]col{syncTime, sourceName, {abi.ColSyncGroupID, "utf8", false, true, false}, cqID, id, name}},
		{"sync group append", source(), Options{WriteMode: abi.WriteModeAppend, SyncGroupID: "g"},
			[]col{syncTime, sourceName, {abi.ColSyncGroupID, "utf8", false, false, false},
				with(cqID, func(c *col) { c.uniq = false }), with(id, func(c *col) { c.pk = false }), name}},
		{"sync group cq-id-only", source(), Options{WriteMode: abi.WriteModeOverwrite, PKMode: abi.PKModeCQIDOnly, SyncGroupID: "g"},
			[]col{syncTime, sourceName, {abi.ColSyncGroupID, "utf8", false, false, false},
				with(cqID, func(c *col) { c.pk = true }), with(id, func(c *col) { c.pk = false }), name}},
		{"sync group no pk table", arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true}}, tableMeta("logs")),
			Options{WriteMode: abi.WriteModeOverwrite, SyncGroupID: "g"},
			[]col{syncTime, sourceName, {abi.ColSyncGroupID, "utf8", false, false, false}, {"v", "utf8", true, false, false}}},
		{"internal columns already present keep their place",
			arrow.NewSchema([]arrow.Field{
				{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
				{Name: abi.ColSourceName, Type: arrow.BinaryTypes.String},
				{Name: abi.ColSyncTime, Type: SyncTimeType},
			}, tableMeta("t")), Options{},
			[]col{id, {abi.ColSourceName, "utf8", false, false, false}, {abi.ColSyncTime, "timestamp[us, tz=UTC]", false, false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Transform(tt.in, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(out); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n%v\nwant\n%v", got, tt.want)
			}
			if !out.Metadata().Equal(tt.in.Metadata()) {
				t.Errorf("schema metadata %v, want %v", out.Metadata(), tt.in.Metadata())
			}
			if got := TableName(out); got != TableName(tt.in) {
				t.Errorf("table name %q", got)
			}
		})
	}
}

func TestTransformKeepsOtherFieldMetadata(t *testing.T) {
	in := arrow.NewSchema([]arrow.Field{
		{Name: abi.ColID, Type: arrow.BinaryTypes.String, Metadata: unique},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pkUniq},
	}, tableMeta("t"))
	for _, o := range []Options{{WriteMode: abi.WriteModeAppend}, {PKMode: abi.PKModeCQIDOnly}} {
		out, err := Transform(in, o)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := out.FieldsByName("id")
		if v, ok := f[0].Metadata.GetValue(abi.MetaIncremental); !ok || v != abi.MetaTrue {
			t.Errorf("%+v: lost %s: %v", o, abi.MetaIncremental, f[0].Metadata)
		}
	}
	// The input schema is not modified.
	if got := arrowtypes.PrimaryKeys(in); !reflect.DeepEqual(got, []string{"id"}) {
		t.Errorf("input changed: pk %v", got)
	}
}

func TestTransformErrors(t *testing.T) {
	noID := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk}}, tableMeta("accounts"))
	tests := []struct {
		name string
		in   *arrow.Schema
		o    Options
		want string
	}{
		{"cq-id-only without _cq_id", noID, Options{PKMode: abi.PKModeCQIDOnly}, `table "accounts": pk_mode "cq-id-only" needs a _cq_id column`},
		{"no table name", arrow.NewSchema(noID.Fields(), nil), Options{}, "no cq:table_name"},
		{"wrong sync time type", arrow.NewSchema([]arrow.Field{{Name: abi.ColSyncTime, Type: arrow.FixedWidthTypes.Timestamp_ms}}, tableMeta("t")), Options{},
			`table "t": column "_cq_sync_time" has type timestamp[ms, tz=UTC], the host fills it with timestamp[us, tz=UTC]`},
		{"wrong source name type", arrow.NewSchema([]arrow.Field{{Name: abi.ColSourceName, Type: arrow.BinaryTypes.LargeString}}, tableMeta("t")), Options{},
			`column "_cq_source_name" has type large_utf8`},
		{"wrong group id type", arrow.NewSchema([]arrow.Field{{Name: abi.ColSyncGroupID, Type: arrow.PrimitiveTypes.Int64}}, tableMeta("t")), Options{WriteMode: abi.WriteModeAppend, SyncGroupID: "x"},
			`column "_cq_sync_group_id" has type int64`},
		{"duplicate column", arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, tableMeta("t")), Options{},
			`column "a" appears more than once`},
		{"group id with delete stale", source(), Options{SyncGroupID: "x"}, "sync_group_id is not supported with write_mode \"overwrite-delete-stale\""},
		{"bad write mode", source(), Options{WriteMode: "upsert"}, `write_mode "upsert" is not one of`},
		{"bad pk mode", source(), Options{PKMode: "none"}, `pk_mode "none" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Transform(tt.in, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// cq-id-only without _cq_id is fine in append mode, which has no primary key.
	if _, err := Transform(noID, Options{WriteMode: abi.WriteModeAppend, PKMode: abi.PKModeCQIDOnly}); err != nil {
		t.Error(err)
	}
}

// sourceRecord builds a record of source() with n rows.
func sourceRecord(t *testing.T, mem memory.Allocator, s *arrow.Schema, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	for i := range n {
		for j, f := range s.Fields() {
			switch f.Type.ID() {
			case arrow.STRING:
				b.Field(j).(*array.StringBuilder).Append(f.Name + "-" + string(rune('a'+i)))
			case arrow.INT64:
				b.Field(j).(*array.Int64Builder).Append(int64(i))
			case arrow.TIMESTAMP:
				b.Field(j).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			default:
				t.Fatalf("type %s", f.Type)
			}
		}
	}
	return b.NewRecordBatch()
}

func TestAppender(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	syncTime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	for _, o := range []Options{
		{SourceName: "aws", SyncTime: syncTime},
		{WriteMode: abi.WriteModeOverwrite, SourceName: "gcp", SyncGroupID: "2024-05-06", SyncTime: syncTime},
		{WriteMode: abi.WriteModeAppend, PKMode: abi.PKModeCQIDOnly, SourceName: "", SyncGroupID: "g", SyncTime: syncTime},
	} {
		in := source()
		out, err := Transform(in, o)
		if err != nil {
			t.Fatal(err)
		}
		app, err := NewAppender(out, o, mem)
		if err != nil {
			t.Fatal(err)
		}
		if app.Schema() != out {
			t.Error("Schema() is not the given schema")
		}
		for _, n := range []int{0, 1, 5} {
			rec := sourceRecord(t, mem, in, n)
			got, err := app.Apply(rec)
			if err != nil {
				t.Fatal(err)
			}
			if got.Schema() != out || got.NumRows() != int64(n) {
				t.Fatalf("schema %v rows %d", got.Schema(), got.NumRows())
			}
			wantTS, _ := arrow.TimestampFromTime(syncTime.UTC().Truncate(time.Microsecond), arrow.Microsecond)
			checkConst(t, got, abi.ColSyncTime, func(a arrow.Array, i int) bool { return a.(*array.Timestamp).Value(i) == wantTS })
			checkConst(t, got, abi.ColSourceName, func(a arrow.Array, i int) bool { return a.(*array.String).Value(i) == o.SourceName })
			if o.SyncGroupID != "" {
				checkConst(t, got, abi.ColSyncGroupID, func(a arrow.Array, i int) bool { return a.(*array.String).Value(i) == o.SyncGroupID })
			} else if out.HasField(abi.ColSyncGroupID) {
				t.Error("group id column without a group id")
			}
			// The other columns are the input's arrays, shared, not copied.
			for i, f := range in.Fields() {
				j := out.FieldIndices(f.Name)[0]
				if got.Column(j) != rec.Column(i) {
					t.Errorf("column %q was copied", f.Name)
				}
			}
			rec.Release()
			// The result keeps the shared columns alive after the input is released.
			if n > 0 && got.Column(out.FieldIndices("name")[0]).(*array.String).Value(0) != "name-a" {
				t.Error("shared column lost after input release")
			}
			got.Release()
		}
	}
}

func checkConst(t *testing.T, rec arrow.RecordBatch, name string, ok func(arrow.Array, int) bool) {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %q: %d matches", name, len(idx))
	}
	a := rec.Column(idx[0])
	if a.Len() != int(rec.NumRows()) || a.NullN() != 0 {
		t.Fatalf("column %q: len %d nulls %d", name, a.Len(), a.NullN())
	}
	for i := range a.Len() {
		if !ok(a, i) {
			t.Fatalf("column %q row %d: %v", name, i, a)
		}
	}
}

func TestAppenderReplacesInputValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	in := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: abi.ColSourceName, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: abi.ColSyncTime, Type: SyncTimeType, Nullable: true},
	}, tableMeta("t"))
	o := Options{SourceName: "host", SyncTime: time.Unix(100, 0)}
	out, err := Transform(in, o)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewAppender(out, o, mem)
	if err != nil {
		t.Fatal(err)
	}
	rec := sourceRecord(t, mem, in, 3)
	defer rec.Release()
	got, err := app.Apply(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumCols() != 3 {
		t.Fatalf("%d columns", got.NumCols())
	}
	checkConst(t, got, abi.ColSourceName, func(a arrow.Array, i int) bool { return a.(*array.String).Value(i) == "host" })
	checkConst(t, got, abi.ColSyncTime, func(a arrow.Array, i int) bool {
		return a.(*array.Timestamp).Value(i) == arrow.Timestamp(100_000_000)
	})
	if got.Column(0) != rec.Column(0) {
		t.Error("id column copied")
	}
}

func TestAppenderErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	o := Options{SourceName: "s"}
	out, err := Transform(source(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAppender(source(), o, mem); err == nil || !strings.Contains(err.Error(), "has 0 _cq_sync_time columns") {
		t.Errorf("untransformed schema: %v", err)
	}
	if _, err := NewAppender(out, Options{WriteMode: abi.WriteModeAppend, SyncGroupID: "g"}, mem); err == nil || !strings.Contains(err.Error(), "_cq_sync_group_id") {
		t.Errorf("schema without group id: %v", err)
	}
	app, err := NewAppender(out, o, mem)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *arrow.Schema
		want string
	}{
		{"missing column", arrow.NewSchema(source().Fields()[:2], tableMeta("users")), `table "users": record has no column "name"`},
		{"extra column", arrow.NewSchema(append(source().Fields(), arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int64}), tableMeta("users")),
			`record column "extra" is not in the table schema`},
		{"type mismatch", arrow.NewSchema([]arrow.Field{source().Field(0), {Name: "id", Type: arrow.BinaryTypes.String}, source().Field(2)}, tableMeta("users")),
			`record column "id" has type utf8, the table schema says int64`},
		{"internal type mismatch", arrow.NewSchema(append(source().Fields(), arrow.Field{Name: abi.ColSyncTime, Type: arrow.PrimitiveTypes.Int64}), tableMeta("users")),
			`record column "_cq_sync_time" has type int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := sourceRecord(t, mem, tt.in, 2)
			defer rec.Release()
			got, err := app.Apply(rec)
			if err == nil {
				got.Release()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := app.Apply(nil); err == nil {
		t.Error("nil record accepted")
	}
}

func TestAppenderConcurrent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o := Options{SourceName: "s", SyncTime: time.Now()}
	in := source()
	out, _ := Transform(in, o)
	app, err := NewAppender(out, o, mem)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 50 {
				rec := sourceRecord(t, mem, in, 4)
				var got arrow.RecordBatch
				got, err = app.Apply(rec)
				rec.Release()
				if err != nil {
					break
				}
				got.Release()
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
