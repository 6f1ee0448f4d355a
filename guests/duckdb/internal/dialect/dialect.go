// Package dialect is DuckDB's sqldest.Dialect: types (see the table in
// guests/duckdb/README.md), DDL, catalog and Arrow-scan load statements.
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

// DuckDB is the dialect.
type DuckDB struct{ sqldest.DoubleQuote }

// Name implements sqldest.Dialect.
func (DuckDB) Name() string { return "DuckDB" }

var (
	native = sqldest.NativeAs
	text   = sqldest.TextAs
	json   = sqldest.Stored{Type: "JSON", Codec: sqldest.JSON}
)

// types are DuckDB's types, named as duckdb_columns() reports them. The
// rows reach DuckDB as Arrow (an Arrow scan), which casts text forms (UUID,
// TIME) itself.
var types = sqldest.TypeMap{
	Database: "DuckDB",
	UUID:     text("UUID"), Inet: text("VARCHAR"), MAC: text("VARCHAR"), JSON: json,
	Bool:    native("BOOLEAN"),
	Int:     [4]sqldest.Stored{native("TINYINT"), native("SMALLINT"), native("INTEGER"), native("BIGINT")},
	Uint:    [4]sqldest.Stored{native("UTINYINT"), native("USMALLINT"), native("UINTEGER"), native("UBIGINT")},
	Float32: native("FLOAT"), Float64: native("DOUBLE"),
	String: native("VARCHAR"), Binary: native("BLOB"),
	Date: native("DATE"), Time: text("TIME"),
	Timestamp: native("TIMESTAMP WITH TIME ZONE"),
	Duration:  native("BIGINT"),
	Decimal: func(t *arrow.Decimal128Type) sqldest.Stored {
		if t.Precision > 38 {
			return text("VARCHAR")
		}
		return native(fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale))
	},
	Nested: json,
}

// Column maps an Arrow type to a DuckDB type (types).
func (DuckDB) Column(c *sqldest.Column) error {
	if err := types.Map(c); err != nil {
		return err
	}
	if c.Codec != sqldest.Native || isText(c.Field.Type) {
		c.ReadExpr = "CAST(%s AS VARCHAR)"
	}
	return nil
}

// isText reports whether a Native column of dt is read back as text
// (decimals: the driver's decimal values have no exact float).
func isText(dt arrow.DataType) bool {
	switch dt.(type) {
	case *arrow.StringType, *arrow.LargeStringType, *arrow.Decimal128Type:
		return true
	}
	return false
}

// Current reads the table from duckdb_columns() and duckdb_constraints()
// in the current schema.
func (d DuckDB) Current(db sqldest.DB, tx int64, table string) (bool, []abi.Column, error) {
	cols, err := sqldest.CatalogColumns(db, tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeBool},
		`SELECT column_name, data_type, NOT is_nullable FROM duckdb_columns()
		 WHERE schema_name = current_schema() AND table_name = ? ORDER BY column_index`,
		func(rec arrow.RecordBatch, i int) abi.Column {
			names, types, nn := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.Boolean)
			return abi.Column{Name: names.Value(i), Type: types.Value(i), NotNull: nn.Value(i)}
		}, table)
	if err != nil || len(cols) == 0 {
		return false, nil, err
	}
	keys, err := d.constraints(db, tx, table)
	if err != nil {
		return false, nil, err
	}
	for i := range cols {
		cols[i].PrimaryKey = keys[cols[i].Name]["PRIMARY KEY"]
		cols[i].Unique = keys[cols[i].Name]["UNIQUE"]
		if cols[i].PrimaryKey {
			cols[i].NotNull = true
		}
	}
	return true, cols, nil
}

// constraints maps each column to the kinds of key it is in: every column
// of the primary key, and columns with a single-column unique constraint.
func (DuckDB) constraints(db sqldest.DB, tx int64, table string) (map[string]map[string]bool, error) {
	rdr, err := db.Query(tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeInt64},
		`SELECT constraint_type, unnest(constraint_column_names), len(constraint_column_names) FROM duckdb_constraints()
		 WHERE schema_name = current_schema() AND table_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')`, table)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	out := map[string]map[string]bool{}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		kinds, cols, n := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			if kinds.Value(i) == "UNIQUE" && n.Value(i) != 1 {
				continue
			}
			if out[cols.Value(i)] == nil {
				out[cols.Value(i)] = map[string]bool{}
			}
			out[cols.Value(i)][kinds.Value(i)] = true
		}
	}
	return out, rdr.Err()
}

// CreateTable creates the table with its primary key and unique
// constraints.
func (d DuckDB) CreateTable(table string, cols []sqldest.Column) []string {
	var defs, pk []string
	for _, c := range cols {
		def := d.Quote(c.Name) + " " + c.Type
		if c.NotNull {
			def += " NOT NULL"
		}
		if c.Unique && !c.PK {
			def += " UNIQUE"
		}
		defs = append(defs, def)
		if c.PK {
			pk = append(pk, d.Quote(c.Name))
		}
	}
	if len(pk) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
	}
	return []string{"CREATE TABLE " + d.Quote(table) + " (" + strings.Join(defs, ", ") + ")"}
}

// AddColumn adds a nullable column. DuckDB adds no constraint to an
// existing table: a new unique column is added without one, and describe
// shows the difference to the host.
func (d DuckDB) AddColumn(table string, c sqldest.Column) []string {
	return []string{"ALTER TABLE " + d.Quote(table) + " ADD COLUMN " + d.Quote(c.Name) + " " + c.Type}
}

// DropUnique rebuilds the table without the column's unique constraint
// (DuckDB drops no constraint).
func (d DuckDB) DropUnique(db sqldest.DB, tx int64, table, column string) error {
	_, cur, err := d.Current(db, tx, table)
	if err != nil {
		return err
	}
	cols := sqldest.CurrentColumns(cur)
	for i := range cols {
		if cols[i].Name == column {
			cols[i].Unique = false
		}
	}
	return sqldest.Rebuild(db, tx, d, table, cols)
}

// MovePKToCQID rebuilds the table (DuckDB cannot alter a primary key).
func (d DuckDB) MovePKToCQID(db sqldest.DB, tx int64, table string, cur []abi.Column, cols []sqldest.Column) error {
	return sqldest.MovePKToCQIDByRebuild(db, tx, d, table, cur, cols)
}

// Load is an INSERT ... SELECT from the rows' Arrow scan; upserts update
// every column of the row whose key conflicts.
func (d DuckDB) Load(table string, cols []sqldest.Column, upsert bool) abi.SQLLoadRequest {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = d.Quote(c.Name)
	}
	list := strings.Join(names, ", ")
	q := "INSERT INTO " + d.Quote(table) + " (" + list + ") SELECT " + list + " FROM " + abi.SQLLoadSource
	if upsert {
		q += sqldest.OnConflictUpdate(d, cols)
	}
	return abi.SQLLoadRequest{Method: abi.SQLLoadArrow, SQL: q}
}

// SyncTimeArg is _cq_sync_time as text DuckDB casts (the session is in UTC).
func (DuckDB) SyncTimeArg(t time.Time) any { return t.UTC().Format("2006-01-02 15:04:05.000000+00") }

// TransactionalDDL: DuckDB's DDL is transactional.
func (DuckDB) TransactionalDDL() bool { return true }
