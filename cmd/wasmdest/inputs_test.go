package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/internal/input"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// columnTypes lists a table's columns as "name type".
func columnTypes(t *testing.T, url, table string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		out = append(out, n+" "+ty)
	}
	return out
}

// TestFileGuestOutputLoadsBack: `wasmdest run` loads the file guest's own
// Parquet (schema as written), CSV and JSON Lines output (schema given as
// an Arrow IPC schema file), compressed or not, from its directory, into
// PostgreSQL with the row counts and column types of loading the original
// Arrow data.
func TestFileGuestOutputLoadsBack(t *testing.T) {
	guests := builtinGuests(t)
	pg, file := filepath.Join(guests, "postgres.wasm"), filepath.Join(guests, "file.wasm")
	inputs := demoInputs(t, 500)
	ref := testenv.PostgresURL(t)
	load := func(t *testing.T, url string, args ...string) {
		t.Helper()
		a := append([]string{"run", "--guest", pg, "--spec", fmt.Sprintf(`{"connection_string": %q}`, url), "--write-mode", "append"}, args...)
		if code, stdout, stderr := wasmdest(t, a...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
	}
	load(t, ref, inputs...)
	// The file guest's Parquet output is also where the CSV and JSON
	// schemas come from: its schema as written, as an Arrow IPC file.
	pqDir := t.TempDir()
	if code, stdout, stderr := wasmdest(t, append([]string{"run", "--guest", file, "--dir", pqDir, "--spec",
		`{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": "parquet"}`}, inputs...)...); code != 0 {
		t.Fatalf("parquet out: %d\n%s\n%s", code, stdout, stderr)
	}
	var schemaArgs []string
	for _, table := range []string{"demo_users", "demo_orders"} {
		ins, err := input.NewOpener(input.Options{}).Open(filepath.Join(pqDir, table))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), table+".schema.arrows")
		f, _ := os.Create(p)
		w := ipc.NewWriter(f, ipc.WithSchema(ins[0].Table().Schema))
		w.Close()
		f.Close()
		for _, in := range ins {
			in.Close()
		}
		schemaArgs = append(schemaArgs, "--schema", p)
	}
	for _, c := range []struct{ format, compression string }{
		{"parquet", ""}, {"parquet", "zstd"}, {"csv", ""}, {"csv", "gzip"}, {"json", ""}, {"json", "zstd"},
	} {
		t.Run(c.format+"-"+c.compression, func(t *testing.T) {
			dir := pqDir
			if c.format != "parquet" || c.compression != "" {
				dir = t.TempDir()
				spec := fmt.Sprintf(`{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": %q, "compression": %q, "batch_size": 300}`, c.format, c.compression)
				if code, stdout, stderr := wasmdest(t, append([]string{"run", "--guest", file, "--dir", dir, "--spec", spec}, inputs...)...); code != 0 {
					t.Fatalf("file out: %d\n%s\n%s", code, stdout, stderr)
				}
			}
			url := testenv.PostgresURL(t)
			args := []string{dir}
			if c.format != "parquet" {
				args = append(schemaArgs, dir)
			}
			load(t, url, args...)
			for _, table := range []string{"demo_users", "demo_orders"} {
				if got, want := count(t, url, table), count(t, ref, table); got != want {
					t.Errorf("%s: %d rows, want %d", table, got, want)
				}
				got, want := columnTypes(t, url, table), columnTypes(t, ref, table)
				if strings.Join(got, ", ") != strings.Join(want, ", ") {
					t.Errorf("%s: columns\n %v\nwant\n %v", table, got, want)
				}
			}
		})
	}
}

// TestSchemaFromCloudQueryTables: `--schema` takes a CloudQuery table
// definition (`cloudquery tables --format json`): a CSV file and a JSON
// Lines file load into PostgreSQL with the types, keys and NOT NULL it
// gives, the relation included.
func TestSchemaFromCloudQueryTables(t *testing.T) {
	pg := filepath.Join(builtinGuests(t), "postgres.wasm")
	dir := t.TempDir()
	def := filepath.Join(dir, "__tables.json")
	os.WriteFile(def, []byte(`[{"name": "repos", "title": "Repos", "description": "",
  "columns": [
    {"name": "_cq_id", "type": "uuid"}, {"name": "_cq_sync_time", "type": "timestamp[us, tz=UTC]"},
    {"name": "id", "type": "int64", "is_primary_key": true},
    {"name": "node_id", "type": "uuid"}, {"name": "owner", "type": "json"},
    {"name": "size", "type": "decimal(19, 10)"}, {"name": "at", "type": "timestamp[us, tz=UTC]"}],
  "relations": [{"name": "branches", "title": "", "description": "",
    "columns": [{"name": "repo_id", "type": "int64", "is_primary_key": true}, {"name": "name", "type": "utf8", "is_primary_key": true},
                {"name": "protected", "type": "bool", "not_null": true}], "relations": []}]}]`), 0o644)
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "repos.csv"), []byte("id,node_id,owner,size,at\n"+
		`1,6ba7b810-9dad-11d1-80b4-00c04fd430c8,"{""a"":1}",12.5,2026-01-02 03:04:05Z`+"\n"+
		`2,,,,`+"\n"), 0o644)
	os.WriteFile(filepath.Join(in, "branches.json"), []byte(`{"repo_id": 1, "name": "main", "protected": true}`+"\n"), 0o644)
	url := testenv.PostgresURL(t)
	if code, stdout, stderr := wasmdest(t, "run", "--guest", pg, "--spec", fmt.Sprintf(`{"connection_string": %q}`, url), "--write-mode", "overwrite",
		"--schema", def, in); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got := strings.Join(columnTypes(t, url, "repos"), ", ")
	for _, want := range []string{"id bigint", "node_id uuid", "owner jsonb", "size numeric", "at timestamp without time zone"} {
		if !strings.Contains(got, want) {
			t.Errorf("repos columns %s: no %q", got, want)
		}
	}
	if got := strings.Join(columnTypes(t, url, "branches"), ", "); !strings.Contains(got, "protected boolean") || !strings.Contains(got, "name text") {
		t.Errorf("branches columns: %s", got)
	}
	if n := count(t, url, "repos"); n != 2 {
		t.Errorf("repos: %d rows, want 2", n)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pk string
	if err := conn.QueryRow(ctx, `SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = 'branches'::regclass AND i.indisprimary`).Scan(&pk); err != nil || pk != "name,repo_id" {
		t.Errorf("branches primary key %q (%v), want name,repo_id", pk, err)
	}
	var size string
	if err := conn.QueryRow(ctx, `SELECT size::text FROM repos WHERE id = 1`).Scan(&size); err != nil || size != "12.5000000000" {
		t.Errorf("size %q (%v), want 12.5000000000", size, err)
	}

	// A bad definition fails naming the file, table, column and type.
	os.WriteFile(def, []byte(`[{"name": "repos", "columns": [{"name": "id", "type": "int65"}]}]`), 0o644)
	code, _, stderr := wasmdest(t, "run", "--guest", pg, "--spec", fmt.Sprintf(`{"connection_string": %q}`, url), "--schema", def, in)
	if code == 0 || !strings.Contains(stderr, `__tables.json: table "repos", column "id": type "int65"`) {
		t.Errorf("bad definition: exit %d, %s", code, stderr)
	}
}
