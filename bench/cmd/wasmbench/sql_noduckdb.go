//go:build !duckdb

package main

// duckdbTarget is nil in builds without DuckDB.
var duckdbTarget *sqlTarget
