package config_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
)

var tomlSeeds = []string{
	`[[destination]]
name = "pg"
path = "postgres"
write_mode = "overwrite"
migrate_mode = "forced"
pk_mode = "cq-id-only"
sync_group_id = "{{YEAR}}-{{MONTH}}-{{DAY}}"
send_sync_summary = true
version = "v1.2.3-rc.1+build.5"

[destination.spec]
connection_string = "${HOME}"
token = "${file:secret}"
batch_size = 1000
batch_size_bytes = 1048576
batch_timeout = "30s"
`,
	`# two destinations
[[destination]]
name = "files"
registry = "local"
path = "guests/file.wasm"
[destination.spec]
path = "out/{{TABLE}}.csv"
format = "csv"
[destination.spec.format_spec]
delimiter = ";"
[[destination.spec.extra]]
a = 1
[[destination.spec.extra]]
a = """
multi ${HOME}
line"""

[[destination]]
name = "pg"
path = "postgres"
spec = { connection_string = 'literal ${X}', tables = ["a", "b"], when = 1979-05-27T07:32:00Z }
`,
	`destination = [ { name = "a", path = "file" }, { name = "b", path = "postgres", write_mode = "append" } ]`,
	`[[destination]]
name = "dup"
path = "file"
[[destination]]
name = "dup"
path = "mysql"
write_mode = "upsert"
`,
	`[[destination]]
"name" = "quoted"
'path' = "file"
spec.batch_timeout = 60
spec."dotted.key" = "v"
`,
}

var yamlSeeds = []string{
	`kind: source
spec:
  name: aws
  path: cloudquery/aws
  version: v1.0.0
  destinations: [postgresql]
---
kind: destination
spec:
  name: postgresql
  path: cloudquery/postgresql
  registry: cloudquery
  version: v8.0.0
  write_mode: overwrite
  sync_group_id: "{{SYNC_ID}}"
  spec:
    connection_string: ${HOME}
    batch_size: 10000
    batch_timeout: 30s
`,
	`kind: destination
spec:
  name: files
  path: cloudquery/file
  spec:
    base: &base {format: csv}
    other:
      <<: *base
      path: out
    text: |
      ${HOME}
    when: 2001-12-14
`,
	`kind: destination
spec:
  name: custom
  registry: local
  path: ./x.wasm
  version: v0.1.0
  migrate_mode: forced
  pk_mode: cq-id-only
  send_sync_summary: true
---
kind: destination
spec:
  name: custom
  registry: github
  path: cloudquery/postgresql
`,
	`a: &a [*a]`,
	"kind: destination\nspec:\n  name: x\n  path: cloudquery/file\n  spec: {batch_size: .nan}\n",
}

func FuzzParseTOML(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	writeFile(f, dir, "secret", "value\n")
	path := filepath.Join(dir, "fuzz.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, path, data)
	})
}

func FuzzParseYAML(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	writeFile(f, dir, "secret", "value\n")
	path := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, path, data)
	})
}

// checkParse parses data and checks what a successful result promises.
func checkParse(t *testing.T, path string, data []byte) {
	cfg, err := config.Parse(path, data)
	if err != nil {
		if cfg != nil {
			t.Fatalf("Parse returned both a file and an error: %v", err)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	if len(cfg.Destinations) == 0 {
		t.Fatal("Parse succeeded without destinations")
	}
	names := map[string]bool{}
	for _, d := range cfg.Destinations {
		if d.Name == "" || names[d.Name] {
			t.Fatalf("empty or duplicate name %q", d.Name)
		}
		names[d.Name] = true
		if d.WriteMode.Valid() != nil || d.MigrateMode.Valid() != nil || d.PKMode.Valid() != nil {
			t.Fatalf("invalid modes %q %q %q", d.WriteMode, d.MigrateMode, d.PKMode)
		}
		if d.SyncGroupID != "" && d.WriteMode == abi.WriteModeOverwriteDeleteStale {
			t.Fatal("sync_group_id accepted with overwrite-delete-stale")
		}
		switch d.Registry {
		case config.RegistryBuiltin:
			if d.Path != config.BuiltinPostgres && d.Path != config.BuiltinFile {
				t.Fatalf("builtin path %q", d.Path)
			}
		case config.RegistryLocal:
			if filepath.Ext(d.Path) == "" {
				t.Fatalf("local path %q", d.Path)
			}
		default:
			t.Fatalf("registry %q", d.Registry)
		}
		if d.Spec == nil {
			t.Fatal("nil Spec")
		}
		if _, err := json.Marshal(d.Spec); err != nil {
			t.Fatalf("Spec cannot be encoded as JSON: %v", err)
		}
		if _, err := d.Batch(abi.BatchLimits{}); err != nil {
			t.Fatalf("Parse accepted bad batch settings: %v", err)
		}
		if d.File != path || d.Line <= 0 {
			t.Fatalf("position %s:%d", d.File, d.Line)
		}
		if err := d.ValidateSpec([]byte(`{"type": "object"}`)); err != nil {
			t.Fatalf("ValidateSpec: %v", err)
		}
	}
}
