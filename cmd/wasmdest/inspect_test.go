package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestInspectShowsManifestAndImports(t *testing.T) {
	code, stdout, stderr := wasmdest(t, "inspect", filepath.Join(builtinGuests(t), "postgres.wasm"), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep inspection
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if !rep.Runnable || rep.Manifest == nil || rep.Manifest.Name != "postgres" || rep.ABIVersion != abi.CurrentVersion.String() {
		t.Fatalf("report: %+v", rep)
	}
	var secret, pgExec bool
	for _, k := range rep.SpecKeys {
		secret = secret || (k.Name == "connection_string" && k.Secret && k.Required)
	}
	for _, f := range rep.Imports {
		pgExec = pgExec || (f.Module == "wasmdest" && f.Name == "pg_exec" && f.ABI == "capability postgres" && f.Type == "(i32, i32) -> (i64)")
	}
	if !secret || !pgExec {
		t.Errorf("connection_string secret and required: %v; pg_exec import of capability postgres: %v\n%s", secret, pgExec, stdout)
	}
	if len(rep.Exports) < 5 {
		t.Errorf("exports: %+v", rep.Exports)
	}

	code, stdout, _ = wasmdest(t, "inspect", filepath.Join(builtinGuests(t), "file.wasm"))
	for _, want := range []string{"runnable:", "yes", "capabilities:", "filesystem", "wasmdest.input_read", "wasmdest_call", "spec keys", "path"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, text report lacks %q:\n%s", code, want, stdout)
		}
	}
}

func TestInspectRefusedGuest(t *testing.T) {
	code, stdout, _ := wasmdest(t, "inspect", testenv.BuildGuest(t, "host/testdata/guests/abiv2"), "--json")
	if code != 1 {
		t.Errorf("exit %d for a guest of ABI 2.0, want 1", code)
	}
	var rep inspection
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Runnable || !strings.Contains(rep.Reason, "ABI 2.0") || !strings.Contains(rep.Reason, "major versions differ") {
		t.Errorf("reason %q", rep.Reason)
	}
	if len(rep.Exports) == 0 {
		t.Error("a refused guest's exports are still listed")
	}

	code, stdout, _ = wasmdest(t, "inspect", filepath.Join("..", "..", "go.mod"))
	if code != 1 || !strings.Contains(stdout, "not a valid WebAssembly module") {
		t.Errorf("exit %d for a file that is not wasm:\n%s", code, stdout)
	}
}

// TestInspectDescribesCapabilities: inspect says what each capability the
// guest asks for gives it, from the capability itself.
func TestInspectDescribesCapabilities(t *testing.T) {
	code, stdout, stderr := wasmdest(t, "inspect", filepath.Join(builtinGuests(t), "postgres.wasm"), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep inspection
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(rep.Capabilities) != 1 || rep.Capabilities[0].Name != "postgres" ||
		!strings.Contains(rep.Capabilities[0].Description, "pg_* host functions") ||
		!slices.Equal(rep.Capabilities[0].SecretKeys, []string{"connection_string"}) {
		t.Errorf("capabilities: %+v", rep.Capabilities)
	}
	code, stdout, _ = wasmdest(t, "inspect", filepath.Join(builtinGuests(t), "file.wasm"))
	if code != 0 || !strings.Contains(stdout, "capabilities (what the host grants):") || !strings.Contains(stdout, "mounted at /") {
		t.Errorf("exit %d, text report lacks the filesystem capability's description:\n%s", code, stdout)
	}
}

// TestInspectShowsSQL: the sqlite guest's capability, its drivers and the
// sql capability's description, with this build's drivers.
func TestInspectShowsSQL(t *testing.T) {
	addBuiltin(t, "sqlite")
	code, stdout, stderr := wasmdest(t, "inspect", filepath.Join(builtinGuests(t), "sqlite.wasm"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"capabilities:    sql", "sql drivers:     sqlite", "sql_* host functions", "secret spec keys: dsn", "sqlite"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect does not show %q:\n%s", want, stdout)
		}
	}
}
