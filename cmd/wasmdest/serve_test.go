package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestServeCommand: --new-token prints a token and its hash line; the
// server starts on loopback with a tenants file, serves /healthz, and stops
// when its context ends.
func TestServeCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--new-token"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	m := regexp.MustCompile(`token:\s+(\S+)\ntoken_sha256 = "([0-9a-f]{64})"`).FindStringSubmatch(out.String())
	if m == nil || serve.HashToken(m[1]) != m[2] {
		t.Fatalf("--new-token printed %q", out.String())
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenants.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[[tenant]]
name = "acme"
token_sha256 = %q
grant = ["filesystem"]
root = "acme"
[[tenant.destination]]
name = "files"
registry = "local"
path = %q
write_mode = "append"
[tenant.destination.spec]
path = "{{TABLE}}/{{UUID}}.{{FORMAT}}"
`, m[2], testenv.BuildGuest(t, "guests/file"))), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var sout bytes.Buffer
	serr := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--cache-dir", testenv.CacheDir(t), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "info"}, &sout, serr)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(serr.String(), "serving") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(serr.String(), "tenants=1") {
		t.Fatalf("exit %d:\n%s", code, serr.String())
	}
	if code := run(context.Background(), []string{"serve"}, &sout, &errb); code != 2 {
		t.Errorf("serve without --config: exit %d", code)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
