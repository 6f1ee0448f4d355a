//go:build duckdb

package main

import (
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
)

// duckdbTarget is the duckdb guest, in hosts built with DuckDB.
var duckdbTarget = &sqlTarget{
	guest: "duckdb",
	spec:  func(*testing.T) string { return `path = "db/dest.duckdb"` },
	open: func(_ *testing.T, dir string) sqldb.Options {
		return sqldb.Options{Driver: abi.SQLDriverDuckDB, Dir: dir, Path: "db/dest.duckdb"}
	},
}
