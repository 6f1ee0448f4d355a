//go:build duckdb

package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
)

// duckdbTarget is DuckDB, in builds with it: its appender against the
// guest's Arrow scan.
var duckdbTarget = &sqlTarget{guest: "duckdb", native: "duckdb-go Appender", target: 0.5,
	spec: func(_ *bench, dir string) (map[string]any, sqldb.Options, error) {
		return map[string]any{"path": "bench.duckdb"}, sqldb.Options{Driver: abi.SQLDriverDuckDB, Dir: dir, Path: "bench.duckdb"}, nil
	},
	load: loadDuckDB}

// loadDuckDB appends every row with DuckDB's appender, flushed per batch.
func loadDuckDB(ctx context.Context, db *sql.DB, recs []arrow.RecordBatch) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		app, err := duckdb.NewAppenderFromConn(c, "", table)
		if err != nil {
			return err
		}
		row := make([]driver.Value, recs[0].NumCols())
		for _, rec := range recs {
			for i := 0; i < int(rec.NumRows()); i++ {
				for j, col := range rec.Columns() {
					switch cc := col.(type) {
					case *arrowtypes.UUIDArray:
						if cc.IsNull(i) {
							row[j] = nil
						} else {
							row[j] = duckdb.UUID(cc.Value(i))
						}
					default:
						if ts, ok := col.(interface{ Value(int) arrow.Timestamp }); ok && !col.IsNull(i) {
							row[j] = ts.Value(i).ToTime(arrow.Microsecond).UTC()
						} else {
							row[j] = sqliteValue(col, i)
						}
					}
				}
				if err := app.AppendRow(row...); err != nil {
					app.Close()
					return err
				}
			}
			if err := app.Flush(); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
}
