package abi_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
)

// TestImportsMatchABIDoc: the import table of section 3 of ABI.md and
// abi.Imports list the same host functions, in the same order, with the same
// types and capabilities.
func TestImportsMatchABIDoc(t *testing.T) {
	doc, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## 3. Host functions")
	if start < 0 {
		t.Fatal("ABI.md has no section \"## 3. Host functions\"")
	}
	text = text[start:]
	if end := strings.Index(text[1:], "\n## "); end >= 0 {
		text = text[:end+1]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `([^`]*)` \\| (—|`[a-z]+`) \\|$")
	var rows []abi.Import
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		imp := abi.Import{Name: m[1], Capability: abi.Capability(strings.Trim(m[3], "`"))}
		if m[3] == "—" {
			imp.Capability = ""
		}
		rows = append(rows, imp)
		if got, ok := abi.LookupImport(imp.Name); ok && got.Signature() != m[2] {
			t.Errorf("%s: ABI.md says %s, abi.Imports %s", imp.Name, m[2], got.Signature())
		}
	}
	want := abi.Imports()
	if len(rows) != len(want) {
		t.Errorf("ABI.md lists %d host functions, abi.Imports %d", len(rows), len(want))
	}
	for i := range min(len(rows), len(want)) {
		if rows[i].Name != want[i].Name || rows[i].Capability != want[i].Capability {
			t.Errorf("host function %d: ABI.md has %s (capability %q), abi.Imports %s (capability %q)",
				i+1, rows[i].Name, rows[i].Capability, want[i].Name, want[i].Capability)
		}
	}
	for _, imp := range want {
		if imp.Capability != "" {
			if err := imp.Capability.Valid(); err != nil {
				t.Errorf("%s: %v", imp.Name, err)
			}
		}
	}
}

func TestImportSignature(t *testing.T) {
	for name, want := range map[string]string{
		abi.ImportLog:      "(level i32, ptr i32, len i32) -> ()",
		abi.ImportPgBegin:  "() -> i64",
		abi.ImportPgCommit: "(tx i64) -> i64",
	} {
		imp, ok := abi.LookupImport(name)
		if !ok || imp.Signature() != want {
			t.Errorf("%s: %q, %v; want %q", name, imp.Signature(), ok, want)
		}
	}
	if _, ok := abi.LookupImport("nope"); ok {
		t.Error("LookupImport found a function the ABI does not have")
	}
}
