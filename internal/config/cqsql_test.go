package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wasmdest/wasmdest/internal/config"
)

// guestSchema reads the spec schema of a builtin guest.
func guestSchema(t *testing.T, guest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "guests", guest, "spec.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestYAMLCloudQuerySQLPlugins: CloudQuery's sqlite, mysql and duckdb
// destinations run as the builtin guests, their connection_string becoming
// the guest's path (in the destination's directory) or dsn, and the result
// passes the guest's own spec schema.
func TestYAMLCloudQuerySQLPlugins(t *testing.T) {
	t.Setenv("WASMDEST_TEST_MYSQL_CS", "u:p@tcp(db:3306)/sync")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := mustLoad(t, "spec.yml", `kind: destination
spec:
  name: lite
  path: cloudquery/sqlite
  version: v2.10.0
  spec:
    connection_string: ./data/db.sqlite
    batch_size: 500
---
kind: destination
spec:
  name: my
  path: cloudquery/mysql
  spec:
    connection_string: ${WASMDEST_TEST_MYSQL_CS}
---
kind: destination
spec:
  name: duck
  path: cloudquery/duckdb
  spec:
    connection_string: /var/lib/sync/example.db
    debug: true
---
kind: destination
spec:
  name: duckdir
  path: cloudquery/duckdb
  directory: out
  spec:
    connection_string: example.db
---
kind: destination
spec:
  name: own
  path: cloudquery/sqlite
  spec:
    path: own.sqlite
`)
	want := []struct {
		guest, dir string
		spec       map[string]any
	}{
		{config.BuiltinSQLite, filepath.Join(wd, "data"), map[string]any{"path": "db.sqlite", "batch_size": int64(500)}},
		{config.BuiltinMySQL, "", map[string]any{"dsn": "u:p@tcp(db:3306)/sync"}},
		{config.BuiltinDuckDB, "/var/lib/sync", map[string]any{"path": "example.db"}},
		{config.BuiltinDuckDB, filepath.Join(filepath.Dir(f.Path), "out"), map[string]any{"path": "example.db"}},
		{config.BuiltinSQLite, "", map[string]any{"path": "own.sqlite"}},
	}
	if len(f.Destinations) != len(want) {
		t.Fatalf("got %d destinations: %+v", len(f.Destinations), f.Destinations)
	}
	for i, w := range want {
		d := f.Destinations[i]
		if d.Registry != config.RegistryBuiltin || d.Path != w.guest || d.Directory != w.dir || !reflect.DeepEqual(d.Spec, w.spec) {
			t.Errorf("destination %s: registry %s, path %s, directory %q, spec %#v; want builtin %s, directory %q, spec %#v",
				d.Name, d.Registry, d.Path, d.Directory, d.Spec, w.guest, w.dir, w.spec)
		}
		if err := d.ValidateSpec(guestSchema(t, w.guest)); err != nil {
			t.Errorf("destination %s: the %s guest's schema refuses the translated spec: %v", d.Name, w.guest, err)
		}
	}
	wantWarnings := []string{
		f.Path + `:5: destination "lite": version "v2.10.0" is ignored: cloudquery/sqlite runs as wasmdest's builtin sqlite guest`,
		f.Path + `:23: destination "duck": spec.debug is ignored: cloudquery/duckdb runs as wasmdest's builtin duckdb guest, which has no debug logging of DuckDB`,
	}
	if !reflect.DeepEqual(f.Warnings, wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", f.Warnings, wantWarnings)
	}
}

func TestYAMLCloudQuerySQLErrors(t *testing.T) {
	const head = "kind: destination\nspec:\n  name: db\n"
	runErrCases(t, "spec.yml", []errCase{
		{
			name:    "connection_string not a string",
			content: head + "  path: cloudquery/sqlite\n  spec:\n    connection_string: 5\n",
			want:    []string{`FILE:6: destination "db": spec.connection_string must be a non-empty string, not an integer`},
		},
		{
			name:    "both connection_string and dsn",
			content: head + "  path: cloudquery/mysql\n  spec:\n    dsn: a@/b\n    connection_string: a@/b\n",
			want:    []string{`FILE:7: destination "db": spec.connection_string and spec.dsn both name the database: keep one`},
		},
		{
			name:    "in-memory database",
			content: head + "  path: cloudquery/duckdb\n  spec:\n    connection_string: \":memory:\"\n",
			want:    []string{`FILE:6: destination "db": spec.connection_string ":memory:": wasmdest takes the path of a database file here`},
		},
		{
			name:    "URI parameters",
			content: head + "  path: cloudquery/sqlite\n  spec:\n    connection_string: \"file:x.db?cache=shared\"\n",
			want:    []string{`spec.connection_string "file:x.db?cache=shared": wasmdest takes the path of a database file here`},
		},
	})
}
