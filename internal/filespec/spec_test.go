package filespec

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var specCases = []struct {
	name string
	spec string
	// want lists substrings of Parse's error; none means valid.
	want []string
	// guestOnly: the rule depends on the batching defaults, which the JSON
	// Schema cannot see; only Parse enforces it.
	guestOnly bool
}{
	{name: "minimal", spec: `{"path":"out/{{TABLE}}/{{UUID}}.{{FORMAT}}"}`},
	{name: "csv options", spec: `{"path":"{{UUID}}","format":"csv","format_spec":{"delimiter":";","skip_header":true},"compression":"gzip"}`},
	{name: "tab", spec: `{"path":"{{UUID}}","format":"csv","format_spec":{"delimiter":"\t"}}`},
	{name: "parquet options", spec: `{"path":"{{UUID}}","format":"parquet","format_spec":{"version":"v1.0","root_repetition":"optional","max_row_group_length":1000},"compression":"zstd"}`},
	{name: "no_rotate", spec: `{"path":"out/{{TABLE}}.{{FORMAT}}","no_rotate":true}`},
	{name: "batching off", spec: `{"path":"out/{{TABLE}}.{{FORMAT}}","batch_size":0,"batch_size_bytes":0,"batch_timeout":"1m30s"}`},
	{name: "timeout seconds", spec: `{"path":"{{UUID}}","batch_timeout":30}`},
	{name: "absolute path", spec: `{"path":"/data/{{TABLE}}/{{UUID}}.{{FORMAT}}"}`},

	{name: "no path", spec: `{"format":"json"}`, want: []string{"path is required"}},
	{name: "unknown key", spec: `{"path":"{{UUID}}","formt":"csv"}`, want: []string{`unknown field "formt"`, "the keys are path, format"}},
	{name: "unknown format", spec: `{"path":"{{UUID}}","format":"xml"}`, want: []string{`format "xml"`, "use csv, json"}},
	{name: "unknown csv key", spec: `{"path":"{{UUID}}","format":"csv","format_spec":{"delimeter":";"}}`, want: []string{`unknown field "delimeter"`, "csv takes delimiter and skip_header"}},
	{name: "csv key on parquet", spec: `{"path":"{{UUID}}","format":"parquet","format_spec":{"delimiter":";"}}`, want: []string{`unknown field "delimiter"`, "parquet takes version"}},
	{name: "json has no options", spec: `{"path":"{{UUID}}","format":"json","format_spec":{"pretty":true}}`, want: []string{`unknown field "pretty"`, "json takes no format_spec keys"}},
	{name: "long delimiter", spec: `{"path":"{{UUID}}","format":"csv","format_spec":{"delimiter":"ab"}}`, want: []string{"format_spec.delimiter", "exactly one"}},
	{name: "quote delimiter", spec: `{"path":"{{UUID}}","format":"csv","format_spec":{"delimiter":"\""}}`, want: []string{"format_spec.delimiter", "cannot separate"}},
	{name: "parquet version", spec: `{"path":"{{UUID}}","format":"parquet","format_spec":{"version":"v3"}}`, want: []string{"format_spec.version", "v2Latest"}},
	{name: "root repetition", spec: `{"path":"{{UUID}}","format":"parquet","format_spec":{"root_repetition":"many"}}`, want: []string{"format_spec.root_repetition", "required, optional, repeated"}},
	{name: "row group", spec: `{"path":"{{UUID}}","format":"parquet","format_spec":{"max_row_group_length":-1}}`, want: []string{"max_row_group_length", "at least 1"}},
	{name: "compression", spec: `{"path":"{{UUID}}","compression":"brotli"}`, want: []string{`compression "brotli"`, "gzip or zstd"}},
	{name: "uuid with no_rotate", spec: `{"path":"{{TABLE}}/{{UUID}}.json","no_rotate":true}`, want: []string{"{{UUID}}", "no_rotate", "remove {{UUID}}"}},
	{name: "no uuid with default batching", spec: `{"path":"out/{{TABLE}}.{{FORMAT}}"}`, want: []string{"no {{UUID}}", "batch_size 10000", "add {{UUID}}", "no_rotate"}, guestOnly: true},
	{name: "no uuid with rows", spec: `{"path":"out","batch_size":5,"batch_size_bytes":0}`, want: []string{"no {{UUID}}", "batch_size 5"}, guestOnly: true},
	{name: "dotdot", spec: `{"path":"../{{TABLE}}/{{UUID}}.json"}`, want: []string{`".." component`, "remove"}, guestOnly: true},
	{name: "directory path", spec: `{"path":"out/{{UUID}}/"}`},
	{name: "table directory", spec: `{"path":"out/{{TABLE}}/{{UUID}}/"}`, want: []string{"names a directory"}, guestOnly: true},
	{name: "bad timeout", spec: `{"path":"{{UUID}}","batch_timeout":"soon"}`, want: []string{"batch_timeout", "30s"}},
	{name: "negative batch", spec: `{"path":"{{UUID}}","batch_size":-1}`, want: []string{"batch_size -1", "negative"}},
}

func TestParse(t *testing.T) {
	for _, c := range specCases {
		_, err := Parse([]byte(c.spec))
		switch {
		case len(c.want) == 0 && err != nil:
			t.Errorf("%s: %s: unexpected error %v", c.name, c.spec, err)
		case len(c.want) > 0 && err == nil:
			t.Errorf("%s: %s: no error, want one saying %q", c.name, c.spec, c.want)
		case err != nil:
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not say %q", c.name, err, w)
				}
			}
		}
	}
}

func TestParseDefaults(t *testing.T) {
	s, err := Parse([]byte(`{"path":"out","no_rotate":true,"format":"parquet","compression":"gzip"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Path != "out/{{TABLE}}.{{FORMAT}}" || s.Extension() != "parquet" || s.Parquet.Version != "v2Latest" ||
		s.Parquet.RootRepetition != "repeated" || s.Parquet.MaxRowGroupLength != 128<<20 {
		t.Errorf("defaults: %+v", s)
	}
	s, _ = Parse([]byte(`{"path":"{{UUID}}","format":"csv","compression":"zstd"}`))
	if s.Extension() != "csv.zst" || s.CSV.Delimiter != "," || s.Path != "{{UUID}}/{{TABLE}}.{{FORMAT}}" {
		t.Errorf("csv defaults: %+v %s", s, s.Extension())
	}
}

// TestSchemaAgrees: spec.schema.json accepts exactly the specs Parse
// accepts, but for the rules only the guest can check.
func TestSchemaAgrees(t *testing.T) {
	raw, err := os.ReadFile("../../guests/file/spec.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("spec.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spec.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range specCases {
		var v any
		if err := json.Unmarshal([]byte(tc.spec), &v); err != nil {
			t.Fatal(err)
		}
		serr := sch.Validate(v)
		_, perr := Parse([]byte(tc.spec))
		if tc.guestOnly {
			if serr != nil {
				t.Errorf("%s: the schema refuses %s, which only the guest should: %v", tc.name, tc.spec, serr)
			}
			continue
		}
		if (serr == nil) != (perr == nil) {
			t.Errorf("%s: %s: schema says %v, Parse says %v", tc.name, tc.spec, serr, perr)
		}
	}
}
