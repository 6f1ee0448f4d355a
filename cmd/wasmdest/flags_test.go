package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process as a user types it.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestHelpPrintsSynopsis: -h and --help exit 0 and print the command's
// synopsis, what it does and its flags on stdout.
func TestHelpPrintsSynopsis(t *testing.T) {
	for _, c := range []struct{ cmd, flag string }{
		{"run", "-config"}, {"validate", "-config"}, {"demo", "-dir"}, {"inspect", "-json"},
		{"conformance", "-run"}, {"new-guest", "-module"}, {"serve", "-memory-limit"},
	} {
		for _, h := range []string{"-h", "--help"} {
			code, out, errOut := runCLI(c.cmd, h)
			if code != 0 || !strings.Contains(out, "Usage: wasmdest "+c.cmd) || !strings.Contains(out, c.flag) || errOut != "" {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", c.cmd, h, code, out, errOut)
			}
		}
	}
	if code, out, _ := runCLI("-h"); code != 0 || !strings.Contains(out, "Run 'wasmdest COMMAND -h'") {
		t.Errorf("wasmdest -h: exit %d, %q", code, out)
	}
}

// TestServeSharesCommonFlags: serve takes --log-format and --memory-limit
// like the other commands, and checks them.
func TestServeSharesCommonFlags(t *testing.T) {
	code, _, errOut := runCLI("serve", "--config", filepath.Join(t.TempDir(), "none.toml"), "--log-format", "yaml")
	if code != 1 || !strings.Contains(errOut, `--log-format "yaml" is not one of text, json`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenants.toml")
	if err := os.WriteFile(cfg, []byte("[[tenant]]\nname = \"a\"\ntoken_sha256 = \""+strings.Repeat("ab", 32)+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI("serve", "--config", cfg, "--memory-limit", "8", "--listen", "127.0.0.1:0", "--http", "")
	if code != 1 || !strings.Contains(errOut, "memory_limit_mib 8 is not between 16 and 4096") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestFlagsAfterArguments: flags may follow the arguments; "--" ends the
// flags; a command that takes no arguments refuses them clearly.
func TestFlagsAfterArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.toml")
	// Before the fix the flag was taken as an input and the error was "give --config".
	code, _, errOut := runCLI("run", "data.arrows", "--config", missing)
	if code != 1 || !strings.Contains(errOut, "missing.toml") || strings.Contains(errOut, "give either") {
		t.Errorf("run INPUT --config: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("run", "--config", missing, "--", "--not-a-flag.arrows")
	if code != 1 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("run -- INPUT: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("run", "--config", missing)
	if code != 2 || !strings.Contains(errOut, "no input") || !strings.Contains(errOut, "Usage: wasmdest run") {
		t.Errorf("run without input: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("validate", "extra", "--config", missing)
	if code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("validate extra: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("inspect", "a.wasm", "b.wasm")
	if code != 2 || !strings.Contains(errOut, "give one GUEST.wasm, not 2 arguments") {
		t.Errorf("inspect a b: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("run", "--no-such-flag")
	if code != 2 || !strings.Contains(errOut, "flag provided but not defined: -no-such-flag") || !strings.Contains(errOut, "Usage: wasmdest run") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI("run", "--guest", "g.wasm", "--write-mode", "upsert", "in.arrows")
	if code != 1 || !strings.Contains(errOut, `--write-mode: write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`) {
		t.Errorf("bad write mode: exit %d, stderr %q", code, errOut)
	}
}
