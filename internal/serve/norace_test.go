//go:build !race

package serve_test

import "testing"

// compileExecutable is the program the tests' servers run to compile an
// upload (serve.Options.CompileExecutable): this test binary (TestMain).
func compileExecutable(testing.TB) string { return "" }

// removeCompileExecutable has nothing to remove.
func removeCompileExecutable() {}

// raceUploadMiB is added to the compile memory of the hostile-upload test's
// huge function: nothing without the race detector.
const raceUploadMiB = 0
