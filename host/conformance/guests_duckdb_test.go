//go:build duckdb

package conformance_test

import (
	"testing"

	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestDuckDBGuest runs the suite on the builtin duckdb guest, a database
// file in each case's directory (hosts built with -tags duckdb,duckdb_arrow):
// every case runs but upsert_parallel.
func TestDuckDBGuest(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/duckdb"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"path": "conformance.duckdb"},
	})
	mustRun(t, rep, "upsert_parallel") // writes a table one batch at a time
}
