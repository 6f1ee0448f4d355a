//go:build duckdb && !wasip1

package dialect_test

import (
	"context"
	"os"
	"testing"

	"github.com/wasmdest/wasmdest/guests/duckdb/internal/dialect"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest/sqldesttest"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

func TestReferenceTableRoundTrip(t *testing.T) {
	db, err := sqldb.Open(context.Background(), sqldb.Options{Driver: "duckdb", Dir: t.TempDir(), Path: "t.duckdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, _ := sqldesttest.Open(t, db, dialect.DuckDB{})
	sqldesttest.RoundTrip(t, d, "reference")
}

// TestColumnTypes pins how every type of the reference table is stored.
func TestColumnTypes(t *testing.T) {
	sqldesttest.CheckColumnTypes(t, dialect.DuckDB{}, "testdata/types.txt")
}
