package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURLEnv names the environment variable that points the tests at an
// existing PostgreSQL server instead of a throwaway cluster. Its value is a
// connection string (URL or key=value form) of a role that may create
// databases; each test gets a new database on that server.
const PostgresURLEnv = "WASMDEST_TEST_PG_URL"

// PostgresBinEnv overrides the directory of the PostgreSQL server binaries
// (initdb, postgres) used for the throwaway cluster.
const PostgresBinEnv = "WASMDEST_TEST_PG_BIN"

// defaultPostgresBin is where Debian's postgresql-15 package puts them.
const defaultPostgresBin = "/usr/lib/postgresql/15/bin"

// cluster is the throwaway PostgreSQL cluster of this test process.
type cluster struct {
	bin, dir, data, run, logPath string
	port                         int
	// proc is the running postmaster, nil while stopped.
	proc   *exec.Cmd
	exited chan struct{}
}

var pg struct {
	mu sync.Mutex
	// adminURL connects as a superuser to the "postgres" database (or is
	// the value of PostgresURLEnv).
	adminURL string
	err      error
	started  bool
	c        *cluster // nil when PostgresURLEnv is used
}

var dbCounter atomic.Int64

// RunMain is for TestMain of packages that use PostgresURL or MySQLDSN: it
// runs the tests and then stops the throwaway servers that were started.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }
func RunMain(m *testing.M) int {
	code := m.Run()
	StopCluster()
	StopMariaDB()
	StopS3()
	return code
}

// StopCluster stops the throwaway cluster, if one was started, and removes
// its files. RunMain calls it; programs that use AdminURL call it at exit.
func StopCluster() {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.c != nil {
		if err := pg.c.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop PostgreSQL:", err)
		}
		os.RemoveAll(pg.c.dir)
		pg.c = nil
	}
}

// AdminURL returns the superuser connection string (to the "postgres"
// database), starting the throwaway cluster on first use, or the value of
// $WASMDEST_TEST_PG_URL. It is for callers without a testing.TB, such as
// the benchmark program; they call StopCluster when done.
func AdminURL() (string, error) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if !pg.started {
		pg.started = true
		if u := os.Getenv(PostgresURLEnv); u != "" {
			pg.adminURL = u
		} else {
			pg.c, pg.adminURL, pg.err = startCluster()
		}
	}
	return pg.adminURL, pg.err
}

// ServerPID returns the process id of the throwaway cluster's postmaster,
// or 0 when there is none (not started, stopped, or $WASMDEST_TEST_PG_URL).
// The server's backends are its child processes.
func ServerPID() int {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.c == nil || pg.c.proc == nil {
		return 0
	}
	return pg.c.proc.Process.Pid
}

// adminURL is AdminURL for tests: without a server it fails the test.
func adminURL(t testing.TB) string {
	t.Helper()
	u, err := AdminURL()
	if err != nil {
		t.Fatalf("testenv: no PostgreSQL server for the tests: %v", err)
	}
	return u
}

// WithDatabase returns connString pointing at database db instead.
func WithDatabase(connString, db string) (string, error) { return withDatabase(connString, db) }

// PostgresURL returns a connection string for a new, empty database of its
// own, so that tests are isolated from each other. The first call starts the
// process's throwaway PostgreSQL cluster (or uses $WASMDEST_TEST_PG_URL).
// Without a server it fails the test with instructions; it never skips.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	name := fmt.Sprintf("wasmdest_t%d_%s", dbCounter.Add(1), dbNameSuffix(t.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	if os.Getenv(PostgresURLEnv) != "" {
		// A shared server: leave it as we found it.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, err := pgx.Connect(ctx, admin)
			if err != nil {
				t.Logf("testenv: drop database %s: %v", name, err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Logf("testenv: drop database %s: %v", name, err)
			}
		})
	}
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return u
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func dbNameSuffix(testName string) string {
	s := strings.Trim(nonName.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return s
}

// withDatabase returns connString pointing at database db instead.
func withDatabase(connString, db string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL: %v", PostgresURLEnv, err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	// key=value form: a later key wins.
	return connString + " dbname='" + db + "'", nil
}

// TerminateBackends ends every server process connected to the database of
// connString (other than the caller's own), as pg_terminate_backend does:
// their clients see the server go away mid-statement.
func TerminateBackends(t testing.TB, connString string) int {
	t.Helper()
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL(t))
	if err != nil {
		t.Fatalf("testenv: connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, cfg.Database).Scan(&n)
	if err != nil {
		t.Fatalf("testenv: terminate backends: %v", err)
	}
	return n
}

// ownCluster returns the throwaway cluster, skipping the test (loudly) when
// the tests run against $WASMDEST_TEST_PG_URL, whose server they must not stop.
func ownCluster(t testing.TB) *cluster {
	t.Helper()
	adminURL(t)
	if pg.c == nil {
		t.Skipf("testenv: this test stops the PostgreSQL server, which it does only to the harness's own cluster; %s is set", PostgresURLEnv)
	}
	return pg.c
}

// StopPostgres shuts the test server down (fast shutdown: open sessions are
// ended). Start it again with StartPostgres; RunMain stops it in the end
// either way. Only for the harness's own cluster.
func StopPostgres(t testing.TB) {
	t.Helper()
	c := ownCluster(t)
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if err := c.stop(); err != nil {
		t.Fatalf("testenv: stop PostgreSQL: %v", err)
	}
}

// StartPostgres starts the test server again after StopPostgres, on the same
// port with the same data.
func StartPostgres(t testing.TB) {
	t.Helper()
	c := ownCluster(t)
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if c.proc != nil {
		return
	}
	if err := c.start(); err != nil {
		t.Fatalf("testenv: start PostgreSQL: %v", err)
	}
}

func postgresBin() (string, error) {
	dir := os.Getenv(PostgresBinEnv)
	if dir == "" {
		dir = defaultPostgresBin
	}
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("PostgreSQL server binaries not found (%v).\n"+
				"Either install PostgreSQL 15 (Debian: apt-get install postgresql-15; the tests look in %s, or in $%s),\n"+
				"or point the tests at a server you run: %s='postgres://user:pass@host:5432/postgres?sslmode=disable'\n"+
				"(a role that may CREATE DATABASE; each test makes its own database)", err, defaultPostgresBin, PostgresBinEnv, PostgresURLEnv)
		}
	}
	return dir, nil
}

// removeStaleClusters removes the directories of throwaway clusters whose
// test process was killed before it could (StopCluster): their postmaster
// is gone (postmaster.pid names no live process) or never wrote its pid
// file, and nothing changed in them for minAge, so that a cluster another
// process is making now is left alone. Killed runs had left 6 GB of them.
func removeStaleClusters(tmp string, minAge time.Duration) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "wasmdest-pg-*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < minAge {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err != nil || processAlive(pid) {
				continue
			}
		}
		os.RemoveAll(dir)
	}
}

// startCluster makes and starts a throwaway cluster (initdb + postgres) in a
// temporary directory. The server refuses to run as root, so as root the
// server processes run as the "postgres" user.
func startCluster() (*cluster, string, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, "", err
	}
	removeStaleClusters(os.TempDir(), time.Hour)
	dir, err := os.MkdirTemp("", "wasmdest-pg-")
	if err != nil {
		return nil, "", err
	}
	c := &cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), run: filepath.Join(dir, "run"), logPath: filepath.Join(dir, "run", "server.log")}
	fail := func(err error) (*cluster, string, error) {
		os.RemoveAll(dir)
		return nil, "", err
	}
	cred, err := serverCredential()
	if err != nil {
		return fail(err)
	}
	// The server user must be able to enter dir, own data (mode 0700) and
	// write its socket and log in run.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{c.data, 0o700}, {c.run, 0o755}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			return fail(err)
		}
		if err := chownTo(d.path, cred); err != nil {
			return fail(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", c.data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	setServerProcAttr(initdb, cred, false)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	// A port picked this way can be taken before the server binds it:
	// retry with another.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = c.start(); err == nil {
			break
		}
		if attempt == 2 {
			return fail(err)
		}
	}
	return c, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the postmaster and waits until it accepts connections.
func (c *cluster) start() error {
	logf, err := os.OpenFile(c.logPath+".stderr", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data,
		"-p", fmt.Sprint(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+c.run,
		"-c", "max_connections=200",
		// A throwaway cluster: durability buys nothing here.
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "synchronous_commit=off",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test process even when that is killed.
	setServerProcAttr(cmd, cred, true)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c.proc, c.exited = cmd, exited
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			c.proc = nil
			return fmt.Errorf("postgres exited during start-up:\n%s", c.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return fmt.Errorf("postgres did not accept connections within 60s: %v\n%s", err, c.logTail())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// stop asks the postmaster for a fast shutdown and waits for it.
func (c *cluster) stop() error {
	if c.proc == nil {
		return nil
	}
	defer func() { c.proc = nil }()
	if err := c.proc.Process.Signal(interruptSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		c.proc.Process.Kill()
		<-c.exited
		return errors.New("postgres did not shut down within 30s; killed it")
	}
}

func (c *cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath + ".stderr")
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// PostgresSocketDir returns the directory of the test server's unix socket
// (for connection strings like "postgres:///db?host=DIR"). Only for the
// harness's own cluster.
func PostgresSocketDir(t testing.TB) string {
	t.Helper()
	return ownCluster(t).run
}

// PostgresLog returns what the harness's own PostgreSQL server has logged so
// far (errors and warnings, each error with its STATEMENT), and false when
// the tests run against $WASMDEST_TEST_PG_URL, whose log they cannot read.
func PostgresLog(t testing.TB) (string, bool) {
	t.Helper()
	adminURL(t)
	if pg.c == nil {
		return "", false
	}
	b, err := os.ReadFile(pg.c.logPath + ".stderr")
	if err != nil {
		t.Fatalf("testenv: read the PostgreSQL log: %v", err)
	}
	return string(b), true
}
