//go:build !duckdb

package main

// duckdbTarget is nil in hosts built without DuckDB.
var duckdbTarget *sqlTarget
