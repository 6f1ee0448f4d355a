//go:build wasip1

// Command sqlite is the wasmdest SQLite destination guest. It writes Arrow
// record batches to an SQLite database file in the destination's
// directory through the host's sql capability (modernc.org/sqlite in the
// host): prepared inserts in one transaction per batch, upserts with
// INSERT ... ON CONFLICT DO UPDATE. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sqlite.wasm ./guests/sqlite
package main

import (
	_ "embed"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest/sqlguest"
	"github.com/wasmdest/wasmdest/guests/sqlite/internal/dialect"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	sqlguest.Register(abi.Manifest{
		Name:       "sqlite",
		Version:    version,
		SpecSchema: specSchema,
		SQLDrivers: []string{abi.SQLDriverSQLite},
		BatchDefaults: abi.BatchLimits{
			Rows:    10000,
			Bytes:   100000000,
			Timeout: time.Minute,
		},
	}, dialect.SQLite{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
