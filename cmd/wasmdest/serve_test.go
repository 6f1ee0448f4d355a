package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// TestServeCompilesUploadsInAChild runs the built wasmdest binary as a
// server: an upload is compiled by the same binary re-run as a child
// (main calls compilejail.Main). A module that is no guest is refused
// with the child's verdict; one that would compile for a minute is
// refused at the tenant's compile_timeout, the child killed, and the
// server has no child left afterwards.
func TestServeCompilesUploadsInAChild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "wasmdest")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenants.toml")
	tok, sha := serve.NewToken()
	os.WriteFile(cfg, []byte(fmt.Sprintf("[[tenant]]\nname = \"acme\"\ntoken_sha256 = %q\nmay_deploy = true\ncompile_timeout = \"3s\"\n"+
		"[[tenant.destination]]\nname = \"d\"\nregistry = \"deployed\"\npath = \"w\"\n", sha)), 0o644)
	srv := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--http", "", "--log-level", "info",
		"--cache-dir", testenv.CacheDir(t), "--guest-store", filepath.Join(dir, "store"))
	logs := &syncBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	addr := regexp.MustCompile(`serving: flight=(\S+)`)
	deadline := time.Now().Add(2 * time.Minute)
	for addr.FindStringSubmatch(logs.String()) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	m := addr.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("the server did not start:\n%s", logs.String())
	}
	c, err := serve.Dial(m[1], tok)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A module of one function () -> () with body code, and no exports.
	module := func(code []byte) []byte {
		body := append(append([]byte{0}, code...), 0x0b)
		size := func(n int) []byte { // LEB128
			var b []byte
			for ; n >= 0x80; n >>= 7 {
				b = append(b, byte(n)|0x80)
			}
			return append(b, byte(n))
		}
		code10 := append(append([]byte{1}, size(len(body))...), body...)
		out := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a")
		return append(append(out, size(len(code10))...), code10...)
	}
	ctx := context.Background()
	_, err = c.Deploy(ctx, "w", module(nil))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not export") {
		t.Errorf("a module without the guest exports: %v", err)
	}
	// 50000 nested empty blocks: ~52 s of wazero's compiler.
	nested := append(bytes.Repeat([]byte{0x02, 0x40}, 50000), bytes.Repeat([]byte{0x0b}, 50000)...)
	_, err = c.Deploy(ctx, "w", module(nested))
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "compile_timeout of 3s") || !strings.Contains(err.Error(), "was killed") {
		t.Errorf("a module that compiles for a minute: %v", err)
	}
	if kids := testenv.Children(srv.Process.Pid, nil); len(kids) > 0 {
		t.Errorf("the server has children left: %v", kids)
	}
	if n := strings.Count(logs.String(), "upload compiled in a child process"); n != 2 {
		t.Errorf("%d uploads compiled in a child process, want 2", n)
	}
}
