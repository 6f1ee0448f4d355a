package jsonstring

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// encodingJSON is what encoding/json writes for s, without HTML escaping.
func encodingJSON(t *testing.T, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var cases = []string{"", "plain", "quote\" back\\ \n\r\t\x01\x1f\x00 ü☃ 日本語", "\xff bad \xc3\x28", "line\u2028para\u2029", "<html>&"}

func TestAppendIsEncodingJSON(t *testing.T) {
	for _, s := range cases {
		if got, want := string(Append(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("Append(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
}

func TestAppendStrict(t *testing.T) {
	out, bad := AppendStrict([]byte("x:"), "a\x00b\"\u2028")
	if string(out) != "x:\"ab\\\"\u2028\"" || bad != -1 {
		t.Errorf("got %s, %d", out, bad)
	}
	if _, bad := AppendStrict(nil, "ok \xc3\x28"); bad != 3 {
		t.Errorf("invalid UTF-8 at %d, want 3", bad)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(Append(nil, s)), encodingJSON(t, s); got != want {
			t.Fatalf("Append(%q) = %s, encoding/json writes %s", s, got, want)
		}
		out, bad := AppendStrict(nil, s)
		if !utf8.ValidString(s) {
			if bad < 0 || !utf8.ValidString(s[:bad]) {
				t.Fatalf("AppendStrict(%q): offset %d", s, bad)
			}
			return
		}
		var back string
		if bad != -1 || json.Unmarshal(out, &back) != nil || back != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("AppendStrict(%q) = %s, %d", s, out, bad)
		}
	})
}
