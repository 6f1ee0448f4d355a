package sqldb_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// databases opens one database per driver this build has.
func databases(t *testing.T) map[string]*sqldb.DB {
	t.Helper()
	ctx := context.Background()
	out := map[string]*sqldb.DB{}
	for _, drv := range sqldb.Drivers() {
		o := sqldb.Options{Destination: "t", Driver: drv, Dir: t.TempDir(), Path: "sub/db." + drv}
		if drv == abi.SQLDriverMySQL {
			o = sqldb.Options{Destination: "t", Driver: drv, DSN: testenv.MySQLDSN(t)}
		}
		db, err := sqldb.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out[drv] = db
	}
	return out
}

func ipcOf(t *testing.T, rec arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func query(t *testing.T, s *sqldb.Session, sql string, types ...string) arrow.RecordBatch {
	t.Helper()
	b, err := s.Query(context.Background(), abi.SQLRequest{SQL: sql, Types: types})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	if !tr.Next() {
		return array.NewRecordBatch(r.Schema(), nil, 0)
	}
	out := tr.RecordBatch()
	out.Retain()
	return out
}

func rows(schema *arrow.Schema, ids []int64, names []string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		if names[i] == "" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(names[i])
		}
	}
	return b.NewRecordBatch()
}

var kv = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)

func loadSQL(driver string, replace bool) (method, sql string) {
	switch driver {
	case abi.SQLDriverMySQL:
		verb := "IGNORE"
		if replace {
			verb = "REPLACE"
		}
		return abi.SQLLoadInfile, "LOAD DATA LOCAL INFILE " + abi.SQLLoadSource + " " + verb + " INTO TABLE t CHARACTER SET binary (id, name)"
	case abi.SQLDriverDuckDB:
		return abi.SQLLoadArrow, "INSERT INTO t SELECT * FROM " + abi.SQLLoadSource
	}
	if replace {
		return abi.SQLLoadRows, "INSERT OR REPLACE INTO t (id, name) VALUES (?, ?)"
	}
	return abi.SQLLoadRows, "INSERT INTO t (id, name) VALUES (?, ?)"
}

// TestLoadQueryRollback loads rows by each driver's method, reads them back
// as Arrow, and checks that what an operation leaves open is rolled back.
func TestLoadQueryRollback(t *testing.T) {
	ctx := context.Background()
	for drv, db := range databases(t) {
		t.Run(drv, func(t *testing.T) {
			s := sqldb.NewSession(db, nil)
			if _, err := s.Exec(ctx, abi.SQLRequest{SQL: "CREATE TABLE t (id bigint primary key, name text)"}); err != nil {
				t.Fatal(err)
			}
			method, sql := loadSQL(drv, false)
			if err := s.LoadBegin(ctx, abi.SQLLoadRequest{Method: method, SQL: sql}); err != nil {
				t.Fatal(err)
			}
			rec := rows(kv, []int64{1, 2, 3}, []string{"a\tb\\c\nd", "", "ü"})
			data := ipcOf(t, rec)
			for len(data) > 0 {
				n := min(len(data), 7)
				if err := s.LoadData(ctx, data[:n]); err != nil {
					t.Fatal(err)
				}
				data = data[n:]
			}
			n, err := s.LoadEnd(ctx)
			if err != nil || n != 3 {
				t.Fatalf("LoadEnd = %d, %v; want 3 rows", n, err)
			}
			got := query(t, s, "SELECT id, name FROM t ORDER BY id", abi.SQLTypeInt64, abi.SQLTypeUTF8)
			if got.NumRows() != 3 || got.Column(1).(*array.String).Value(0) != "a\tb\\c\nd" || !got.Column(1).IsNull(1) || got.Column(1).(*array.String).Value(2) != "ü" {
				t.Fatalf("read back %v", got)
			}
			// A transaction left open, and a load left unfinished in it,
			// are rolled back when the operation ends.
			tx, err := s.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Exec(ctx, abi.SQLRequest{Tx: tx, SQL: "DELETE FROM t WHERE id = ?", Args: []any{int64(1)}}); err != nil {
				t.Fatal(err)
			}
			if err := s.LoadBegin(ctx, abi.SQLLoadRequest{Tx: tx, Method: method, SQL: sql}); err != nil {
				t.Fatal(err)
			}
			s.End(ctx)
			s = sqldb.NewSession(db, nil)
			got = query(t, s, "SELECT count(*) FROM t", abi.SQLTypeInt64)
			if c := got.Column(0).(*array.Int64).Value(0); c != 3 {
				t.Fatalf("after the rollback: %d rows, want 3", c)
			}
			// A duplicate key fails the whole load; nothing of it stays.
			if err := s.LoadBegin(ctx, abi.SQLLoadRequest{Method: method, SQL: strings.Replace(sql, " IGNORE ", " ", 1)}); err != nil {
				t.Fatal(err)
			}
			err = s.LoadData(ctx, ipcOf(t, rows(kv, []int64{10, 11, 1}, []string{"x", "y", "dup"})))
			if err == nil {
				_, err = s.LoadEnd(ctx)
			}
			var he interface{ HostError() *abi.HostError }
			if err == nil || !errors.As(err, &he) {
				t.Fatalf("a load with a duplicate key: %v, want a database error", err)
			}
			t.Logf("duplicate key: %v (%+v)", err, he.HostError())
			got = query(t, s, "SELECT count(*) FROM t", abi.SQLTypeInt64)
			if c := got.Column(0).(*array.Int64).Value(0); c != 3 {
				t.Fatalf("after a failed load: %d rows, want 3", c)
			}
		})
	}
}

func TestResolvePath(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../x.db", "a/../../x.db", "out/x.db", "", "/", "a/"} {
		if got, err := sqldb.ResolvePath(dir, p); err == nil {
			t.Errorf("ResolvePath(%q) = %q, want an error", p, got)
		}
	}
	got, err := sqldb.ResolvePath(dir, "/a/b.db")
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got != filepath.Join(real, "a", "b.db") {
		t.Errorf("ResolvePath = %q", got)
	}
	_, err = sqldb.Open(context.Background(), sqldb.Options{Destination: "lite", Driver: "sqlite", Dir: dir, Path: "../x.db"})
	if err == nil || !strings.Contains(err.Error(), `destination "lite"`) || !strings.Contains(err.Error(), "path") {
		t.Errorf("Open with an escaping path: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		o    sqldb.Options
		want string
	}{
		{sqldb.Options{Destination: "d", Driver: "mysql", DSN: "user:secretpw@tcp(127.0.0.1:1"}, `destination "d": sql: dsn`},
		{sqldb.Options{Destination: "d", Driver: "mysql"}, "no dsn"},
		{sqldb.Options{Destination: "d", Driver: "oracle"}, "not a driver"},
		{sqldb.Options{Destination: "d", Driver: "sqlite", DSN: "x"}, "set path"},
	} {
		_, err := sqldb.Open(ctx, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Open(%+v) = %v, want an error with %q and no password", c.o, err, c.want)
		}
	}
	// A server refusing the password.
	dsn := testenv.MySQLDSN(t)
	bad := strings.Replace(dsn, ":wasmdest-test@", ":wrong@", 1)
	if bad == dsn {
		t.Skip("not the harness's server: no password to get wrong")
	}
	_, err := sqldb.Open(ctx, sqldb.Options{Destination: "d", Driver: "mysql", DSN: bad})
	if err == nil || !strings.Contains(err.Error(), "Access denied") || !strings.Contains(err.Error(), `destination "d"`) {
		t.Errorf("wrong password: %v", err)
	}
}

// TestMySQLGoesAwayMidLoad: the server ends the connection while a load
// streams; the load fails saying the connection was lost, and nothing of
// it is in the table.
func TestMySQLGoesAwayMidLoad(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.MySQLDSN(t)
	db, err := sqldb.Open(ctx, sqldb.Options{Destination: "t", Driver: abi.SQLDriverMySQL, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := sqldb.NewSession(db, nil)
	if _, err := s.Exec(ctx, abi.SQLRequest{SQL: "CREATE TABLE t (id bigint primary key, name text)"}); err != nil {
		t.Fatal(err)
	}
	method, sql := loadSQL(abi.SQLDriverMySQL, false)
	if err := s.LoadBegin(ctx, abi.SQLLoadRequest{Method: method, SQL: sql}); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 50000)
	names := make([]string, len(ids))
	for i := range ids {
		ids[i], names[i] = int64(i), strings.Repeat("x", 100)
	}
	data := ipcOf(t, rows(kv, ids, names))
	half := len(data) / 2
	if err := s.LoadData(ctx, data[:half]); err != nil {
		t.Fatal(err)
	}
	if n := testenv.KillMySQLConnections(t, dsn); n < 1 {
		t.Fatalf("killed %d connections", n)
	}
	err = s.LoadData(ctx, data[half:])
	if err == nil {
		_, err = s.LoadEnd(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "connection to the database was lost") {
		t.Fatalf("the load on a killed connection: %v, want an error saying the connection was lost", err)
	}
	s.End(ctx)
	s = sqldb.NewSession(db, nil)
	got := query(t, s, "SELECT count(*) FROM t", abi.SQLTypeInt64)
	if c := got.Column(0).(*array.Int64).Value(0); c != 0 {
		t.Fatalf("after the failed load the table holds %d rows, want 0", c)
	}
}
