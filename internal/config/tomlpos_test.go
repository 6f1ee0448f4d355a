package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

var scanSeeds = []string{
	"a = 1\n[b]\nc = \"x\" # comment\n[[d]]\ne = '''\nlit\n'''\n[[d]]\ne = \"\"\"q\"\"\"\"\"\n",
	"[ a . 'b' . \"c\" ]\nx = [ 1, # c\n 2,\n]\ny = { p = 1, q.r = [ { s = 't' } ] }\n",
	"t = 1979-05-27 07:32:00Z\nd = 1979-05-27\nf = -inf\ns = \"\\\"\\\\\"\n",
	"[[a]]\n[[a.b]]\nx = 1\n[a.b.c]\ny = 2\n[[a]]\n[[a.b]]\nx = 3\n",
	`a = """x\""""""` + "\nb = '''it's'''\nc = '''''x'''''\n",
	"a = \"\"\"\\\n   folded \\\n \"\"\"\n\"key with # hash\" = \"#[]{}\"\n",
	"a = {\n  b = 1, # c\n  c = [\n  ],\n}\n",
	"\"\\u0041\" = 1\n'lit.key' = 2\n\"\" = 3\nx = 1979-05-27T07:32\ny = 07:32\nz = 0xdead\n",
	"[\"a\".'b']\n[[a.b.'c d']]\r\n\tk = true\r\n",
	"a = [[1,2],[\"]\"]]\nb = [ {x=\"}\"} ]\n",
	"a = \"\\e\\x41\"\n",
}

// The position scanner reads every file the TOML library accepts.
func FuzzScanTOML(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			return
		}
		if !scanTOML(data, newPosIndex(data)) {
			t.Fatalf("scanner stopped on valid TOML %q", data)
		}
	})
}

func TestScanTOMLLines(t *testing.T) {
	src := []byte(`top = 1
[[destination]]
name = "a"
[destination.spec]
x.y = 2
list = [
  "one",
  { k = "v" },
]
[[destination]]
name = "b"
[[destination.spec.items]]
z = """
multi
"""
[[destination.spec.items]]
z = 'w'
`)
	idx := newPosIndex(src)
	if !scanTOML(src, idx) {
		t.Fatal("scan failed")
	}
	for _, tc := range []struct {
		path []string
		line int
	}{
		{[]string{"top"}, 1},
		{[]string{"destination", "[0]"}, 2},
		{[]string{"destination", "[0]", "name"}, 3},
		{[]string{"destination", "[0]", "spec"}, 4},
		{[]string{"destination", "[0]", "spec", "x"}, 5},
		{[]string{"destination", "[0]", "spec", "x", "y"}, 5},
		{[]string{"destination", "[0]", "spec", "list", "[0]"}, 7},
		{[]string{"destination", "[0]", "spec", "list", "[1]", "k"}, 8},
		{[]string{"destination", "[1]"}, 10},
		{[]string{"destination", "[1]", "name"}, 11},
		{[]string{"destination", "[1]", "spec", "items", "[0]"}, 12},
		{[]string{"destination", "[1]", "spec", "items", "[0]", "z"}, 13},
		{[]string{"destination", "[1]", "spec", "items", "[1]", "z"}, 17},
		{[]string{"destination", "[1]", "spec", "items", "[1]", "missing"}, 16},
	} {
		if got := idx.line(tc.path); got != tc.line {
			t.Errorf("line(%q) = %d, want %d", tc.path, got, tc.line)
		}
	}
	if got := idx.placeholderLine([]string{"destination", "[1]", "spec", "items", "[0]", "z"}, "multi"); got != 14 {
		t.Errorf("placeholderLine = %d, want 14", got)
	}
}
