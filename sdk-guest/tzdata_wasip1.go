//go:build wasip1

package sdk

// The time-zone database: WASI gives a guest none, and arrow-go resolves a
// timestamp type's zone name ("US/Eastern") whenever it turns values into
// times (CSV, JSON, ValueStr, parsing). About 450 KB per guest; a
// schema-only guest (package core) decodes no values and goes without.
import _ "time/tzdata"
