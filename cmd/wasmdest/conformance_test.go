package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestConformanceCommand(t *testing.T) {
	// The file guest with a spec given inline.
	code, stdout, stderr := wasmdest(t, "conformance", "--guest", filepath.Join(builtinGuests(t), "file.wasm"),
		"--spec", `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}"}`, "--run", "^(types|insert_basic|upsert_basic)$")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"load ", "types ", "PASS", "upsert_basic", "SKIP", "needs write_mode overwrite", "3 passed, 0 failed, 1 skipped"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}

	// The same from a configuration file: its destination gives guest, spec and directory.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wasmdest.toml")
	src := fmt.Sprintf("[[destination]]\nname = \"files\"\nregistry = \"local\"\npath = %q\nwrite_mode = \"append\"\ndirectory = \"out\"\n[destination.spec]\npath = \"{{TABLE}}/{{UUID}}.{{FORMAT}}\"\nformat = \"csv\"\n",
		filepath.Join(builtinGuests(t), "file.wasm"))
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = wasmdest(t, "conformance", "--config", cfg, "--run", "^insert_basic$", "--json", "--table-prefix", "t_")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep conformance.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(rep.Results) != 2 || !rep.OK() || rep.Manifest == nil || rep.Manifest.Name != "file" {
		t.Errorf("report: %+v", rep)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "out", "t_insert_basic", "*.csv")); len(files) != 2 {
		t.Errorf("the configuration's directory holds %v, want the 2 files of insert_basic", files)
	}
}

func TestConformanceCommandFails(t *testing.T) {
	// The misbehave guest claims overwrite but never upserts.
	code, stdout, _ := wasmdest(t, "conformance", "--guest", testenv.BuildGuest(t, "host/testdata/guests/misbehave"), "--run", "^upsert_basic$")
	if code != 1 || !strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "read back 2 rows, want 1") {
		t.Errorf("exit %d, want 1 and the failure:\n%s", code, stdout)
	}
	code, stdout, _ = wasmdest(t, "conformance", "--list")
	if code != 0 || !strings.Contains(stdout, "upsert_duplicate_keys") {
		t.Errorf("--list: exit %d\n%s", code, stdout)
	}
}
