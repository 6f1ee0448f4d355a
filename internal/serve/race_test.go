//go:build race

package serve_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// compileChild is the program the tests' servers run to compile an upload
// (serve.Options.CompileExecutable). Under the race detector it is wasmdest
// built without it, as it ships: a race-built child (this test binary)
// takes 400-528 MiB of RLIMIT_DATA before it reads a module and compiles
// several times slower, which made every deploy of these tests cost
// seconds to a minute of CPU while checking nothing of the server's own
// concurrency, which stays under the detector (RATIONALE.md, "The test
// suite's time").
var compileChild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// compileExecutable builds the compile child once per test process.
func compileExecutable(t testing.TB) string {
	t.Helper()
	c := &compileChild
	c.once.Do(func() {
		if c.dir, c.err = os.MkdirTemp("", "wasmdest-serve-compile-child"); c.err != nil {
			return
		}
		c.path = filepath.Join(c.dir, "wasmdest")
		cmd := exec.Command("go", "build", "-o", c.path, "github.com/wasmdest/wasmdest/cmd/wasmdest")
		if out, err := cmd.CombinedOutput(); err != nil {
			c.err = fmt.Errorf("build the compile child (wasmdest without -race): %v\n%s", err, out)
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.path
}

// removeCompileExecutable removes what compileExecutable built.
func removeCompileExecutable() {
	if compileChild.dir != "" {
		os.RemoveAll(compileChild.dir)
	}
}

// raceUploadMiB is added to the compile memory of the hostile-upload test's
// huge function: under the race detector the server's own RSS grows by
// ~470 MiB with that 18 MB upload's bytes (the in-process client's and the
// server's), so its compile child is let reach a peak that stands clear of
// that (it still fails: the compilation needs ~1 GiB).
const raceUploadMiB = 256
