//go:build race

package serve_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
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
		// The child must name wazero's version as this test binary does:
		// wazero keeps its compilation cache in a directory per version
		// (wazero-<version>-<arch>-<os>), and a test binary carries no
		// module versions, so wazero says "dev" here and the version of
		// go.mod in the built child. Without this the child compiles into a
		// directory the server never reads, and every deployed guest is
		// compiled again in-process under the race detector (a minute for
		// a 16 MB guest, past the Begin's deadline on a cold cache).
		ldflags := "-X github.com/tetratelabs/wazero/internal/version.version=" + wazeroVersion()
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", c.path, "github.com/wasmdest/wasmdest/cmd/wasmdest")
		if out, err := cmd.CombinedOutput(); err != nil {
			c.err = fmt.Errorf("build the compile child (wasmdest without -race): %v\n%s", err, out)
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.path
}

// wazeroVersion is the version wazero reads from this binary's build
// information (internal/version.GetWazeroVersion): the wazero dependency's,
// else "dev".
func wazeroVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if v == "" || v == "(devel)" {
			v = info.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	return v
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
