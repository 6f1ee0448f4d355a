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

// TestServeGuestStoreS3Flags: an s3:// --guest-store is opened with the
// --guest-store-* flags and the AWS default chain's keys (the server
// starts on an existing bucket, and names a missing one); the S3 flags
// without an s3:// store are refused.
func TestServeGuestStoreS3Flags(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg := filepath.Join(t.TempDir(), "tenants.toml")
	_, sha := serve.NewToken()
	os.WriteFile(cfg, []byte(fmt.Sprintf("[[tenant]]\nname = \"acme\"\ntoken_sha256 = %q\nmay_deploy = true\n"+
		"[[tenant.destination]]\nname = \"d\"\nregistry = \"deployed\"\npath = \"w\"\n", sha)), 0o644)
	base := []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--http", "", "--log-level", "info",
		"--guest-store-endpoint", srv.Endpoint, "--guest-store-region", srv.Region, "--guest-store-path-style"}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	serr := &syncBuffer{}
	go func() {
		done <- run(ctx, append(base, "--guest-store", "s3://"+bucket+"/guests"), &bytes.Buffer{}, serr)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	code := -1
	for code < 0 && !strings.Contains(serr.String(), "serving") && time.Now().Before(deadline) {
		select {
		case code = <-done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if code < 0 {
		code = <-done
	}
	if code != 0 || !strings.Contains(serr.String(), "serving") {
		t.Fatalf("serve on s3://%s/guests: exit %d:\n%s", bucket, code, serr.String())
	}

	var errb bytes.Buffer
	if code := run(context.Background(), append(base, "--guest-store", "s3://wasmdest-no-such-bucket/guests"), &bytes.Buffer{}, &errb); code == 0 ||
		!strings.Contains(errb.String(), `bucket "wasmdest-no-such-bucket"`) {
		t.Errorf("a missing bucket: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), append(base, "--guest-store", t.TempDir()), &bytes.Buffer{}, &errb); code != 2 ||
		!strings.Contains(errb.String(), "s3://BUCKET/PREFIX --guest-store only") {
		t.Errorf("S3 flags with a directory store: exit %d: %s", code, errb.String())
	}
}
