//go:build !wasip1

package pgtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
)

// TestHostileIdentifiers: table and column names with quotes, spaces,
// unicode, SQL and more than 63 bytes work everywhere and read back.
func TestHostileIdentifiers(t *testing.T) {
	long := strings.Repeat("ü", 40) // 80 bytes: cut at 63 on a character boundary
	tables := []string{
		`Robert"); DROP TABLE students;--`,
		"with space",
		"ünïcödé ☃ 表",
		long + "_table",
		`"`,
	}
	cols := []arrow.Field{
		idPK,
		field(`col"quote`, arrow.BinaryTypes.String, true),
		field("col with space", arrow.PrimitiveTypes.Int64, true),
		field("CamelCase", arrow.BinaryTypes.String, true),
		field("ünï ☃", arrow.BinaryTypes.String, true),
		field(long+"_column", arrow.BinaryTypes.String, true),
		field("select", arrow.BinaryTypes.String, true),
	}
	for _, mode := range []abi.WriteMode{abi.WriteModeOverwriteDeleteStale, abi.WriteModeAppend} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode), spec: `{"schema": "schema \" ☃", "create_performance_indexes": true}`})
			for _, table := range tables {
				r := withInternal(t, rows(t, sourceSchema(table, cols...), 0, 7), e.opts)
				e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
				e.mustWrite(r)
				e.mustWrite(r)
				if d := sameRows(t, []arrow.RecordBatch{r}, e.read(r.Schema())); d != "" && mode != abi.WriteModeAppend {
					t.Fatalf("table %q: %s", table, d)
				}
				if p := e.mustMigrate(r.Schema(), abi.MigrateModeSafe); p.Action != "" {
					t.Fatalf("table %q: second migration %q %v", table, p.Action, p.Changes)
				}
				e.deleteStale(table, e.opts.SyncTime)
			}
			got := e.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = 'schema " ☃' AND c.relkind = 'r' ORDER BY 1`)
			if len(got) != len(tables) {
				t.Fatalf("tables %v, want %d", got, len(tables))
			}
			// The long name is cut as PostgreSQL cuts it: SQL using the
			// full name finds the table.
			var n int64
			if err := e.raw.QueryRow(e.ctx, `SELECT count(*) FROM `+pgx.Identifier{`schema " ☃`, long + "_table"}.Sanitize()).Scan(&n); err != nil || n == 0 {
				t.Fatalf("the long table by its full name: %d rows, %v", n, err)
			}
		})
	}
}

// TestColumnsCollidingAfterTruncation: two names that PostgreSQL would cut
// to the same 63 bytes are refused with a clear error.
func TestColumnsCollidingAfterTruncation(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeAppend)})
	prefix := strings.Repeat("x", 63)
	r := withInternal(t, rows(t, sourceSchema("collide", idPK, field(prefix+"_a", arrow.BinaryTypes.String, true), field(prefix+"_b", arrow.BinaryTypes.String, true)), 0, 1), e.opts)
	var out strings.Builder
	err := e.pool.Call(e.ctx, nil, abi.OpDescribe, abi.TableRequest{Table: "collide"}, host.RecordBody(r.Schema()), &out)
	if err == nil || !strings.Contains(err.Error(), "are the same in PostgreSQL") || !strings.Contains(err.Error(), prefix+"_b") {
		t.Fatalf("got %v, want an error naming the colliding columns", err)
	}
}

// textSchema is a table of one text, one json and one struct column.
func textRecord(t *testing.T, table string, texts []string, jsons []string) arrow.RecordBatch {
	st := arrow.StructOf(field("s", arrow.BinaryTypes.String, true))
	s := sourceSchema(table, idPK, field("text", arrow.BinaryTypes.String, true), field("json", arrowtypes.NewJSONType(), true),
		field("struct", st, true), field("list", arrow.ListOf(arrow.BinaryTypes.String), true))
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i, txt := range texts {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(txt)
		if err := b.Field(2).(*arrowtypes.JSONBuilder).AppendRaw([]byte(jsons[i])); err != nil {
			b.Field(2).(*arrowtypes.JSONBuilder).ExtensionBuilder.Builder.(*array.BinaryBuilder).Append([]byte(jsons[i]))
		}
		sb := b.Field(3).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.StringBuilder).Append(txt)
		lb := b.Field(4).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append(txt)
	}
	return b.NewRecordBatch()
}

// TestNULBytesAreDropped: NUL bytes, which PostgreSQL's text and jsonb
// cannot hold, are dropped from text, from JSON strings (escaped or raw) and
// from strings inside structs and lists; the rest stays.
//
// With type_mapping rich: under the default mapping a struct is text
// holding CloudQuery's JSON, where a NUL inside a string stays escaped
// (\u0000), as CloudQuery writes it.
func TestNULBytesAreDropped(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwrite), spec: `{"type_mapping": "rich"}`})
	r := withInternal(t, textRecord(t, "nul",
		[]string{"a\x00b", "\x00", "plain"},
		[]string{`{"k\u0000ey": "v\u0000al", "esc": "\\u0000 stays"}`, `"\u0000"`, "[\"raw\x00nul\"]"}), e.opts)
	e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	e.mustWrite(r)
	got := e.query(`SELECT text, json::text, struct->>'s', list[1] FROM nul ORDER BY id`)
	want := [][]any{
		{"ab", `{"esc": "\\u0000 stays", "key": "val"}`, "ab", "ab"},
		{"", `""`, "", ""},
		{"plain", `["rawnul"]`, "plain", "plain"},
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("row %d column %d: %q, want %q", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestInvalidUTF8IsAClearError: invalid UTF-8 in text fails the batch with
// an error naming the table, the column and the row, and writes nothing.
func TestInvalidUTF8IsAClearError(t *testing.T) {
	cases := []struct {
		name, column string
		row          string // 1-based
		texts, jsons []string
	}{
		{"text", "text", "2", []string{"ok", "bad \xff\xfe here", "ok"}, []string{"1", "2", "3"}},
		{"json", "json", "3", []string{"ok", "ok", "ok"}, []string{"1", "2", "\"\xc3\x28\""}},
		{"invalid json", "json", "2", []string{"ok", "ok", "ok"}, []string{"1", "{\"a\":", "3"}},
		{"lone surrogate", "json", "1", []string{"ok", "ok", "ok"}, []string{`"\ud800"`, "2", "3"}},
	}
	for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
		for _, c := range cases {
			t.Run(string(mode)+"/"+c.name, func(t *testing.T) {
				e := newEnv(t, envConfig{opts: optsFor(mode)})
				r := withInternal(t, textRecord(t, "utf8", c.texts, c.jsons), e.opts)
				e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
				err := e.write(r)
				if err == nil {
					t.Fatal("invalid data was written")
				}
				wants := []string{`table "utf8"`, `column "` + c.column + `"`, "row " + c.row + " of the batch"}
				if mode == abi.WriteModeOverwrite && c.name != "invalid json" {
					// The primary key, to find the row, for what the guest
					// finds; JSON syntax is the server's to check, and its
					// error names the row and column, with its detail.
					wants = append(wants, "(id=")
				}
				if c.name == "invalid json" {
					wants = append(wants, "The input string ended unexpectedly")
				}
				for _, want := range wants {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				var ce *host.CallError
				if !errors.As(err, &ce) || ce.Trapped {
					t.Errorf("error %#v: want a plain CallError", err)
				}
				if n := e.count("utf8"); n != 0 {
					t.Fatalf("%d rows written by the failed batch, want none", n)
				}
				// The instance goes on working.
				ok := withInternal(t, textRecord(t, "utf8", []string{"ok"}, []string{"1"}), e.opts)
				e.mustWrite(ok)
			})
		}
	}
}

// TestJSONNullIsNotSQLNull: a json value that is JSON null reads back as
// such, distinct from a NULL column.
func TestJSONNullIsNotSQLNull(t *testing.T) {
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeAppend)})
	s := sourceSchema("jsonnull", idPK, field("json", arrowtypes.NewJSONType(), true))
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	jb := b.Field(1).(*arrowtypes.JSONBuilder)
	if err := jb.AppendRaw([]byte("null")); err != nil {
		t.Fatal(err)
	}
	jb.AppendNull()
	r := withInternal(t, b.NewRecordBatch(), e.opts)
	e.mustMigrate(r.Schema(), abi.MigrateModeSafe)
	e.mustWrite(r)
	if got := e.query(`SELECT json IS NULL, json::text FROM jsonnull ORDER BY id`); got[0][0] != false || got[0][1] != "null" || got[1][0] != true {
		t.Fatalf("got %v", got)
	}
	if d := sameRows(t, []arrow.RecordBatch{r}, e.read(r.Schema())); d != "" {
		t.Fatal(d)
	}
}
