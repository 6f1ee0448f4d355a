//go:build !wasip1

package dialect_test

import (
	"context"
	"os"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest/sqldesttest"
	"github.com/wasmdest/wasmdest/guests/mysql/internal/dialect"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

func TestReferenceTableRoundTrip(t *testing.T) {
	db, err := sqldb.Open(context.Background(), sqldb.Options{Driver: "mysql", DSN: testenv.MySQLDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, sdb := sqldesttest.Open(t, db, &dialect.MySQL{})
	if err := (&dialect.MySQL{}).Init(sdb); err != nil {
		t.Fatal(err)
	}
	if err := d.Init(abiInit()); err != nil {
		t.Fatal(err)
	}
	sqldesttest.RoundTrip(t, d, "reference")
}

func abiInit() abi.InitRequest { return abi.InitRequest{Destination: "t"} }

// TestColumnTypes pins how every type of the reference table is stored,
// by MySQL and by MariaDB (JSON).
func TestColumnTypes(t *testing.T) {
	sqldesttest.CheckColumnTypes(t, &dialect.MySQL{}, "testdata/types-mysql.txt")
	sqldesttest.CheckColumnTypes(t, &dialect.MySQL{MariaDB: true}, "testdata/types-mariadb.txt")
}
