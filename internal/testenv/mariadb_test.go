package testenv

import (
	"database/sql"
	"testing"
)

func TestMySQLDSNGivesFreshDatabases(t *testing.T) {
	a, b := MySQLDSN(t), MySQLDSN(t)
	if MySQLDatabase(t, a) == MySQLDatabase(t, b) {
		t.Fatalf("two calls gave the same database %q", MySQLDatabase(t, a))
	}
	db, err := sql.Open("mysql", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cur, version string
	var localInfile int
	if err := db.QueryRow("SELECT DATABASE(), VERSION(), @@local_infile").Scan(&cur, &version, &localInfile); err != nil {
		t.Fatal(err)
	}
	if cur != MySQLDatabase(t, a) {
		t.Errorf("connected to database %q, want %q", cur, MySQLDatabase(t, a))
	}
	if localInfile != 1 {
		t.Errorf("local_infile is %d on the test server, want 1 (LOAD DATA LOCAL INFILE)", localInfile)
	}
	t.Logf("server %s", version)
	if _, err := db.Exec("CREATE TABLE t (id int primary key)"); err != nil {
		t.Fatal(err)
	}
}

func TestKillMySQLConnections(t *testing.T) {
	dsn := MySQLDSN(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PingContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := KillMySQLConnections(t, dsn); n < 1 {
		t.Fatalf("killed %d connections, want at least 1", n)
	}
	if _, err := conn.ExecContext(t.Context(), "SELECT 1"); err == nil {
		t.Fatal("a killed connection still answers")
	}
}
