package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// sqlTarget is one SQL guest and where a test's database is.
type sqlTarget struct {
	guest string
	// spec is the destination's [destination.spec] in TOML.
	spec func(t *testing.T) string
	open func(t *testing.T, dir string) sqldb.Options
}

func sqlTargets() []sqlTarget {
	targets := []sqlTarget{
		{
			guest: "sqlite",
			spec:  func(*testing.T) string { return `path = "db/dest.sqlite"` },
			open: func(_ *testing.T, dir string) sqldb.Options {
				return sqldb.Options{Driver: abi.SQLDriverSQLite, Dir: dir, Path: "db/dest.sqlite"}
			},
		},
		{
			guest: "mysql",
			spec: func(t *testing.T) string {
				t.Setenv("WASMDEST_TEST_DSN", testenv.MySQLDSN(t))
				return `dsn = "${WASMDEST_TEST_DSN}"`
			},
			open: func(*testing.T, string) sqldb.Options {
				return sqldb.Options{Driver: abi.SQLDriverMySQL, DSN: os.Getenv("WASMDEST_TEST_DSN")}
			},
		},
	}
	if duckdbTarget != nil {
		targets = append(targets, *duckdbTarget)
	}
	return targets
}

// sqlCount counts the rows of a table.
func sqlCount(t *testing.T, o sqldb.Options, table string) int64 {
	t.Helper()
	db, err := sqldb.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.SQL().QueryRow(fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSQLWriteModes loads the two-table demo dataset into SQLite and
// MariaDB (and DuckDB in hosts built with it) through `wasmdest run` with
// the builtin SQL guests, twice per write mode, and counts what the modes
// promise.
func TestSQLWriteModes(t *testing.T) {
	cases := []struct {
		mode   string
		second int64 // users after a second run of the first 300
	}{
		{"append", 800},
		{"overwrite", 500},
		{"overwrite-delete-stale", 300},
	}
	for _, target := range sqlTargets() {
		addBuiltin(t, target.guest)
		for _, c := range cases {
			t.Run(target.guest+"/"+c.mode, func(t *testing.T) {
				dir := t.TempDir()
				cfg := filepath.Join(dir, "wasmdest.toml")
				src := fmt.Sprintf("[[destination]]\nname = \"sql\"\npath = %q\ndirectory = %q\nwrite_mode = %q\n[destination.spec]\n%s\n",
					target.guest, dir, c.mode, target.spec(t))
				if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				for i, users := range []int64{500, 300} {
					args := append([]string{"run", "--config", cfg, "--source-name", "demo"}, demoInputs(t, users)...)
					code, stdout, stderr := wasmdest(t, args...)
					if code != 0 {
						t.Fatalf("run %d: exit %d\n%s\n%s", i+1, code, stdout, stderr)
					}
				}
				o := target.open(t, dir)
				if got := sqlCount(t, o, "demo_users"); got != c.second {
					t.Errorf("demo_users has %d rows after two runs, want %d", got, c.second)
				}
				wantOrders := int64(2000)
				if c.mode == "append" {
					wantOrders = 4000
				}
				if got := sqlCount(t, o, "demo_orders"); got != wantOrders {
					t.Errorf("demo_orders has %d rows, want %d", got, wantOrders)
				}
			})
		}
	}
}

// TestSQLBadInput: what a user gets wrong is refused before anything is
// written, naming the destination and the key.
func TestSQLBadInput(t *testing.T) {
	addBuiltin(t, "sqlite")
	addBuiltin(t, "mysql")
	dsn := testenv.MySQLDSN(t)
	for _, c := range []struct {
		name, guest, spec string
		want              []string
	}{
		{"path outside", "sqlite", `path = "../outside.sqlite"`, []string{`destination "bad"`, "path", `".."`}},
		{"wrong driver", "sqlite", "path = \"x.sqlite\"\ndriver = \"mysql\"", []string{`destination "bad"`, "driver"}},
		{"dsn does not parse", "mysql", `dsn = "wasmdest:secretpw@tcp(127.0.0.1:1"`, []string{`destination "bad"`, "dsn"}},
		{"password refused", "mysql", fmt.Sprintf("dsn = %q", strings.Replace(dsn, ":wasmdest-test@", ":secretpw@", 1)), []string{`destination "bad"`, "Access denied"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "password refused" && !strings.Contains(dsn, ":wasmdest-test@") {
				t.Skipf("%s is set: no known password to get wrong", testenv.MySQLURLEnv)
			}
			dir := t.TempDir()
			cfg := filepath.Join(dir, "wasmdest.toml")
			src := fmt.Sprintf("[[destination]]\nname = \"bad\"\npath = %q\ndirectory = %q\n[destination.spec]\n%s\n", c.guest, filepath.Join(dir, "d"), c.spec)
			if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := wasmdest(t, append([]string{"run", "--config", cfg}, demoInputs(t, 10)...)...)
			if code == 0 {
				t.Fatalf("exit 0, want a failure\n%s", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error does not say %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "secretpw") {
				t.Errorf("the error shows the password:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "outside.sqlite")); err == nil {
				t.Error("a database file was made outside the directory")
			}
		})
	}
}
