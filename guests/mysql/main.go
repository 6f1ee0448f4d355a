//go:build wasip1

// Command mysql is the wasmdest MySQL 8 / MariaDB destination guest. It
// writes Arrow record batches through the host's sql capability
// (go-sql-driver/mysql in the host): one LOAD DATA LOCAL INFILE per batch,
// fed from the batch's rows, REPLACE for upserts. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mysql.wasm ./guests/mysql
package main

import (
	_ "embed"
	"time"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest/sqlguest"
	"github.com/wasmdest/wasmdest/guests/mysql/internal/dialect"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	sqlguest.Register(abi.Manifest{
		Name:       "mysql",
		Version:    version,
		SpecSchema: specSchema,
		Secrets:    []string{"dsn"},
		SQLDrivers: []string{abi.SQLDriverMySQL},
		BatchDefaults: abi.BatchLimits{
			Rows:    10000,
			Bytes:   100000000,
			Timeout: time.Minute,
		},
	}, &dialect.MySQL{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
