package config_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
)

// fileSchema is a schema a file guest's manifest could carry.
const fileSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "path": {"type": "string", "minLength": 1},
    "format": {"enum": ["csv", "json", "parquet"]},
    "format_spec": {
      "type": "object",
      "properties": {
        "delimiter": {"type": "string", "maxLength": 1},
        "skip_header": {"type": "boolean"}
      },
      "additionalProperties": false
    },
    "tables": {"type": "array", "items": {"type": "string"}},
    "max_files": {"type": "integer", "minimum": 0}
  },
  "required": ["path", "format"],
  "additionalProperties": false
}`

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		name string
		spec string // the [destination.spec] table
		want []string
	}{
		{name: "valid", spec: "path = \"out\"\nformat = \"csv\"\nmax_files = 10\n[destination.spec.format_spec]\ndelimiter = \";\"\n"},
		{
			name: "every failing key",
			spec: `format = "xml"
tables = ["a", 1]
extra = true
[destination.spec.format_spec]
delimiter = 1
skip_header = "no"
quote = "'"
`,
			want: []string{
				`FILE:4: destination "out": spec.path: required key is missing`,
				`FILE:5: destination "out": spec.format: value must be one of 'csv', 'json', 'parquet'`,
				`FILE:6: destination "out": spec.tables[1]: got number, want string`,
				`FILE:7: destination "out": spec.extra: unknown key (the guest's schema does not allow it)`,
				`FILE:9: destination "out": spec.format_spec.delimiter: got number, want string`,
				`FILE:10: destination "out": spec.format_spec.skip_header: got string, want boolean`,
				`FILE:11: destination "out": spec.format_spec.quote: unknown key (the guest's schema does not allow it)`,
			},
		},
		{
			name: "integral float is an integer",
			spec: "path = \"out\"\nformat = \"csv\"\nmax_files = 3.0\n",
		},
		{
			name: "fraction is not an integer",
			spec: "path = \"out\"\nformat = \"csv\"\nmax_files = 1.5\n",
			want: []string{`FILE:7: destination "out": spec.max_files: got number, want integer`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, path := mustLoad(t, "w.toml", "[[destination]]\nname = \"out\"\npath = \"file\"\n[destination.spec]\n"+strings.TrimPrefix(tc.spec, "\n"))
			err := f.Destinations[0].ValidateSpec([]byte(fileSchema))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateSpec: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ValidateSpec succeeded")
			}
			got := strings.Split(err.Error(), "\n")
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.ReplaceAll(w, "FILE", path))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T holds no *config.Error", err)
			}
		})
	}
}

func TestValidateSpecYAML(t *testing.T) {
	f, path := mustLoad(t, "s.yml", `kind: destination
spec:
  name: out
  path: cloudquery/file
  spec:
    path: out
    format: csv
    max_files: 5
    format_spec:
      delimiter: ";;"
`)
	err := f.Destinations[0].ValidateSpec([]byte(fileSchema))
	want := path + `:10: destination "out": spec.format_spec.delimiter: maxLength: got 2, want 1`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

func TestValidateSpecSchemaProblems(t *testing.T) {
	f, path := mustLoad(t, "w.toml", "[[destination]]\nname = \"out\"\npath = \"file\"\n")
	d := f.Destinations[0]
	for _, schema := range []string{"", "  \n"} {
		if err := d.ValidateSpec([]byte(schema)); err != nil {
			t.Errorf("empty schema %q: %v", schema, err)
		}
	}
	tests := []struct{ schema, want string }{
		{`{"type": `, path + `:1: destination "out": the guest's spec schema is not valid JSON`},
		{`{"type": "thing"}`, path + `:1: destination "out": the guest's spec schema is invalid`},
		{`{"$ref": "https://example.com/schema.json"}`, path + `:1: destination "out": the guest's spec schema is invalid`},
		{`{"$ref": "file:///etc/passwd"}`, path + `:1: destination "out": the guest's spec schema is invalid`},
		{`{"required": ["a", "b"]}`, path + `:1: destination "out": spec.a: required key is missing` + "\n" + path + `:1: destination "out": spec.b: required key is missing`},
	}
	for _, tc := range tests {
		err := d.ValidateSpec([]byte(tc.schema))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("schema %s: error = %v\nwant prefix %s", tc.schema, err, tc.want)
		}
	}
	// A destination built by hand has no file.
	hand := config.Destination{Name: "x", Spec: map[string]any{"a": int64(1)}}
	err := hand.ValidateSpec([]byte(`{"properties": {"a": {"type": "string"}}}`))
	if err == nil || err.Error() != `destination "x": spec.a: got number, want string` {
		t.Errorf("hand-built: %v", err)
	}
}

func TestBatch(t *testing.T) {
	defaults := abi.BatchLimits{Rows: 100, Bytes: 1 << 20, Timeout: time.Minute}
	tests := []struct {
		name string
		spec map[string]any
		want abi.BatchLimits
		err  string
	}{
		{name: "defaults", spec: map[string]any{}, want: defaults},
		{name: "nil spec", spec: nil, want: defaults},
		{
			name: "TOML integers",
			spec: map[string]any{"batch_size": int64(5), "batch_size_bytes": int64(0), "batch_timeout": "1m30s"},
			want: abi.BatchLimits{Rows: 5, Bytes: 0, Timeout: 90 * time.Second},
		},
		{
			name: "YAML and JSON numbers",
			spec: map[string]any{"batch_size": 7, "batch_size_bytes": 2048.0, "batch_timeout": 10.0},
			want: abi.BatchLimits{Rows: 7, Bytes: 2048, Timeout: 10 * time.Second},
		},
		{
			name: "json.Number and uint64",
			spec: map[string]any{"batch_size": json.Number("9"), "batch_size_bytes": uint64(3), "batch_timeout": int64(0)},
			want: abi.BatchLimits{Rows: 9, Bytes: 3, Timeout: 0},
		},
		{name: "string size", spec: map[string]any{"batch_size": "10"}, err: `destination "d": spec.batch_size: must be an integer, not a string`},
		{name: "fractional size", spec: map[string]any{"batch_size_bytes": 1.25}, err: `destination "d": spec.batch_size_bytes: must be an integer: 1.25 is not a whole number`},
		{name: "negative size", spec: map[string]any{"batch_size": int64(-1)}, err: `destination "d": spec.batch_size: must not be negative (0 means unlimited), got -1`},
		{name: "huge uint", spec: map[string]any{"batch_size": uint64(1 << 63)}, err: `spec.batch_size: must be an integer: 9223372036854775808 is too large`},
		{name: "bad duration", spec: map[string]any{"batch_timeout": "60"}, err: `destination "d": spec.batch_timeout: "60" is not a duration such as "60s" or "1m30s"`},
		{name: "negative duration", spec: map[string]any{"batch_timeout": "-1s"}, err: `destination "d": spec.batch_timeout: must not be negative (0 means unlimited), got "-1s"`},
		{name: "negative seconds", spec: map[string]any{"batch_timeout": int64(-3)}, err: `spec.batch_timeout: must not be negative (0 means unlimited), got -3`},
		{name: "too many seconds", spec: map[string]any{"batch_timeout": int64(1) << 62}, err: `spec.batch_timeout: 4611686018427387904 seconds is too long`},
		{name: "boolean duration", spec: map[string]any{"batch_timeout": true}, err: `spec.batch_timeout: must be a duration string such as "60s" or a whole number of seconds, not a boolean`},
		{
			name: "every bad key",
			spec: map[string]any{"batch_size": "x", "batch_size_bytes": false, "batch_timeout": map[string]any{}},
			err: `destination "d": spec.batch_size: must be an integer, not a string` + "\n" +
				`destination "d": spec.batch_size_bytes: must be an integer, not a boolean` + "\n" +
				`destination "d": spec.batch_timeout: must be a duration string such as "60s" or a whole number of seconds, not a map`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := config.Destination{Name: "d", Spec: tc.spec}
			got, err := d.Batch(defaults)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				if got != defaults {
					t.Errorf("on error got %+v, want the defaults", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Batch errors of a loaded destination name the file and the key's line.
func TestBatchLines(t *testing.T) {
	f, path := mustLoad(t, "w.toml", "[[destination]]\nname = \"pg\"\npath = \"postgres\"\n[destination.spec]\nbatch_size = 10\n")
	d := f.Destinations[0]
	d.Spec["batch_size"] = "oops" // as if changed after loading
	_, err := d.Batch(abi.BatchLimits{})
	want := path + `:5: destination "pg": spec.batch_size: must be an integer, not a string`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}
