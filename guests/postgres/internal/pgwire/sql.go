// Package pgwire is the SQL of the PostgreSQL guest: identifiers, DDL, the
// COPY and upsert statements. How values are stored and encoded is package
// pgbinary's (internal/pgbinary), shared with the host,
// which encodes the guest's batches natively. It has no host dependencies,
// so it builds and is tested natively as well as for GOOS=wasip1.
package pgwire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// Column is one column of a table the guest writes: its name in the Arrow
// schema, its stored (truncated) name, and how it is stored.
type Column struct {
	Name    string
	Stored  string
	Type    *pgbinary.Type
	NotNull bool
	PK      bool
	Unique  bool
}

func identList(cols []Column, pick func(Column) bool) string {
	var b strings.Builder
	for _, c := range cols {
		if pick != nil && !pick(c) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Ident(c.Stored))
	}
	return b.String()
}

// ColumnDDL is a column's definition in CREATE TABLE or ADD COLUMN.
func ColumnDDL(c Column) string {
	s := Ident(c.Stored) + " " + c.Type.PG
	if c.NotNull || c.PK {
		s += " NOT NULL"
	}
	return s
}

// PKConstraint names a table's primary key constraint as the CloudQuery
// destination does: <table>_cqpk.
func PKConstraint(table string) string { return DerivedName(table, "_cqpk") }

// PerformanceIndex names the index of create_performance_indexes:
// <table>_cqpi, as the CloudQuery destination does.
func PerformanceIndex(table string) string { return DerivedName(table, "_cqpi") }

// CreateTable returns the CREATE TABLE statement for cols, with the primary
// key and unique constraints.
func CreateTable(schema, table string, cols []Column) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", Qualified(schema, table))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  " + ColumnDDL(c))
	}
	if pk := identList(cols, func(c Column) bool { return c.PK }); pk != "" {
		fmt.Fprintf(&b, ",\n  CONSTRAINT %s PRIMARY KEY (%s)", Ident(PKConstraint(table)), pk)
	}
	for _, c := range cols {
		if c.Unique {
			fmt.Fprintf(&b, ",\n  UNIQUE (%s)", Ident(c.Stored))
		}
	}
	b.WriteString("\n)")
	return b.String()
}

// CopyFrom returns the binary COPY of cols into table.
func CopyFrom(qualifiedTable string, cols []Column, extra ...string) string {
	list := identList(cols, nil)
	for _, e := range extra {
		list += ", " + Ident(e)
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", qualifiedTable, list)
}

// StageTable returns the name of the temporary staging table of an upsert
// into table with cols, and the name of its ordinal column. The name depends
// on the table and on every column's name and type, so that a staging table
// kept by a session (ON COMMIT DELETE ROWS) is reused only while it fits.
func StageTable(schema, table string, cols []Column) (name, ordinal string) {
	h := sha256.New()
	fmt.Fprintf(h, "%q.%q", schema, table)
	taken := map[string]bool{}
	for _, c := range cols {
		fmt.Fprintf(h, "|%q %s", c.Stored, c.Type.PG)
		taken[c.Stored] = true
	}
	ordinal = "_wasmdest_ord"
	for taken[ordinal] {
		ordinal += "_"
	}
	return "wasmdest_stage_" + hex.EncodeToString(h.Sum(nil)[:8]), ordinal
}

// CreateStage returns the statement making the staging table if this session
// does not have it yet. Its rows vanish at every commit.
func CreateStage(stage, ordinal string, cols []Column) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TEMP TABLE IF NOT EXISTS %s (", Ident(stage))
	for _, c := range cols {
		b.WriteString(Ident(c.Stored) + " " + c.Type.PG + ", ")
	}
	fmt.Fprintf(&b, "%s bigint) ON COMMIT DELETE ROWS", Ident(ordinal))
	return b.String()
}

// Upsert returns the statement moving the staged rows into the table:
// INSERT ... SELECT ... ON CONFLICT (pk) DO UPDATE SET every other column, so
// that new keys are inserted and existing rows get every column replaced, in
// one statement that fails only when something is wrong (no error is
// expected and caught: see RATIONALE.md, "Upserts: one statement, no
// expected error").
//
// With dedupe (the batch may hold a key twice), only the last staged row of
// each key (highest ordinal) is taken, with DISTINCT ON, so that duplicate
// keys cannot fail the statement (SQLSTATE 21000); the sort that costs is
// left out when the guest saw every key once.
func Upsert(qualifiedTable, stage, ordinal string, cols []Column, dedupe bool) string {
	all := identList(cols, nil)
	pk := identList(cols, func(c Column) bool { return c.PK })
	var set []string
	for _, c := range cols {
		if !c.PK {
			set = append(set, Ident(c.Stored)+" = excluded."+Ident(c.Stored))
		}
	}
	action := "DO NOTHING"
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	rows := fmt.Sprintf("SELECT %s FROM pg_temp.%s", all, Ident(stage))
	if dedupe {
		rows = fmt.Sprintf("SELECT DISTINCT ON (%s) %s FROM pg_temp.%s ORDER BY %s, %s DESC", pk, all, Ident(stage), pk, Ident(ordinal))
	}
	return fmt.Sprintf("INSERT INTO %s (%s)\n%s\nON CONFLICT (%s) %s", qualifiedTable, all, rows, pk, action)
}
