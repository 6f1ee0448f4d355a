package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
)

func TestTOMLFull(t *testing.T) {
	t.Setenv("WASMDEST_TEST_PG_URL", "postgres://u:p@localhost/db")
	dir := t.TempDir()
	writeFile(t, dir, "secrets/token.txt", "s3cret\n")
	path := writeFile(t, dir, "wasmdest.toml", `# wasmdest configuration
[[destination]]
name = "pg"
path = "postgres"
version = "v1.2.3"
write_mode = "overwrite"
migrate_mode = "forced"
pk_mode = "cq-id-only"
sync_group_id = "{{YEAR}}-{{MONTH}}"
send_sync_summary = true

[destination.spec]
connection_string = "${WASMDEST_TEST_PG_URL}"
token = "${file:secrets/token.txt}"
batch_size = 1000
ratio = 0.5
day = 2024-01-02
tables = ["a", "b"]
nested = { x = 1 }

[[destination]]
name = "files"
registry = "local"
path = "guests/file.wasm"
`)
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || len(f.Warnings) != 0 || len(f.Destinations) != 2 {
		t.Fatalf("got %+v", f)
	}
	pg := f.Destinations[0]
	want := config.Destination{
		Name: "pg", Registry: config.RegistryBuiltin, Path: config.BuiltinPostgres, Version: "v1.2.3",
		WriteMode: abi.WriteModeOverwrite, MigrateMode: abi.MigrateModeForced, PKMode: abi.PKModeCQIDOnly,
		SyncGroupID: "{{YEAR}}-{{MONTH}}", SendSyncSummary: true, File: path, Line: 2,
	}
	got := pg
	got.Spec = nil
	if !equalExported(got, want) {
		t.Errorf("destination:\n got %+v\nwant %+v", got, want)
	}
	wantSpec := map[string]any{
		"connection_string": "postgres://u:p@localhost/db",
		"token":             "s3cret",
		"batch_size":        int64(1000),
		"ratio":             0.5,
		"day":               "2024-01-02",
		"tables":            []any{"a", "b"},
		"nested":            map[string]any{"x": int64(1)},
	}
	if !reflect.DeepEqual(pg.Spec, wantSpec) {
		t.Errorf("spec:\n got %#v\nwant %#v", pg.Spec, wantSpec)
	}

	files := f.Destinations[1]
	if files.Registry != config.RegistryLocal || files.Path != filepath.Join(dir, "guests/file.wasm") || files.Line != 21 {
		t.Errorf("local destination: %+v", files)
	}
	if files.WriteMode != abi.WriteModeOverwriteDeleteStale || files.MigrateMode != abi.MigrateModeSafe || files.PKMode != abi.PKModeDefault {
		t.Errorf("defaults: %+v", files)
	}
	if files.Spec == nil || len(files.Spec) != 0 {
		t.Errorf("Spec of a destination without spec = %#v, want an empty map", files.Spec)
	}
}

// equalExported compares the exported fields of two destinations.
func equalExported(a, b config.Destination) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if !va.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func TestTOMLErrors(t *testing.T) {
	runErrCases(t, "wasmdest.toml", []errCase{
		{
			name: "write_mode not allowed",
			content: `# line 1
[[destination]]
name = "pg"
path = "postgres"

# line 6
write_mode = "upsert"
`,
			want: []string{`FILE:7: destination "pg": write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`},
		},
		{
			name:    "migrate_mode not allowed",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nmigrate_mode = \"yolo\"\n",
			want:    []string{`FILE:4: destination "pg": migrate_mode "yolo" is not one of safe, forced`},
		},
		{
			name:    "pk_mode not allowed",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\npk_mode = \"\"\n",
			want:    []string{`FILE:4: destination "pg": pk_mode "" is not one of default, cq-id-only`},
		},
		{
			name:    "unknown top-level key",
			content: "title = \"x\"\n[[destination]]\nname = \"pg\"\npath = \"postgres\"\n",
			want:    []string{`FILE:1: unknown top-level key "title"; allowed keys: destination`},
		},
		{
			name:    "unknown destination key",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nwritemode = \"append\"\n",
			want:    []string{`FILE:4: destination "pg": unknown key "writemode"; allowed keys: name, registry, path, version, write_mode, migrate_mode, pk_mode, sync_group_id, send_sync_summary, directory, spec`},
		},
		{
			name:    "batch key at destination level",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nbatch_size = 10\n",
			want:    []string{`FILE:4: destination "pg": unknown key "batch_size" (batch_size belongs in the nested spec)`},
		},
		{
			name:    "unknown key in dotted table header",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.options]\nx = 1\n",
			want:    []string{`FILE:4: destination "pg": unknown key "options"`},
		},
		{
			name:    "wrong types",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nwrite_mode = 1\nsend_sync_summary = \"yes\"\nversion = [1]\nspec = \"x\"\n",
			want: []string{
				`FILE:4: destination "pg": write_mode must be a string, not an integer`,
				`FILE:5: destination "pg": send_sync_summary must be a boolean (true or false), not a string`,
				`FILE:6: destination "pg": version must be a string, not an array`,
				`FILE:7: destination "pg": spec must be a table, not a string`,
			},
		},
		{
			name:    "name of wrong type",
			content: "[[destination]]\nname = 42\npath = \"postgres\"\n",
			want:    []string{`FILE:2: destination #1: name must be a string, not an integer`},
		},
		{
			name:    "missing name and path",
			content: "[[destination]]\nwrite_mode = \"append\"\n",
			want:    []string{`FILE:1: destination #1: name is required`, `FILE:1: destination #1: path is required`},
		},
		{
			name:    "empty name",
			content: "[[destination]]\nname = \" \"\npath = \"postgres\"\n",
			want:    []string{`FILE:2: destination #1: name must not be empty`},
		},
		{
			name: "duplicate names",
			content: `[[destination]]
name = "pg"
path = "postgres"

[[destination]]
name = "pg"
path = "file"
`,
			want: []string{`FILE:6: destination "pg": name "pg" is already used by the destination at line 2; names must be unique`},
		},
		{
			name:    "unknown registry",
			content: "[[destination]]\nname = \"pg\"\nregistry = \"cloudquery\"\npath = \"cloudquery/postgresql\"\n",
			want:    []string{`FILE:3: destination "pg": registry "cloudquery" is not one of builtin, local`},
		},
		{
			name:    "unknown builtin",
			content: "[[destination]]\nname = \"my\"\npath = \"oracle\"\n",
			want:    []string{`FILE:3: destination "my": path "oracle" is not a builtin guest; builtin guests: postgres, file, sqlite, mysql, duckdb`},
		},
		{
			name:    "wasm file with builtin registry",
			content: "[[destination]]\nname = \"my\"\npath = \"my.wasm\"\n",
			want:    []string{`builtin guests: postgres, file, sqlite, mysql, duckdb (for a .wasm file set registry = "local")`},
		},
		{
			name:    "local path not wasm",
			content: "[[destination]]\nname = \"my\"\nregistry = \"local\"\npath = \"my.so\"\n",
			want:    []string{`FILE:4: destination "my": path "my.so" of a local guest must name a .wasm file`},
		},
		{
			name:    "version not semver",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nversion = \"1.2.3\"\n",
			want:    []string{`FILE:4: destination "pg": version "1.2.3" is not a semantic version such as v1.2.3`},
		},
		{
			name:    "version with leading zero",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nversion = \"v1.02.3\"\n",
			want:    []string{`version "v1.02.3" is not a semantic version`},
		},
		{
			name:    "sync_group_id with overwrite-delete-stale",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nwrite_mode = \"overwrite-delete-stale\"\nsync_group_id = \"{{SYNC_ID}}\"\n",
			want: []string{`FILE:5: destination "pg": sync_group_id cannot be used with write_mode overwrite-delete-stale`,
				`set write_mode to overwrite or append`},
		},
		{
			name:    "sync_group_id with default write_mode",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\nsync_group_id = \"{{SYNC_ID}}\"\n",
			want:    []string{`FILE:4: destination "pg": sync_group_id cannot be used with the default write_mode (overwrite-delete-stale)`, `set write_mode to overwrite or append`},
		},
		{
			name: "missing environment variable in a multi-line string",
			content: `[[destination]]
name = "pg"
path = "postgres"
[destination.spec]
text = """
first line
second ${WASMDEST_TEST_UNSET_1}
"""
`,
			want: []string{`FILE:7: destination "pg": spec.text: placeholder ${WASMDEST_TEST_UNSET_1}: environment variable "WASMDEST_TEST_UNSET_1" is not set`},
		},
		{
			name: "missing environment variables in arrays and inline tables",
			content: `[[destination]]
name = "pg"
path = "postgres"
[destination.spec]
list = [
  "a",
  # a comment
  "${WASMDEST_TEST_UNSET_2}",
]
inline = { deep = { x = "${WASMDEST_TEST_UNSET_3}" } }
`,
			want: []string{
				`FILE:8: destination "pg": spec.list[1]: placeholder ${WASMDEST_TEST_UNSET_2}: environment variable "WASMDEST_TEST_UNSET_2" is not set`,
				`FILE:10: destination "pg": spec.inline.deep.x: placeholder ${WASMDEST_TEST_UNSET_3}`,
			},
		},
		{
			name:    "missing environment variable in name",
			content: "[[destination]]\nname = \"${WASMDEST_TEST_UNSET_4}\"\npath = \"postgres\"\n",
			want:    []string{`FILE:2: destination #1: name: placeholder ${WASMDEST_TEST_UNSET_4}: environment variable "WASMDEST_TEST_UNSET_4" is not set`},
		},
		{
			name:    "missing file",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\n\npassword = \"${file:missing.txt}\"\n",
			want:    []string{`FILE:6: destination "pg": spec.password: placeholder ${file:missing.txt}: cannot read file "missing.txt"`},
		},
		{
			name:    "time placeholder",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\nsince = \"${time:now}\"\n",
			want:    []string{`FILE:5: destination "pg": spec.since: placeholder ${time:now}: ${time:...} placeholders are not supported`},
		},
		{
			name:    "syntax error",
			content: "[[destination]]\nname = \"pg\"\npath = postgres\n",
			want:    []string{`FILE:3: invalid TOML: `},
		},
		{
			name:    "destination as a single table",
			content: "[destination]\nname = \"pg\"\npath = \"postgres\"\n",
			want:    []string{`FILE:1: destination must be an array of tables: write [[destination]], not [destination]`},
		},
		{
			name:    "destination as a string",
			content: "destination = \"pg\"\n",
			want:    []string{`FILE:1: destination must be an array of tables ([[destination]]), not a string`},
		},
		{
			name:    "no destinations",
			content: "# nothing here\n",
			want:    []string{`FILE: no destinations: add a [[destination]] table`},
		},
		{
			name:    "NaN in spec",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\nx = nan\n",
			want:    []string{`FILE:5: destination "pg": spec.x: NaN cannot be given to a guest`},
		},
		{
			name: "batch settings",
			content: `[[destination]]
name = "pg"
path = "postgres"
[destination.spec]
batch_size = -1
batch_size_bytes = 1.5
batch_timeout = "soon"
`,
			want: []string{
				`FILE:5: destination "pg": spec.batch_size: must not be negative (0 means unlimited), got -1`,
				`FILE:6: destination "pg": spec.batch_size_bytes: must be an integer: 1.5 is not a whole number`,
				`FILE:7: destination "pg": spec.batch_timeout: "soon" is not a duration such as "60s" or "1m30s"`,
			},
		},
		{
			name:    "negative batch_timeout",
			content: "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\nbatch_timeout = \"-5s\"\n",
			want:    []string{`FILE:5: destination "pg": spec.batch_timeout: must not be negative (0 means unlimited), got "-5s"`},
		},
		{
			name: "every problem is reported",
			content: `[[destination]]
name = "a"
path = "nope"

[[destination]]
name = "b"
path = "postgres"
write_mode = "bad"
`,
			want: []string{`FILE:3: destination "a": path "nope"`, `FILE:8: destination "b": write_mode "bad"`},
		},
	})
}

// Placeholders in comments are neither expanded nor errors, and expanded
// values that look like TOML stay plain strings.
func TestTOMLExpansion(t *testing.T) {
	tricky := "a\"b' = 1\n[[destination]]\nname = \"evil\" # ${X}"
	t.Setenv("WASMDEST_TEST_TRICKY", tricky)
	t.Setenv("WASMDEST_TEST_EMPTY", "")
	dir := t.TempDir()
	writeFile(t, dir, "pw", "line1\nline2\r\n\n")
	path := writeFile(t, dir, "w.toml", `# ${WASMDEST_TEST_UNSET_COMMENT} in a comment
[[destination]] # ${WASMDEST_TEST_UNSET_COMMENT}
name = "pg" # ${WASMDEST_TEST_UNSET_COMMENT}
path = "postgres"
[destination.spec]
# ${WASMDEST_TEST_UNSET_COMMENT}
tricky = "${WASMDEST_TEST_TRICKY}"
twice = "<${WASMDEST_TEST_EMPTY}|${WASMDEST_TEST_EMPTY}>"
literal = 'no ${ closing brace'
empty = "${}"
pw = "${file:pw}"
list = [ # ${WASMDEST_TEST_UNSET_COMMENT}
  "x", # ${WASMDEST_TEST_UNSET_COMMENT}
]
`)
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := f.Destinations[0].Spec
	for k, want := range map[string]string{
		"tricky":  tricky,
		"twice":   "<|>",
		"literal": "no ${ closing brace",
		"empty":   "${}",
		"pw":      "line1\nline2",
	} {
		if spec[k] != want {
			t.Errorf("spec[%q] = %q, want %q", k, spec[k], want)
		}
	}
	if len(f.Destinations) != 1 {
		t.Errorf("got %d destinations", len(f.Destinations))
	}
}

// An absolute ${file:...} path is used as it is; a directory is refused.
func TestTOMLFilePlaceholder(t *testing.T) {
	dir := t.TempDir()
	abs := writeFile(t, dir, "abs/secret", "top\n")
	content := "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\na = \"${file:" + abs + "}\"\n"
	f, _ := mustLoad(t, "w.toml", content)
	if got := f.Destinations[0].Spec["a"]; got != "top" {
		t.Errorf("a = %q", got)
	}

	content = "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\na = \"${file:" + dir + "}\"\n"
	_, _, err := load(t, "w.toml", content)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("directory: err = %v", err)
	}

	_, _, err = load(t, "w.toml", "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\na = \"${file:nope}\"\n")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want one wrapping fs.ErrNotExist", err)
	}
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Line != 5 {
		t.Errorf("missing file: err = %#v, want a *config.Error at line 5", err)
	}
}

// Inline arrays of tables are destinations too, and TOML dates and times
// reach the spec as their text.
func TestTOMLInlineAndDates(t *testing.T) {
	f, _ := mustLoad(t, "w.toml", `destination = [
  { name = "a", path = "postgres", spec = { when = 1979-05-27T07:32:00Z, local = 1979-05-27T07:32:00, t = 07:32:00 } },
  { name = "b", path = "file" },
]
`)
	if len(f.Destinations) != 2 || f.Destinations[1].Name != "b" || f.Destinations[1].Line != 3 {
		t.Fatalf("got %+v", f.Destinations)
	}
	want := map[string]any{"when": "1979-05-27T07:32:00Z", "local": "1979-05-27T07:32:00", "t": "07:32:00"}
	if !reflect.DeepEqual(f.Destinations[0].Spec, want) {
		t.Errorf("spec = %#v, want %#v", f.Destinations[0].Spec, want)
	}
}

func TestParseExtensions(t *testing.T) {
	for _, name := range []string{"w.json", "w", "w.tml"} {
		_, err := config.Parse(name, []byte("{}"))
		if err == nil || !strings.HasPrefix(err.Error(), name+": ") || !strings.Contains(err.Error(), "accepted extensions: .toml (wasmdest), .yml and .yaml (CloudQuery spec)") {
			t.Errorf("Parse(%q) error = %v", name, err)
		}
	}
	if _, err := config.Parse("W.TOML", []byte("[[destination]]\nname = \"a\"\npath = \"file\"\n")); err != nil {
		t.Errorf("upper-case extension: %v", err)
	}
	_, err := config.Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.toml: cannot read configuration") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// The exact text of the example in the package documentation, with the
// file named as the caller named it.
func TestErrorTextRelativePath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "wasmdest.toml", `# wasmdest configuration

[[destination]]
name = "pg"
path = "postgres"

write_mode = "upsert"
`)
	t.Chdir(dir)
	_, err := config.Load("wasmdest.toml")
	want := `wasmdest.toml:7: destination "pg": write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

func TestDirectoryIsResolvedAgainstTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wasmdest.toml")
	src := "[[destination]]\nname = \"files\"\npath = \"file\"\nwrite_mode = \"append\"\ndirectory = \"out\"\n[destination.spec]\npath = \"x\"\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Destinations[0].Directory, filepath.Join(dir, "out"); got != want {
		t.Errorf("Directory = %q, want %q", got, want)
	}
	_, err = config.Parse("e.toml", []byte(strings.Replace(src, `"out"`, `""`, 1)))
	if err == nil || !strings.Contains(err.Error(), "e.toml:5:") || !strings.Contains(err.Error(), "directory is empty") {
		t.Errorf("empty directory: got %v", err)
	}
}
