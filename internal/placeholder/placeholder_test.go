package placeholder

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func counter() func() string {
	n := 0
	return func() string { n++; return "uuid-" + strconv.Itoa(n) }
}

func TestExpand(t *testing.T) {
	at := time.Date(2026, 1, 9, 5, 7, 59, 0, time.FixedZone("X", 3*3600)) // 02:07 UTC
	v := Vars{SyncID: "sync-1", Time: at, Table: "aws_ec2_instances", Format: "json.gz", NewUUID: counter()}
	cases := map[string]string{
		"":                              "",
		"plain/path.txt":                "plain/path.txt",
		"{{TABLE}}/{{UUID}}.{{FORMAT}}": "aws_ec2_instances/uuid-1.json.gz",
		"{{YEAR}}-{{MONTH}}-{{DAY}}T{{HOUR}}:{{MINUTE}}": "2026-01-09T02:07",
		"{{TABLE_HYPHEN}}/{{SYNC_ID}}":                   "aws-ec2-instances/sync-1",
		"a}}b":                                           "a}}b",
	}
	for tmpl, want := range cases {
		got, err := Expand(tmpl, v)
		if err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tmpl, got, err, want)
		}
	}
}

func TestUUIDOncePerCall(t *testing.T) {
	v := Vars{NewUUID: counter()}
	got, err := Expand("{{UUID}}/{{UUID}}", v)
	if err != nil || got != "uuid-1/uuid-1" {
		t.Fatalf("first call: %q %v", got, err)
	}
	got, err = Expand("{{UUID}}", v)
	if err != nil || got != "uuid-2" {
		t.Fatalf("second call: %q %v", got, err)
	}
	// No {{UUID}}: the generator is not called.
	if _, err := Expand("x", v); err != nil {
		t.Fatal(err)
	}
	if got, _ := Expand("{{UUID}}", v); got != "uuid-3" {
		t.Fatalf("generator called without {{UUID}}: next is %q", got)
	}
	// Default generator: a real UUID, distinct per call.
	a, _ := Expand("{{UUID}}", Vars{})
	b, _ := Expand("{{UUID}}", Vars{})
	if len(a) != 36 || a == b {
		t.Fatalf("default UUIDs %q %q", a, b)
	}
}

func TestExpandErrors(t *testing.T) {
	cases := []struct{ tmpl, wantIn string }{
		{"{{TABLE}}.json", "{{TABLE}}"},
		{"{{TABLE_HYPHEN}}", "no table"},
		{"{{YEAR}}", "no time"},
		{"{{SYNC_ID}}", "no sync id"},
		{"{{FORMAT}}", "no format"},
		{"{{NOPE}}", "unknown placeholder {{NOPE}}"},
		{"{{table}}", "did you mean {{TABLE}}?"},
		{"{{ TABLE }}", "did you mean {{TABLE}}?"},
		{"a/{{TABLE", "without a closing"},
	}
	for _, c := range cases {
		_, err := Expand(c.tmpl, Vars{})
		if err == nil || !strings.Contains(err.Error(), c.wantIn) {
			t.Errorf("Expand(%q): error %v, want it to contain %q", c.tmpl, err, c.wantIn)
		}
	}
	_, err := Expand("{{NOPE}}", Vars{})
	if !strings.Contains(err.Error(), "{{SYNC_ID}} {{YEAR}}") || !strings.Contains(err.Error(), "{{UUID}}") {
		t.Errorf("unknown-placeholder error does not list the known ones: %v", err)
	}
	if _, err := Expand("{{UUID}}", Vars{NewUUID: func() string { return "" }}); err == nil {
		t.Error("empty UUID accepted")
	}
}

func TestUses(t *testing.T) {
	if !Uses("s3://b/{{TABLE}}/{{UUID}}.json", "UUID") || !Uses("{{UUID}}", "{{UUID}}") {
		t.Error("UUID not found")
	}
	if Uses("{{TABLE}}", "UUID") || Uses("UUID", "UUID") || Uses("{{UUID", "UUID") {
		t.Error("false positive")
	}
}
