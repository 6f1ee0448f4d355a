package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/go-sql-driver/mysql"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// sqlTarget is one database of the sql scenarios: its guest, its spec, and
// a hand-written loader with the same driver's fastest path.
type sqlTarget struct {
	guest, native string
	// target is the ratio wasmdest must reach (issue 12).
	target float64
	spec   func(b *bench, dir string) (map[string]any, sqldb.Options, error)
	load   func(ctx context.Context, db *sql.DB, recs []arrow.RecordBatch) error
}

// sqlTargets are SQLite and MySQL, and DuckDB in builds with it.
func sqlTargets() []sqlTarget {
	ts := []sqlTarget{
		{guest: "sqlite", native: "database/sql prepared INSERT, 1 tx per batch", target: 0.8,
			spec: func(_ *bench, dir string) (map[string]any, sqldb.Options, error) {
				return map[string]any{"path": "bench.sqlite"}, sqldb.Options{Driver: abi.SQLDriverSQLite, Dir: dir, Path: "bench.sqlite"}, nil
			},
			load: loadSQLite},
		{guest: "mysql", native: "LOAD DATA LOCAL INFILE per batch", target: 0.8,
			spec: func(b *bench, _ string) (map[string]any, sqldb.Options, error) {
				dsn, err := b.mysqlDSN()
				return map[string]any{"dsn": dsn}, sqldb.Options{Driver: abi.SQLDriverMySQL, DSN: dsn}, err
			},
			load: loadMySQL},
	}
	if duckdbTarget != nil {
		ts = append(ts, *duckdbTarget)
	}
	return ts
}

// mysqlDSN returns a fresh database on the harness's MariaDB (or
// $WASMDEST_TEST_MYSQL_URL's server).
func (b *bench) mysqlDSN() (string, error) {
	if b.mysql != "" {
		return b.mysql, nil
	}
	admin, err := testenv.MySQLAdminDSN()
	if err != nil {
		return "", err
	}
	db, err := sql.Open("mysql", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("wasmbench_%d", os.Getpid())
	if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		return "", err
	}
	db.QueryRow("SELECT VERSION()").Scan(&b.mysqlVersion)
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		return "", err
	}
	cfg.DBName = name
	b.mysql = cfg.FormatDSN()
	return b.mysql, nil
}

// sqlGuest builds guests/NAME as buildGuests built the others: from the
// archive of HEAD when it made one, else from the work tree.
func (b *bench) sqlGuest(name string) (string, error) {
	src := filepath.Join(b.tmp, "src")
	if _, err := os.Stat(src); err != nil {
		return testenv.Build("guests/" + name)
	}
	out := filepath.Join(b.tmp, "guests", name+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./guests/"+name)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest %s: %v\n%s", name, err, out)
	}
	return out, nil
}

// sqlScenarios: write_mode append of the dataset into SQLite, MariaDB and
// DuckDB through their guests, against a hand-written loader with the same
// driver's fastest path, into the same table (made by the guest).
func (b *bench) sqlScenarios() error {
	if duckdbTarget == nil {
		b.rep.Skipped = append(b.rep.Skipped, "sql, duckdb: this wasmbench is built without DuckDB (go tool task bench HOST_TAGS=duckdb,duckdb_arrow)")
	}
	for _, t := range sqlTargets() {
		name := "sql append, " + t.guest
		step(name)
		if err := b.sqlScenario(name, t); err != nil {
			fmt.Fprintf(os.Stderr, "\n== %s failed: %v\n", name, err)
			b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("%s failed: %v", name, err))
		}
	}
	return nil
}

func (b *bench) sqlScenario(name string, t sqlTarget) error {
	wasm, err := b.sqlGuest(t.guest)
	if err != nil {
		return err
	}
	if err := b.compile(wasm); err != nil {
		return err
	}
	dir := filepath.Join(b.tmp, "sql-"+t.guest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec, o, err := t.spec(b, dir)
	if err != nil {
		return err
	}
	// The database is opened only while the benchmark itself uses it:
	// DuckDB lets one process at a time open a file, and the guest's
	// worker is another.
	withDB := func(fn func(db *sql.DB) error) error {
		db, err := sqldb.Open(b.ctx, o)
		if err != nil {
			return err
		}
		defer db.Close()
		return fn(db.SQL())
	}
	sqlJob := func(gen int) job {
		j := job{Guest: wasm, CacheDir: b.cacheDir, WriteMode: abi.WriteModeAppend, Spec: spec, Directory: dir, Writers: 1,
			SyncTime: b.opts.t1, SourceName: b.opts.source}
		if gen == 0 {
			j.InputFile = b.ds.file
		}
		return j
	}
	// The guest makes the table (a sync of no rows); both sides load into it.
	withDB(func(db *sql.DB) error {
		_, err := db.Exec("DROP TABLE IF EXISTS " + table)
		return err
	})
	if _, err := runJob(sqlJob(-1)); err != nil {
		return fmt.Errorf("create the table: %w", err)
	}
	empty := func() error {
		return withDB(func(db *sql.DB) error {
			_, err := db.Exec("DELETE FROM " + table)
			return err
		})
	}
	check := func(r result, err error) (result, error) {
		if err != nil {
			return r, err
		}
		var n int64
		if err := withDB(func(db *sql.DB) error { return db.QueryRow("SELECT count(*) FROM " + table).Scan(&n) }); err != nil {
			return r, err
		}
		if n != int64(b.rows) {
			return r, fmt.Errorf("%s: the table holds %d rows, want %d", r.Method, n, b.rows)
		}
		return r, nil
	}
	sc := &scenario{Name: name, Group: "sql"}
	rs, err := b.rounds(
		method{func() (result, error) {
			if err := empty(); err != nil {
				return result{}, err
			}
			return check(b.runWasmdest(sqlJob(0), int64(b.rows), "wasmdest "+t.guest+" guest"))
		}},
		method{func() (result, error) {
			if err := empty(); err != nil {
				return result{}, err
			}
			fmt.Fprintf(os.Stderr, "  %-40s", t.native)
			m, err := timeIt(0, func() error {
				return withDB(func(db *sql.DB) error { return t.load(b.ctx, db, b.ds.wanted) })
			})
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", t.native, err)
			}
			n := result{Method: t.native, Rows: b.rows, Seconds: m.seconds, HostCPU: m.cpu}
			n.fill(b.ds.bytes)
			fmt.Fprintln(os.Stderr, n.line())
			return check(n, nil)
		}})
	if err != nil {
		return err
	}
	if t.guest == "mysql" {
		rs[1].Note = "server " + b.mysqlVersion
	}
	sc.add(rs[0], rs[1])
	sc.target(rs[1].Method, t.target, fmt.Sprintf("%s through the guest >= %.1fx the native loader", t.guest, t.target))
	b.rep.add(sc)
	return nil
}

// benchColumns are the table's columns in the order of the dataset's
// records (append mode: _cq_sync_time, _cq_source_name, then the source's).
func benchColumns(rec arrow.RecordBatch) []string {
	var cols []string
	for _, f := range rec.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	return cols
}

// sqliteValue is row i of a column as the sqlite guest stores it.
func sqliteValue(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch c := col.(type) {
	case *arrowtypes.UUIDArray:
		return c.Value(i).String()
	case *array.Timestamp:
		return c.Value(i).ToTime(arrow.Microsecond).UTC().Format("2006-01-02 15:04:05.000000")
	case *array.List:
		vals := c.ListValues().(*array.String)
		start, end := c.ValueOffsets(i)
		tags := make([]string, 0, end-start)
		for j := start; j < end; j++ {
			tags = append(tags, vals.Value(int(j)))
		}
		b, _ := json.Marshal(tags)
		return string(b)
	case *arrowtypes.JSONArray:
		return string(c.Value(i))
	case *array.String:
		return c.Value(i)
	case *array.Int64:
		return c.Value(i)
	case *array.Float64:
		return c.Value(i)
	case *array.Boolean:
		return c.Value(i)
	}
	return col.ValueStr(i)
}

// loadSQLite inserts each batch in a transaction of its own with one
// prepared statement, as fast as database/sql goes into SQLite.
func loadSQLite(ctx context.Context, db *sql.DB, recs []arrow.RecordBatch) error {
	cols := benchColumns(recs[0])
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	q := fmt.Sprintf(`INSERT INTO %s ("%s") VALUES (%s)`, table, strings.Join(cols, `", "`), marks)
	args := make([]any, len(cols))
	for _, rec := range recs {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			for j := range args {
				args[j] = sqliteValue(rec.Column(j), i)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				tx.Rollback()
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// loadMySQL sends each batch with one LOAD DATA LOCAL INFILE, the rows
// written in its text format by hand as the server reads them.
func loadMySQL(ctx context.Context, db *sql.DB, recs []arrow.RecordBatch) error {
	cols := benchColumns(recs[0])
	for n, rec := range recs {
		name := fmt.Sprintf("wasmbench-%d", n)
		pr, pw := io.Pipe()
		mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
		go func() { pw.CloseWithError(writeTSV(pw, rec)) }()
		_, err := db.ExecContext(ctx, fmt.Sprintf("LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET binary (`%s`)",
			name, table, strings.Join(cols, "`, `")))
		pr.Close()
		mysql.DeregisterReaderHandler(name)
		if err != nil {
			return err
		}
	}
	return nil
}

func writeTSV(w io.Writer, rec arrow.RecordBatch) error {
	buf := make([]byte, 0, 1<<20)
	esc := func(s []byte) {
		for _, c := range s {
			switch c {
			case '\\', '\t', '\n':
				buf = append(buf, '\\', map[byte]byte{'\\': '\\', '\t': 't', '\n': 'n'}[c])
			case 0:
				buf = append(buf, '\\', '0')
			default:
				buf = append(buf, c)
			}
		}
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		for j, col := range rec.Columns() {
			if j > 0 {
				buf = append(buf, '\t')
			}
			if col.IsNull(i) {
				buf = append(buf, '\\', 'N')
				continue
			}
			switch c := col.(type) {
			case *arrowtypes.UUIDArray:
				u := c.Value(i)
				esc(u[:])
			case *array.Timestamp:
				buf = c.Value(i).ToTime(arrow.Microsecond).UTC().AppendFormat(buf, "2006-01-02 15:04:05.000000")
			case *array.Boolean:
				buf = strconv.AppendBool(buf, c.Value(i))
				if c.Value(i) {
					buf = append(buf[:len(buf)-4], '1')
				} else {
					buf = append(buf[:len(buf)-5], '0')
				}
			case *array.Int64:
				buf = strconv.AppendInt(buf, c.Value(i), 10)
			case *array.Float64:
				buf = strconv.AppendFloat(buf, c.Value(i), 'g', -1, 64)
			default:
				esc([]byte(fmt.Sprint(sqliteValue(col, i))))
			}
		}
		buf = append(buf, '\n')
		if len(buf) > 1<<20-4096 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}
