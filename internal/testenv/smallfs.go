package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
)

// SmallFS returns a new directory on a file system of its own, sizeKiB KiB
// large (a tmpfs mounted for the test and unmounted after it), for tests of
// what happens when the disk fills up. It needs root on Linux; elsewhere,
// or when mounting fails, the test fails under CI=true and is skipped
// otherwise.
func SmallFS(t testing.TB, sizeKiB int) string {
	t.Helper()
	dir := t.TempDir()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if runtime.GOOS != "linux" {
		fail("testenv: SmallFS mounts a tmpfs, which needs Linux")
		return ""
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(sizeKiB)+"k,mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		fail("testenv: SmallFS: mount a %d KiB tmpfs on %s (needs root): %v: %s", sizeKiB, dir, err, out)
		return ""
	}
	t.Cleanup(func() {
		if exec.Command("umount", dir).Run() == nil {
			return
		}
		// Still busy (a descriptor not closed yet): detach it now; the
		// kernel frees it when the last descriptor closes.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("testenv: SmallFS: umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
