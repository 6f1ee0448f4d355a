package sqldest

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
)

// CatalogColumns runs a catalog query of a table's columns (result types
// types, arguments args) and turns each result row into a column with
// row; none means the table does not exist.
func CatalogColumns(db DB, tx int64, types []string, query string, row func(rec arrow.RecordBatch, i int) abi.Column, args ...any) ([]abi.Column, error) {
	rdr, err := db.Query(tx, types, query, args...)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var cols []abi.Column
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			cols = append(cols, row(rec, i))
		}
	}
	return cols, rdr.Err()
}

// IndexColumns reads the rows of a catalog query of two text columns, an
// index's name and its column, into the names of each column's indexes.
func IndexColumns(rdr array.RecordReader) (map[string][]string, error) {
	defer rdr.Release()
	out := map[string][]string{}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		idx, ok1 := rec.Column(0).(*array.String)
		col, ok2 := rec.Column(1).(*array.String)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("index query: columns %s, %s, want two utf8", rec.Column(0).DataType(), rec.Column(1).DataType())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if !col.IsNull(i) {
				out[col.Value(i)] = append(out[col.Value(i)], idx.Value(i))
			}
		}
	}
	return out, rdr.Err()
}

// OnConflictUpdate is the clause that makes an INSERT of cols an upsert on
// their primary key, as SQLite and DuckDB write it: every other column
// takes the new row's value (DO NOTHING when there is none).
func OnConflictUpdate(d Dialect, cols []Column) string {
	var pk, set []string
	for _, c := range cols {
		if c.PK {
			pk = append(pk, d.Quote(c.Name))
		} else {
			set = append(set, d.Quote(c.Name)+" = excluded."+d.Quote(c.Name))
		}
	}
	if len(set) == 0 {
		return " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
	}
	return " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}
