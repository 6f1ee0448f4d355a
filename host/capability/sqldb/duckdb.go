//go:build duckdb

package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/wasmdest/wasmdest/abi"
)

// DuckDB links DuckDB's C++ library through cgo (duckdb-go's bundled
// static library): ~70 MB more host and a slow link, so it is built only
// with the tags duckdb and duckdb_arrow (the latter enables duckdb-go's
// Arrow scan). RATIONALE.md has the numbers.

func init() {
	register(&driverInfo{
		name:      abi.SQLDriverDuckDB,
		file:      true,
		methods:   []string{abi.SQLLoadRows, abi.SQLLoadArrow},
		open:      openDuckDB,
		loadArrow: loadDuckDBArrow,
		hostError: func(err error, he *abi.HostError) {
			var de *duckdb.Error
			if errors.As(err, &de) {
				if de.Type == duckdb.ErrorTypeConstraint {
					he.SQLState = "23000"
				}
			}
		},
	})
}

// openDuckDB opens the file; every connection works in UTC, so that
// TIMESTAMP WITH TIME ZONE values print and cast as UTC.
func openDuckDB(_ context.Context, file string) (*sql.DB, func() error, error) {
	c, err := duckdb.NewConnector(file, func(ex driver.ExecerContext) error {
		_, err := ex.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return sql.OpenDB(c), c.Close, nil
}

// loadDuckDBArrow runs query with the rows registered as a view: DuckDB
// scans the Arrow stream as it arrives and casts as the statement says.
func loadDuckDBArrow(ctx context.Context, conn *sql.Conn, query string, rows recordSource) (int64, error) {
	name := fmt.Sprintf("wasmdest_rows_%d", handles.Add(1))
	var n int64
	err := conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a DuckDB connection")
		}
		ar, err := duckdb.NewArrowFromConn(dconn)
		if err != nil {
			return err
		}
		release, err := ar.RegisterView(rows, name)
		if err != nil {
			return err
		}
		defer release()
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return errors.New("the DuckDB connection cannot execute")
		}
		res, err := ex.ExecContext(ctx, strings.ReplaceAll(query, abi.SQLLoadSource, `"`+name+`"`), nil)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = ex.ExecContext(ctx, `DROP VIEW IF EXISTS "`+name+`"`, nil)
		return err
	})
	return n, err
}
