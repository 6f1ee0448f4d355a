package input

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// TestParseArrowTypeRoundTrip parses what arrow-go prints for every type of
// the reference test table (and a few more) back to the same type.
func TestParseArrowTypeRoundTrip(t *testing.T) {
	scalars := []arrow.DataType{
		arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Uint64,
		arrow.FixedWidthTypes.Float16, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString, arrow.BinaryTypes.Binary, arrow.BinaryTypes.LargeBinary,
		arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Date64,
		arrow.FixedWidthTypes.Time32s, arrow.FixedWidthTypes.Time32ms, arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Time64ns,
		arrow.FixedWidthTypes.Timestamp_s, arrow.FixedWidthTypes.Timestamp_ms, arrow.FixedWidthTypes.Timestamp_us, arrow.FixedWidthTypes.Timestamp_ns,
		&arrow.TimestampType{Unit: arrow.Microsecond},
		arrow.FixedWidthTypes.Duration_s, arrow.FixedWidthTypes.Duration_ms, arrow.FixedWidthTypes.Duration_us, arrow.FixedWidthTypes.Duration_ns,
		arrow.FixedWidthTypes.MonthInterval, arrow.FixedWidthTypes.DayTimeInterval, arrow.FixedWidthTypes.MonthDayNanoInterval,
		&arrow.Decimal128Type{Precision: 19, Scale: 10}, &arrow.Decimal256Type{Precision: 50, Scale: 2},
		&arrow.FixedSizeBinaryType{ByteWidth: 16},
		arrowtypes.NewUUIDType(), arrowtypes.NewJSONType(), arrowtypes.NewInetType(), arrowtypes.NewMACType(),
	}
	all := append([]arrow.DataType{}, scalars...)
	var fields []arrow.Field
	for i, dt := range scalars {
		all = append(all, arrow.ListOf(dt))
		fields = append(fields, arrow.Field{Name: "f" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Type: dt, Nullable: i%2 == 0})
	}
	all = append(all, arrow.StructOf(fields...), arrow.LargeListOf(arrow.PrimitiveTypes.Int64),
		arrow.FixedSizeListOfNonNullable(3, arrow.PrimitiveTypes.Int32), arrow.ListOf(arrow.StructOf(fields[:3]...)),
		arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64))
	for _, dt := range all {
		got, err := ParseArrowType(dt.String())
		if err != nil {
			t.Errorf("%s: %v", dt, err)
			continue
		}
		if !arrow.TypeEqual(got, dt) {
			t.Errorf("%s parsed as %s", dt, got)
		}
	}
	for _, s := range []string{"uuid", "json", "inet", "mac"} {
		if got, err := ParseArrowType(s); err != nil || got.String() != "extension<"+s+">" {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	for _, bad := range []string{"int65", "list<item: int64", "timestamp[xs]", "struct<a int64>", "decimal(3)", "extension<geo>"} {
		if _, err := ParseArrowType(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an error naming it", bad, err)
		}
	}
}

// cqTablesJSON is a table definition as `cloudquery tables --format json`
// writes it (__tables.json), with a relation.
const cqTablesJSON = `[
  {
    "name": "github_repositories",
    "title": "GitHub Repositories",
    "description": "Repositories",
    "columns": [
      {"name": "_cq_id", "type": "uuid"},
      {"name": "_cq_parent_id", "type": "uuid"},
      {"name": "_cq_source_name", "type": "utf8"},
      {"name": "_cq_sync_time", "type": "timestamp[us, tz=UTC]"},
      {"name": "id", "type": "int64", "is_primary_key": true},
      {"name": "name", "type": "utf8"},
      {"name": "topics", "type": "list<item: utf8, nullable>"},
      {"name": "node_id", "type": "uuid"},
      {"name": "owner", "type": "json"},
      {"name": "ip", "type": "inet"},
      {"name": "mac", "type": "mac"},
      {"name": "updated_at", "type": "timestamp[us, tz=UTC]", "is_incremental_key": true},
      {"name": "size", "type": "decimal(19, 10)"}
    ],
    "relations": [
      {
        "name": "github_repository_branches",
        "title": "Branches",
        "description": "",
        "columns": [
          {"name": "repository_id", "type": "int64", "is_primary_key": true},
          {"name": "branch", "type": "utf8", "is_primary_key": true, "unique": true},
          {"name": "protected", "type": "bool", "not_null": true}
        ],
        "relations": []
      }
    ]
  }
]
`

// TestCloudQueryTablesSchema reads a CSV and a JSON Lines file with the
// schemas of a CloudQuery table definition file.
func TestCloudQueryTablesSchema(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "__tables.json")
	os.WriteFile(def, []byte(cqTablesJSON), 0o644)
	data, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	if !IsCloudQueryTables(data) {
		t.Fatal("not recognised as a CloudQuery table definition")
	}
	schemas, err := ParseCloudQueryTables(def, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(schemas) != 2 {
		t.Fatalf("%d schemas, want 2 (the table and its relation)", len(schemas))
	}
	repo := schemas[0]
	if n, _ := repo.Metadata().GetValue("cq:table_name"); n != "github_repositories" || repo.NumFields() != 9 {
		t.Fatalf("first schema: %s", repo)
	}
	id, _ := repo.FieldsByName("id")
	if !arrowtypes.IsPrimaryKey(id[0]) || id[0].Nullable {
		t.Errorf("id: %s, want a non-nullable primary key", id[0])
	}
	up, _ := repo.FieldsByName("updated_at")
	if v, _ := up[0].Metadata.GetValue("cq:extension:incremental"); v != "true" {
		t.Errorf("updated_at: %s, want incremental", up[0])
	}
	br := schemas[1]
	b, _ := br.FieldsByName("branch")
	p, _ := br.FieldsByName("protected")
	if !arrowtypes.IsUnique(b[0]) || p[0].Nullable {
		t.Errorf("branches: %s", br)
	}

	csvPath := filepath.Join(dir, "github_repositories.csv")
	os.WriteFile(csvPath, []byte("id,name,topics,node_id,owner,ip,mac,updated_at,size\n"+
		`7,wasmdest,,6ba7b810-9dad-11d1-80b4-00c04fd430c8,"{""login"":""x""}",10.0.0.1/8,01:02:03:04:05:06,2026-01-02 03:04:05Z,12.5`+"\n"), 0o644)
	jsonPath := filepath.Join(dir, "github_repository_branches.json")
	os.WriteFile(jsonPath, []byte(`{"repository_id": 7, "branch": "main", "protected": true}`+"\n"), 0o644)
	o := NewOpener(Options{Schemas: schemas})
	for _, c := range []struct {
		path string
		want *arrow.Schema
	}{{csvPath, repo}, {jsonPath, br}} {
		ins, err := o.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		in := ins[0]
		if !in.Table().Schema.Equal(c.want) {
			t.Errorf("%s: schema %s, want %s", c.path, in.Table().Schema, c.want)
		}
		rec, err := in.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != 1 {
			t.Errorf("%s: %d rows", c.path, rec.NumRows())
		}
		if c.path == csvPath {
			if got := rec.Column(8).(*array.Decimal128).ValueStr(0); got != "12.5" {
				t.Errorf("size = %s, want 12.5", got)
			}
			if got := rec.Column(3).ValueStr(0); got != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
				t.Errorf("node_id = %s", got)
			}
		}
		rec.Release()
		in.Close()
	}

	for _, bad := range []struct{ doc, want string }{
		{`[{"name": "t", "columns": [{"name": "a", "type": "int65"}]}]`, `table "t", column "a": type "int65"`},
		{`[{"columns": [{"name": "a", "type": "int64"}]}]`, `no "name"`},
		{`[{"name": "t", "columns": [{"name": "a", "type": "int64"}, {"name": "a", "type": "utf8"}]}]`, `"a" is given twice`},
		{`{"name": "t", "columns": 3}`, "not a CloudQuery table definition"},
	} {
		if _, err := ParseCloudQueryTables("x.json", []byte(bad.doc)); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "x.json") {
			t.Errorf("%s: %v, want an error with %q", bad.doc, err, bad.want)
		}
	}
}
