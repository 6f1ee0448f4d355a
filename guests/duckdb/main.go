//go:build wasip1

// Command duckdb is the wasmdest DuckDB destination guest. It writes Arrow
// record batches to a DuckDB database file in the destination's directory
// through the host's sql capability (duckdb-go in a host built with the
// tags duckdb and duckdb_arrow): each batch is one INSERT ... SELECT from
// an Arrow scan of its rows, ON CONFLICT DO UPDATE for upserts. See
// README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o duckdb.wasm ./guests/duckdb
package main

import (
	_ "embed"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/duckdb/internal/dialect"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest/sqlguest"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	sqlguest.Register(abi.Manifest{
		Name:       "duckdb",
		Version:    version,
		SpecSchema: specSchema,
		SQLDrivers: []string{abi.SQLDriverDuckDB},
		BatchDefaults: abi.BatchLimits{
			Rows:    100000,
			Bytes:   100000000,
			Timeout: time.Minute,
		},
	}, dialect.DuckDB{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
