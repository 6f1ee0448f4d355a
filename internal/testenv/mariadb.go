package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLURLEnv names the environment variable that points the tests at an
// existing MySQL 8 or MariaDB server instead of a throwaway MariaDB. Its
// value is a go-sql-driver/mysql DSN ("user:pass@tcp(host:3306)/") of a
// user that may create databases and load local data; each test gets a new
// database on that server.
const MySQLURLEnv = "WASMDEST_TEST_MYSQL_URL"

// MariaDBBinEnv overrides where the throwaway server's programs are: a
// directory holding mariadbd and mariadb-install-db.
const MariaDBBinEnv = "WASMDEST_TEST_MARIADB_BIN"

// Where Debian's mariadb-server package puts them.
const (
	defaultMariaDBD      = "/usr/sbin/mariadbd"
	defaultMariaDBInstDB = "/usr/bin/mariadb-install-db"
)

// The account the throwaway server's tests use over TCP.
const (
	mariadbUser     = "wasmdest"
	mariadbPassword = "wasmdest-test"
)

// mariadbServer is the throwaway MariaDB server of this test process.
type mariadbServer struct {
	dir, data, run string
	port           int
	proc           *exec.Cmd
	exited         chan struct{}
}

var my struct {
	mu       sync.Mutex
	adminDSN string
	err      error
	started  bool
	s        *mariadbServer // nil when MySQLURLEnv is used
}

// MySQLAdminDSN returns the DSN of a user that may create databases,
// starting the throwaway MariaDB server on first use, or the value of
// $WASMDEST_TEST_MYSQL_URL. It is for callers without a testing.TB, such as
// the benchmark program; they call StopMariaDB when done.
func MySQLAdminDSN() (string, error) {
	my.mu.Lock()
	defer my.mu.Unlock()
	if !my.started {
		my.started = true
		if u := os.Getenv(MySQLURLEnv); u != "" {
			my.adminDSN = u
		} else {
			my.s, my.adminDSN, my.err = startMariaDB()
		}
	}
	return my.adminDSN, my.err
}

// StopMariaDB stops the throwaway MariaDB server, if one was started, and
// removes its files. RunMain calls it.
func StopMariaDB() {
	my.mu.Lock()
	defer my.mu.Unlock()
	if my.s != nil {
		if err := my.s.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop MariaDB:", err)
		}
		os.RemoveAll(my.s.dir)
		my.s = nil
	}
}

// MySQLDSN returns a go-sql-driver/mysql DSN for a new, empty database of
// its own. The first call starts the process's throwaway MariaDB server (or
// uses $WASMDEST_TEST_MYSQL_URL). Without a server it fails the test with
// instructions; it never skips.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	admin, err := MySQLAdminDSN()
	if err != nil {
		t.Fatalf("testenv: no MySQL or MariaDB server for the tests: %v", err)
	}
	name := fmt.Sprintf("wasmdest_t%d_%s", dbCounter.Add(1), dbNameSuffix(t.Name()))
	if len(name) > 64 {
		name = name[:64]
	}
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatalf("testenv: %s: %v", MySQLURLEnv, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	if os.Getenv(MySQLURLEnv) != "" {
		// A shared server: leave it as we found it.
		t.Cleanup(func() {
			db, err := sql.Open("mysql", admin)
			if err != nil {
				return
			}
			defer db.Close()
			if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
				t.Logf("testenv: drop database %s: %v", name, err)
			}
		})
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatalf("testenv: %s is not a valid DSN: %v", MySQLURLEnv, err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// MySQLDatabase returns the database a DSN from MySQLDSN names.
func MySQLDatabase(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.DBName
}

// KillMySQLConnections ends every connection to the database of dsn but
// the caller's own, as KILL CONNECTION does: their clients see the server go
// away mid-statement. It returns how many it killed.
func KillMySQLConnections(t testing.TB, dsn string) int {
	t.Helper()
	admin, err := MySQLAdminDSN()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM information_schema.PROCESSLIST WHERE db = ? AND id <> CONNECTION_ID()", MySQLDatabase(t, dsn))
	if err != nil {
		t.Fatalf("testenv: list connections: %v", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n
}

func mariadbPrograms() (mariadbd, installDB string, err error) {
	mariadbd, installDB = defaultMariaDBD, defaultMariaDBInstDB
	if dir := os.Getenv(MariaDBBinEnv); dir != "" {
		mariadbd, installDB = filepath.Join(dir, "mariadbd"), filepath.Join(dir, "mariadb-install-db")
	}
	for _, p := range []string{mariadbd, installDB} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("MariaDB server programs not found (%v).\n"+
				"Either install MariaDB (Debian: apt-get install mariadb-server; the tests look for %s and %s, or in $%s),\n"+
				"or point the tests at a server you run: %s='user:pass@tcp(127.0.0.1:3306)/'\n"+
				"(a user that may CREATE DATABASE, with local_infile enabled on the server; each test makes its own database)",
				err, defaultMariaDBD, defaultMariaDBInstDB, MariaDBBinEnv, MySQLURLEnv)
		}
	}
	return mariadbd, installDB, nil
}

// startMariaDB makes a data directory with mariadb-install-db, starts
// mariadbd on a private socket and a free loopback port, and adds the
// tests' user. As root, the server runs as the "mysql" user.
func startMariaDB() (*mariadbServer, string, error) {
	mariadbd, installDB, err := mariadbPrograms()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "wasmdest-mariadb-")
	if err != nil {
		return nil, "", err
	}
	s := &mariadbServer{dir: dir, data: filepath.Join(dir, "data"), run: filepath.Join(dir, "run")}
	fail := func(err error) (*mariadbServer, string, error) {
		s.stop()
		os.RemoveAll(dir)
		return nil, "", err
	}
	cred, err := serverCredentialOf("mysql")
	if err != nil {
		return fail(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	for _, d := range []string{s.data, s.run} {
		if err := os.Mkdir(d, 0o750); err != nil {
			return fail(err)
		}
		if err := chownTo(d, cred); err != nil {
			return fail(err)
		}
	}
	install := exec.Command(installDB, "--no-defaults", "--datadir="+s.data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve")
	install.Dir = dir
	setServerProcAttrAs(install, cred, "mysql", false, mariadbDeathSignal)
	if out, err := install.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %v\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = s.start(mariadbd, cred); err == nil {
			break
		}
		if attempt == 2 {
			return fail(err)
		}
	}
	// root has no password on the socket; the tests connect over TCP as
	// their own user, as a client of a real server would.
	root, err := sql.Open("mysql", "root@unix("+s.socket()+")/")
	if err != nil {
		return fail(err)
	}
	defer root.Close()
	for _, q := range []string{
		"CREATE USER '" + mariadbUser + "'@'127.0.0.1' IDENTIFIED BY '" + mariadbPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + mariadbUser + "'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := root.Exec(q); err != nil {
			return fail(fmt.Errorf("MariaDB: %s: %v", q, err))
		}
	}
	return s, fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/", mariadbUser, mariadbPassword, s.port), nil
}

func (s *mariadbServer) socket() string { return filepath.Join(s.run, "mariadb.sock") }

// start runs mariadbd and waits until it accepts connections.
func (s *mariadbServer) start(mariadbd string, cred credentialPtr) error {
	logPath := filepath.Join(s.run, "server.log")
	cmd := exec.Command(mariadbd, "--no-defaults",
		"--datadir="+s.data,
		"--socket="+s.socket(),
		"--pid-file="+filepath.Join(s.run, "mariadb.pid"),
		"--log-error="+logPath,
		fmt.Sprintf("--port=%d", s.port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--local-infile=1",
		"--max-connections=200",
		"--character-set-server=utf8mb4",
		// A throwaway server: durability buys nothing here.
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--innodb-buffer-pool-size=256M",
		"--skip-log-bin",
	)
	cmd.Dir = s.dir
	setServerProcAttrAs(cmd, cred, "mysql", true, mariadbDeathSignal)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.proc, s.exited = cmd, exited
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			s.proc = nil
			return fmt.Errorf("mariadbd exited during start-up:\n%s", logTail(logPath))
		default:
		}
		db, err := sql.Open("mysql", "root@unix("+s.socket()+")/?timeout=2s")
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("mariadbd did not accept connections within 60s: %v\n%s", err, logTail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks mariadbd to shut down and waits for it.
func (s *mariadbServer) stop() error {
	if s.proc == nil {
		return nil
	}
	defer func() { s.proc = nil }()
	if err := s.proc.Process.Signal(mariadbStopSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
		s.proc.Process.Kill()
		<-s.exited
		return errors.New("mariadbd did not shut down within 30s; killed it")
	}
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
