// Package dialect is SQLite's sqldest.Dialect: its types (see the table in
// guests/sqlite/README.md), DDL, catalog and load statements.
package dialect

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest"
)

// SQLite is the dialect.
type SQLite struct{ sqldest.DoubleQuote }

// Name implements sqldest.Dialect.
func (SQLite) Name() string { return "SQLite" }

var (
	native = sqldest.NativeAs
	text   = sqldest.TextAs
	json   = sqldest.Stored{Type: "json", Codec: sqldest.JSON}
)

// types are SQLite's declared types. SQLite stores any value in any
// column; the declared type sets the column's affinity, so text forms go
// to types with TEXT or no converting affinity: uint64 beyond int64 as its
// decimal text, decimals as text, timestamps as fixed-width UTC text.
var types = sqldest.TypeMap{
	Database: "SQLite",
	UUID:     text("text"), Inet: text("text"), MAC: text("text"), JSON: json,
	Bool:    native("boolean"),
	Int:     [4]sqldest.Stored{native("integer"), native("integer"), native("integer"), native("integer")},
	Uint:    [4]sqldest.Stored{native("integer"), native("integer"), native("integer"), text("text")},
	Float32: native("real"), Float64: native("real"),
	String: native("text"), Binary: native("blob"),
	Date: text("date"), Time: text("time"),
	Timestamp: sqldest.Stored{Type: "timestamp", Codec: sqldest.TimeText},
	Duration:  native("integer"),
	Decimal: func(t *arrow.Decimal128Type) sqldest.Stored {
		return text(fmt.Sprintf("decimal_text(%d,%d)", t.Precision, t.Scale))
	},
	Nested: json,
}

// Column maps an Arrow type to a declared type (types).
func (SQLite) Column(c *sqldest.Column) error {
	if err := types.Map(c); err != nil {
		return err
	}
	if c.Codec != sqldest.Native {
		// The driver reads columns declared date or timestamp as times:
		// read the text as it is.
		c.ReadExpr = "CAST(%s AS TEXT)"
	}
	return nil
}

// Current reads the table from pragma table_info and its unique indexes.
func (d SQLite) Current(db sqldest.DB, tx int64, table string) (bool, []abi.Column, error) {
	cols, err := sqldest.CatalogColumns(db, tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeBool, abi.SQLTypeInt64},
		`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`,
		func(rec arrow.RecordBatch, i int) abi.Column {
			names, types := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
			nn, pk := rec.Column(2).(*array.Boolean), rec.Column(3).(*array.Int64)
			return abi.Column{Name: names.Value(i), Type: strings.ToLower(types.Value(i)), NotNull: nn.Value(i) || pk.Value(i) > 0, PrimaryKey: pk.Value(i) > 0}
		}, table)
	if err != nil || len(cols) == 0 {
		return false, nil, err
	}
	uniq, err := d.uniqueColumns(db, tx, table)
	if err != nil {
		return false, nil, err
	}
	for i := range cols {
		cols[i].Unique = len(uniq[cols[i].Name]) > 0
	}
	return true, cols, nil
}

// uniqueColumns maps each column with a single-column unique index (not
// the primary key's, not partial) to those indexes' names.
func (SQLite) uniqueColumns(db sqldest.DB, tx int64, table string) (map[string][]string, error) {
	rdr, err := db.Query(tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8},
		`SELECT il.name, ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii
		 WHERE il."unique" AND il.origin <> 'pk' AND NOT il.partial
		   AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1`, table)
	if err != nil {
		return nil, err
	}
	return sqldest.IndexColumns(rdr)
}

func (d SQLite) columnDDL(c sqldest.Column) string {
	s := d.Quote(c.Name) + " " + c.Type
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

func (d SQLite) uniqueIndex(table, column string) string {
	return fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", d.Quote(table+"_"+column+"_key"), d.Quote(table), d.Quote(column))
}

// CreateTable creates the table with its primary key; unique columns get
// unique indexes of their own, which can be dropped later (SQLite cannot
// drop a constraint).
func (d SQLite) CreateTable(table string, cols []sqldest.Column) []string {
	var defs, pk []string
	for _, c := range cols {
		defs = append(defs, d.columnDDL(c))
		if c.PK {
			pk = append(pk, d.Quote(c.Name))
		}
	}
	if len(pk) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
	}
	stmts := []string{"CREATE TABLE " + d.Quote(table) + " (" + strings.Join(defs, ", ") + ")"}
	for _, c := range cols {
		if c.Unique && !c.PK {
			stmts = append(stmts, d.uniqueIndex(table, c.Name))
		}
	}
	return stmts
}

// AddColumn adds a nullable column (and its unique index).
func (d SQLite) AddColumn(table string, c sqldest.Column) []string {
	stmts := []string{"ALTER TABLE " + d.Quote(table) + " ADD COLUMN " + d.columnDDL(c)}
	if c.Unique {
		stmts = append(stmts, d.uniqueIndex(table, c.Name))
	}
	return stmts
}

// DropUnique drops the column's unique indexes. A UNIQUE constraint
// written in a CREATE TABLE (by another program) cannot be dropped in
// SQLite: the table is rebuilt without it.
func (d SQLite) DropUnique(db sqldest.DB, tx int64, table, column string) error {
	uniq, err := d.uniqueColumns(db, tx, table)
	if err != nil {
		return err
	}
	for _, idx := range uniq[column] {
		if strings.HasPrefix(idx, "sqlite_autoindex_") {
			return fmt.Errorf("the unique constraint is part of the table's definition, which SQLite cannot alter: drop it by hand (recreate the table without UNIQUE on %s)", d.Quote(column))
		}
		if _, err := db.Exec(tx, "DROP INDEX "+d.Quote(idx)); err != nil {
			return err
		}
	}
	return nil
}

// MovePKToCQID rebuilds the table (SQLite cannot alter a primary key),
// with every current column, those the schema dropped kept.
func (d SQLite) MovePKToCQID(db sqldest.DB, tx int64, table string, cur []abi.Column, cols []sqldest.Column) error {
	return sqldest.MovePKToCQIDByRebuild(db, tx, d, table, cur, cols)
}

// Load inserts with a prepared statement per row, in one transaction;
// upserts update every column of the row whose key conflicts.
func (d SQLite) Load(table string, cols []sqldest.Column, upsert bool) abi.SQLLoadRequest {
	names := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		names[i], marks[i] = d.Quote(c.Name), "?"
	}
	q := "INSERT INTO " + d.Quote(table) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	if upsert {
		q += sqldest.OnConflictUpdate(d, cols)
	}
	return abi.SQLLoadRequest{Method: abi.SQLLoadRows, SQL: q}
}

// SyncTimeArg is _cq_sync_time's text form.
func (SQLite) SyncTimeArg(t time.Time) any { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// TransactionalDDL: SQLite's DDL is transactional.
func (SQLite) TransactionalDDL() bool { return true }
