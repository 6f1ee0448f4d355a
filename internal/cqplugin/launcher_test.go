package cqplugin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// lockedBuffer is a bytes.Buffer safe for a process's output and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildWasmdest builds the wasmdest command.
func buildWasmdest(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wasmdest")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/wasmdest")
	cmd.Dir = testenv.RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build wasmdest: %v\n%s", err, b)
	}
	return out
}

// TestStartedAsTheCLIStartsIt: `wasmdest plugin --launcher` writes an
// executable; it is started as CloudQuery's CLI starts a local plugin
// ("serve --network unix --address SOCKET --log-level info --log-format
// json"), logs JSON lines the CLI can read, and takes a whole CLI sync over
// the unix socket into PostgreSQL. (The file guest takes the same sync over
// TCP in TestFileGuestOverTCP: started as its own process it compiles its
// 74 MB of wasm again, minutes on a loaded 2-core machine.)
func TestStartedAsTheCLIStartsIt(t *testing.T) {
	wasmdest := buildWasmdest(t)
	url := testenv.PostgresURL(t)
	for _, tc := range []struct {
		guest, spec string
		o           syncOptions
	}{
		{"guests/postgres", pgSpec(url), syncOptions{deleteStale: true}},
	} {
		t.Run(filepath.Base(tc.guest), func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, "out")
			launcher := filepath.Join(tmp, "cq-plugin")
			b, err := exec.Command(wasmdest, "plugin", "--guest", testenv.BuildGuest(t, tc.guest), "--dir", dir,
				"--cache-dir", testenv.CacheDir(t), "--launcher", launcher).CombinedOutput()
			if err != nil {
				t.Fatalf("--launcher: %v\n%s", err, b)
			}
			sock := filepath.Join(tmp, "plugin.sock")
			cmd := exec.Command(launcher, "serve", "--log-level", "info", "--log-format", "json", "--network", "unix", "--address", sock, "--no-sentry")
			var logs lockedBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}()
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if _, err := os.Stat(sock); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no socket after 2 minutes; logs:\n%s", logs.String())
				}
			}
			conn := dial(t, "unix://"+sock)
			if err := cliSync(t, conn, tc.spec, twoTables(), tc.o); err != nil {
				t.Fatalf("sync: %v\nlogs:\n%s", err, logs.String())
			}
			if strings.Contains(tc.guest, "postgres") {
				for _, table := range []string{"cq_users", "cq_events"} {
					if n := count(t, url, table); n != 120 {
						t.Errorf("%s: %d rows, want 120", table, n)
					}
				}
			} else {
				checkJSONFiles(t, dir)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("plugin exit after SIGTERM: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			sawSync := false
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("log line is not JSON: %q", l)
					continue
				}
				lvl, _ := m["level"].(string)
				msg, ok := m["message"].(string)
				if !ok || !strings.Contains("trace debug info warn error", lvl) || lvl == "" {
					t.Errorf("log line without level/message as CloudQuery's CLI reads them: %q", l)
				}
				if msg == "sync finished" {
					sawSync = true
				}
			}
			if !sawSync {
				t.Errorf("no \"sync finished\" log line:\n%s", logs.String())
			}
		})
	}
}
