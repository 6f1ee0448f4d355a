package config_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
)

// A CloudQuery spec file as CloudQuery users write it.
const cloudQuerySpec = `kind: source
spec:
  name: aws
  path: cloudquery/aws
  registry: cloudquery
  version: "v27.0.0"
  tables: ["aws_s3_buckets"]
  destinations: ["postgresql", "files"]
---
kind: destination
spec:
  name: "postgresql"
  path: "cloudquery/postgresql"
  registry: "cloudquery"
  version: "v8.0.1"
  write_mode: "overwrite"
  migrate_mode: forced
  pk_mode: cq-id-only
  sync_group_id: "{{SYNC_ID}}"
  send_sync_summary: true
  spec:
    connection_string: "${WASMDEST_TEST_PG_URL}"
    batch_size: 10000
    batch_timeout: 30s
---
kind: destination
spec:
  name: files
  path: cloudquery/file
  version: v5.0.0
  spec:
    path: "out/{{TABLE}}/{{UUID}}.{{FORMAT}}"
    format: csv
    format_spec:
      delimiter: ";"
---
kind: destination
spec:
  name: custom
  registry: local
  path: ./guests/custom.wasm
  version: v0.1.0
`

func TestYAMLCloudQuerySpec(t *testing.T) {
	t.Setenv("WASMDEST_TEST_PG_URL", "postgres://localhost/db")
	f, path := mustLoad(t, "spec.yml", cloudQuerySpec)
	if len(f.Destinations) != 3 {
		t.Fatalf("got %d destinations: %+v", len(f.Destinations), f.Destinations)
	}
	pg, files, custom := f.Destinations[0], f.Destinations[1], f.Destinations[2]
	want := config.Destination{
		Name: "postgresql", Registry: config.RegistryBuiltin, Path: config.BuiltinPostgres,
		WriteMode: abi.WriteModeOverwrite, MigrateMode: abi.MigrateModeForced, PKMode: abi.PKModeCQIDOnly,
		SyncGroupID: "{{SYNC_ID}}", SendSyncSummary: true, File: path, Line: 10,
	}
	got := pg
	got.Spec = nil
	if !equalExported(got, want) {
		t.Errorf("postgresql:\n got %+v\nwant %+v", got, want)
	}
	wantSpec := map[string]any{"connection_string": "postgres://localhost/db", "batch_size": int64(10000), "batch_timeout": "30s"}
	if !reflect.DeepEqual(pg.Spec, wantSpec) {
		t.Errorf("postgresql spec = %#v, want %#v", pg.Spec, wantSpec)
	}
	if files.Registry != config.RegistryBuiltin || files.Path != config.BuiltinFile || files.Version != "" ||
		files.WriteMode != abi.WriteModeOverwriteDeleteStale || files.Line != 26 {
		t.Errorf("files: %+v", files)
	}
	if d := files.Spec["format_spec"]; !reflect.DeepEqual(d, map[string]any{"delimiter": ";"}) {
		t.Errorf("files format_spec = %#v", d)
	}
	if custom.Registry != config.RegistryLocal || custom.Path != filepath.Join(filepath.Dir(path), "guests/custom.wasm") || custom.Version != "v0.1.0" {
		t.Errorf("custom: %+v", custom)
	}

	wantWarnings := []string{
		path + `:1: skipped the kind: source document (name "aws"): wasmdest reads only destinations`,
		path + `:15: destination "postgresql": version "v8.0.1" is ignored: cloudquery/postgresql runs as wasmdest's builtin postgres guest`,
		path + `:30: destination "files": version "v5.0.0" is ignored: cloudquery/file runs as wasmdest's builtin file guest`,
	}
	if !reflect.DeepEqual(f.Warnings, wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", f.Warnings, wantWarnings)
	}
}

func TestYAMLFeatures(t *testing.T) {
	f, _ := mustLoad(t, "spec.yaml", `# comment ${WASMDEST_TEST_UNSET_COMMENT}
---
---
kind: destination # ${WASMDEST_TEST_UNSET_COMMENT}
spec:
  name: pg
  path: cloudquery/postgresql
  spec:
    base: &base
      user: u
      port: 5432
    conn:
      <<: *base
      port: 6543
    when: 2001-12-14
    big: 18446744073709551615
    neg: -3
    f: 1.5
    nothing: ~
    text: |
      one
      two
`)
	if len(f.Destinations) != 1 {
		t.Fatalf("got %+v", f)
	}
	spec := f.Destinations[0].Spec
	want := map[string]any{
		"base":    map[string]any{"user": "u", "port": int64(5432)},
		"conn":    map[string]any{"user": "u", "port": int64(6543)},
		"when":    "2001-12-14",
		"big":     uint64(18446744073709551615),
		"neg":     int64(-3),
		"f":       1.5,
		"nothing": nil,
		"text":    "one\ntwo\n",
	}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec:\n got %#v\nwant %#v", spec, want)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings: %q", f.Warnings)
	}
}

func TestYAMLErrors(t *testing.T) {
	const head = "kind: destination\nspec:\n  name: pg\n"
	runErrCases(t, "spec.yml", []errCase{
		{
			name:    "github registry",
			content: head + "  registry: github\n  path: cloudquery/postgresql\n",
			want:    []string{`FILE:4: destination "pg": registry "github" is not supported; supported registries: cloudquery (with path cloudquery/postgresql, cloudquery/file, cloudquery/sqlite, cloudquery/mysql or cloudquery/duckdb) and local (path of a .wasm file)`},
		},
		{
			name:    "grpc registry",
			content: head + "  registry: grpc\n  path: localhost:7777\n",
			want:    []string{`FILE:4: destination "pg": registry "grpc" is not supported`},
		},
		{
			name:    "docker registry",
			content: head + "  registry: docker\n  path: ghcr.io/x/y\n",
			want:    []string{`FILE:4: destination "pg": registry "docker" is not supported`},
		},
		{
			name:    "builtin registry is a TOML-only name",
			content: head + "  registry: builtin\n  path: postgres\n",
			want:    []string{`FILE:4: destination "pg": registry "builtin" is not supported`},
		},
		{
			name:    "cloudquery plugin not shipped",
			content: head + "  path: cloudquery/snowflake\n  version: v1.0.0\n",
			want:    []string{`FILE:4: destination "pg": path "cloudquery/snowflake" is not a plugin wasmdest ships; with registry cloudquery the supported paths are cloudquery/postgresql (the builtin postgres guest), cloudquery/file (the builtin file guest), cloudquery/sqlite (the builtin sqlite guest), cloudquery/mysql (the builtin mysql guest), cloudquery/duckdb (the builtin duckdb guest)`},
			not:     []string{"version"},
		},
		{
			name:    "local path not wasm",
			content: head + "  registry: local\n  path: ./plugin\n",
			want:    []string{`FILE:5: destination "pg": path "./plugin" of a local guest must name a .wasm file`},
		},
		{
			name:    "unknown key",
			content: head + "  path: cloudquery/postgresql\n  batch_size: 100\n  tables: [a]\n",
			want: []string{
				`FILE:5: destination "pg": unknown key "batch_size" (batch_size belongs in the nested spec); allowed keys: name, registry, path, version, write_mode, migrate_mode, pk_mode, sync_group_id, send_sync_summary, directory, spec`,
				`FILE:6: destination "pg": unknown key "tables"`,
			},
		},
		{
			name:    "unknown top-level key",
			content: "kind: destination\nspecs:\n  name: pg\n",
			want:    []string{`FILE:2: document 1: unknown top-level key "specs"; allowed keys: kind, spec`},
		},
		{
			name:    "missing kind",
			content: "spec:\n  name: pg\n",
			want:    []string{`FILE:1: document 1: kind is required (destination or source)`},
		},
		{
			name:    "transformer",
			content: "kind: transformer\nspec:\n  name: t\n",
			want:    []string{`FILE:1: kind "transformer" is not supported; wasmdest reads kind: destination documents and skips kind: source documents`},
		},
		{
			name:    "destination without spec",
			content: "kind: destination\n",
			want:    []string{`FILE:1: document 1: kind: destination needs a spec`},
		},
		{
			name:    "not a mapping",
			content: "- a\n- b\n",
			want:    []string{`FILE:1: document 1 must be a mapping with the keys kind and spec`},
		},
		{
			name:    "write_mode",
			content: head + "  path: cloudquery/postgresql\n  write_mode: upsert\n",
			want:    []string{`FILE:5: destination "pg": write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`},
		},
		{
			name:    "wrong types",
			content: head + "  path: cloudquery/postgresql\n  send_sync_summary: \"true\"\n  spec: [1]\n  pk_mode: {a: 1}\n",
			want: []string{
				`FILE:5: destination "pg": send_sync_summary must be a boolean (true or false), not a string`,
				`FILE:6: destination "pg": spec must be a mapping, not a sequence`,
				`FILE:7: destination "pg": pk_mode must be a string, not a mapping`,
			},
		},
		{
			name: "duplicate names across documents",
			content: head + "  path: cloudquery/postgresql\n---\n" +
				"kind: destination\nspec:\n  name: pg\n  path: cloudquery/file\n",
			want: []string{`FILE:8: destination "pg": name "pg" is already used by the destination at line 3; names must be unique`},
		},
		{
			name:    "sync_group_id with overwrite-delete-stale",
			content: head + "  path: cloudquery/postgresql\n  sync_group_id: x\n",
			want:    []string{`FILE:5: destination "pg": sync_group_id cannot be used with the default write_mode (overwrite-delete-stale)`, `set write_mode to overwrite or append`},
		},
		{
			name: "missing environment variable",
			content: head + "  path: cloudquery/postgresql\n  spec:\n    # ${WASMDEST_TEST_UNSET_C}\n" +
				"    text: |\n      a\n      b ${WASMDEST_TEST_UNSET_5}\n    # ${WASMDEST_TEST_UNSET_C}\n    list:\n      - ${WASMDEST_TEST_UNSET_6}\n",
			want: []string{
				`FILE:9: destination "pg": spec.text: placeholder ${WASMDEST_TEST_UNSET_5}: environment variable "WASMDEST_TEST_UNSET_5" is not set`,
				`FILE:12: destination "pg": spec.list[0]: placeholder ${WASMDEST_TEST_UNSET_6}`,
			},
			not: []string{"WASMDEST_TEST_UNSET_C"},
		},
		{
			name:    "missing file",
			content: head + "  path: cloudquery/postgresql\n  spec:\n    password: ${file:pw.txt}\n",
			want:    []string{`FILE:6: destination "pg": spec.password: placeholder ${file:pw.txt}: cannot read file "pw.txt"`},
		},
		{
			name:    "syntax error",
			content: "kind: destination\nspec:\n  name: pg\n   path: x\n",
			want:    []string{`FILE:4: invalid YAML: `},
		},
		{
			name:    "duplicate key",
			content: head + "  path: cloudquery/postgresql\n  path: cloudquery/file\n",
			want:    []string{`FILE:5: document 1: key "path" is defined twice (first at line 4)`},
		},
		{
			name:    "no destinations",
			content: "kind: source\nspec:\n  name: aws\n",
			want:    []string{`FILE: no destinations: the file has no kind: destination document`},
		},
		{
			name:    "NaN",
			content: head + "  path: cloudquery/postgresql\n  spec:\n    x: .nan\n",
			want:    []string{`FILE:6: destination "pg": spec.x: NaN cannot be given to a guest`},
		},
		{
			name:    "batch_timeout of wrong type",
			content: head + "  path: cloudquery/postgresql\n  spec:\n    batch_timeout: [1]\n",
			want:    []string{`FILE:6: destination "pg": spec.batch_timeout: must be a duration string such as "60s" or a whole number of seconds, not an array`},
		},
	})
}

// Aliases that contain themselves or expand enormously are refused.
func TestYAMLAliasBombs(t *testing.T) {
	const head = "kind: destination\nspec:\n  name: x\n  path: cloudquery/file\n"
	bomb := head + "  spec:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += "    " + n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	runErrCases(t, "bomb.yml", []errCase{
		{name: "cycle", content: head + "  spec: &s\n    self: *s\n", want: []string{"FILE:6: document 1: alias *s refers to a value that contains it"}},
		{name: "billion laughs", content: bomb, want: []string{"too many values"}},
	})
}

// Source documents are skipped without reading them: their placeholders and
// keys are not checked.
func TestYAMLSourceSkipped(t *testing.T) {
	f, _ := mustLoad(t, "s.yml", "kind: source\nspec:\n  name: x\n  password: ${WASMDEST_TEST_UNSET_7}\n  anything: [1]\n---\n"+
		"kind: destination\nspec:\n  name: pg\n  path: cloudquery/postgresql\n")
	if len(f.Destinations) != 1 || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], `skipped the kind: source document (name "x")`) {
		t.Errorf("got %+v", f)
	}
}
