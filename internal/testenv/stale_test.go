package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Cluster directories left by killed test processes are removed when their
// postmaster is gone; live and young ones, and other directories, stay.
func TestRemoveStaleClusters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("processAlive knows processes on Linux only")
	}
	tmp := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, pid int, age time.Time) {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if pid != 0 {
			pidFile := fmt.Sprintf("%d\n/tmp/x/data\n1764662400\n5432\n", pid)
			if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, age, age); err != nil {
			t.Fatal(err)
		}
	}
	mk("wasmdest-pg-dead", exited.Process.Pid, old)
	mk("wasmdest-pg-live", os.Getpid(), old)
	mk("wasmdest-pg-nopid", 0, old)
	mk("wasmdest-pg-young", 0, time.Now())
	mk("wasmbench-other", 0, old)
	removeStaleClusters(tmp, time.Hour)
	for name, kept := range map[string]bool{"wasmdest-pg-dead": false, "wasmdest-pg-live": true,
		"wasmdest-pg-nopid": false, "wasmdest-pg-young": true, "wasmbench-other": true} {
		_, err := os.Stat(filepath.Join(tmp, name))
		if got := err == nil; got != kept {
			t.Errorf("%s: kept %v, want %v", name, got, kept)
		}
	}
}
