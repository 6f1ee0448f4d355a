package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

func openPostgres(t *testing.T, connString, level string, log hclog.Logger) *pgxpool.Pool {
	t.Helper()
	if log == nil {
		log = testenv.Logger(t, hclog.Warn)
	}
	db, err := postgres.OpenPool(context.Background(), postgres.PoolOptions{ConnString: connString, LogLevel: level, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// probePool runs the pgprobe test guest on a fresh database.
func probePool(t *testing.T) (*host.Pool, *pgxpool.Pool) {
	t.Helper()
	rt := testenv.Runtime(t, host.Config{})
	g := testenv.LoadGuest(t, rt, "host/testdata/guests/pgprobe")
	db := openPostgres(t, testenv.PostgresURL(t), "", nil)
	p, err := g.NewPool(host.PoolConfig{Grants: []host.Grant{postgres.Grant(db)}, Init: &abi.InitRequest{Spec: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := scenario(p, "setup"); err != nil {
		t.Fatal(err)
	}
	return p, db
}

func scenario(p *host.Pool, name string) error {
	return p.Call(context.Background(), nil, abi.OpWrite, abi.TableRequest{Table: name}, host.RecordBody(arrow.NewSchema(nil, nil)), nil)
}

func count(t *testing.T, db *pgxpool.Pool, where string) int {
	t.Helper()
	return countIn(t, db, "c", where)
}

// countIn counts the rows of table that match where.
func countIn(t *testing.T, db *pgxpool.Pool, table, where string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPgHostFunctions runs the pgprobe scenarios that check results inside
// the guest, and the errors that must cross the ABI.
func TestPgHostFunctions(t *testing.T) {
	p, db := probePool(t)
	for _, ok := range []string{"args", "multi-statement", "copy"} {
		if err := scenario(p, ok); err != nil {
			t.Errorf("scenario %s: %v", ok, err)
		}
	}
	if n := count(t, db, "true"); n != 1000 {
		t.Errorf("%d rows in c after the copy scenario, want 1000", n)
	}
	errs := []struct {
		scenario string
		want     []string
	}{
		// Database errors carry their fields through the ABI.
		{"unique-violation", []string{"sqlstate=23505", "table=t", "constraint=t_pkey", `detail="Key (i)=(1) already exists."`, "duplicate key value"}},
		{"copy-bad-data", []string{"sqlstate=22P02", "invalid input syntax for type integer"}},
		{"copy-busy", []string{"transaction", "is busy with a COPY: end it with pg_copy_end first", "a COPY is already in progress", "no COPY in progress"}},
		{"not-copy", []string{"sql is not a COPY ... FROM STDIN", "sql is not a COPY ... TO STDOUT", "no COPY in progress"}},
		{"commit-failed", []string{"pg_commit: the transaction had failed, so COMMIT rolled it back"}},
		{"too-many-tx", []string{"pg_begin: the operation already holds", "connections: end a transaction first"}},
	}
	for _, c := range errs {
		err := scenario(p, c.scenario)
		if err == nil {
			t.Errorf("scenario %s succeeded", c.scenario)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("scenario %s: error %q does not say %q", c.scenario, err, w)
			}
		}
	}
	if n := count(t, db, "i = 5000"); n != 0 {
		t.Errorf("the failed transaction's row was committed")
	}
}

// TestPgErrorReachableWithErrorsAs: the CallError of an operation whose host
// function failed wraps the original *pgconn.PgError.
func TestPgErrorReachableWithErrorsAs(t *testing.T) {
	p, _ := probePool(t)
	if err := scenario(p, "args"); err != nil {
		t.Fatal(err)
	}
	err := scenario(p, "unique-violation")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" || pe.ConstraintName != "t_pkey" {
		t.Fatalf("errors.As(%v) found %#v, want the 23505 PgError", err, pe)
	}
	var ce *host.CallError
	if !errors.As(err, &ce) || ce.Trapped {
		t.Fatalf("%#v: want a CallError", err)
	}
}

// TestPgOperationEndCleansUp: whatever an operation leaves open (a
// transaction, a COPY, in or out of a transaction), and however it ends
// (success, panic, exit), nothing of it is committed and the connections
// are free again.
func TestPgOperationEndCleansUp(t *testing.T) {
	p, db := probePool(t)
	for _, s := range []string{"leave-tx-open", "leave-copy-open", "leave-copy-open-in-tx"} {
		if err := scenario(p, s); err != nil {
			t.Fatalf("scenario %s: %v", s, err)
		}
	}
	for _, s := range []string{"panic-in-tx", "exit-in-tx"} {
		err := scenario(p, s)
		var ce *host.CallError
		if !errors.As(err, &ce) || !(ce.Trapped || ce.Status == abi.StatusPanicked) {
			t.Fatalf("scenario %s: got %v, want the instance to crash", s, err)
		}
	}
	if n := count(t, db, "i >= 100"); n != 0 {
		t.Fatalf("%d rows of operations that did not finish their transactions or COPYs are stored", n)
	}
	var busy int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND (state LIKE 'idle in transaction%' OR query LIKE 'COPY%' AND state = 'active')`).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if busy != 0 {
		t.Fatalf("%d sessions still in a transaction or COPY", busy)
	}
	if st := db.Stat(); st.AcquiredConns() != 0 {
		t.Fatalf("%d pool connections still acquired", st.AcquiredConns())
	}
	// A handle kept past its operation names nothing.
	if err := scenario(p, "keep-handle"); err != nil {
		t.Fatal(err)
	}
	err := scenario(p, "use-kept-handle")
	if err == nil || !strings.Contains(err.Error(), "no open transaction with handle") {
		t.Fatalf("got %v, want the stale handle refused", err)
	}
}

func TestPostgresCapabilityNeedsAPool(t *testing.T) {
	rt := testenv.Runtime(t, host.Config{})
	g := testenv.LoadGuest(t, rt, "host/testdata/guests/pgprobe")
	if _, err := g.NewPool(host.PoolConfig{}); err == nil || !strings.Contains(err.Error(), `capability "postgres"`) {
		t.Fatalf("ungranted: got %v", err)
	}
	if _, err := postgres.Capability().Open(context.Background(), host.OpenRequest{Spec: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "connection pool") {
		t.Fatalf("no pool: got %v", err)
	}
}

// TestOpenPostgres: the connection string forms of the PostgreSQL spec
// connect; sessions run in UTC; errors never show the password; the log
// level is checked and pgx's events reach the logger.
func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	forms := []string{
		u.String() + "&timezone=Europe/Paris", // UTC wins
		fmt.Sprintf("user=postgres host=%s port=%s dbname=%s sslmode=disable", u.Hostname(), u.Port(), db),
		fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&application_name=pgxtest&search_path=public&connect_timeout=5", u.Host, db),
	}
	if os.Getenv(testenv.PostgresURLEnv) == "" {
		sock := testenv.PostgresSocketDir(t)
		forms = append(forms,
			fmt.Sprintf("postgres:///%s?host=%s&port=%s&user=postgres", db, sock, u.Port()),
			fmt.Sprintf("dbname=%s host=%s port=%s user=postgres", db, sock, u.Port()))
	}
	for _, cs := range forms {
		p := openPostgres(t, cs, "error", nil)
		var tz string
		if err := p.QueryRow(ctx, "SHOW timezone").Scan(&tz); err != nil || tz != "UTC" {
			t.Errorf("%s: time zone %q, %v; want UTC", cs, tz, err)
		}
	}

	_, err = postgres.OpenPool(ctx, postgres.PoolOptions{ConnString: u.String(), LogLevel: "verbose", Logger: hclog.NewNullLogger()})
	if err == nil || !strings.Contains(err.Error(), "error, warn, info, debug, trace") {
		t.Errorf("bad level: got %v, want the levels listed", err)
	}
	for _, bad := range []string{"postgres://user:s3cr3t@[::1/db", "host=h password=s3cr3t port=notaport"} {
		_, err := postgres.OpenPool(ctx, postgres.PoolOptions{ConnString: bad, Logger: hclog.NewNullLogger()})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "host=h") {
			t.Errorf("bad connection string: got %v, want an error without the string", err)
		}
	}
	_, err = postgres.OpenPool(ctx, postgres.PoolOptions{ConnString: "postgres://nobody:s3cr3t@127.0.0.1:1/x?connect_timeout=2", Logger: hclog.NewNullLogger()})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("unreachable server: got %v", err)
	}

	var logged strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &logged})
	p := openPostgres(t, u.String(), "info", log)
	if _, err := p.Exec(ctx, "SELECT 42"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "SELECT 42") || !strings.Contains(logged.String(), "Query") {
		t.Errorf("pgx_log_level info logged %q, want the query", logged.String())
	}
}

// TestApplicationName: the sessions of a destination's pool show
// "wasmdest/<destination>" in pg_stat_activity, unless the connection string
// names its own application.
func TestApplicationName(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	for _, c := range []struct{ connString, want string }{
		{url, "wasmdest/orders"},
		{url + "&application_name=mine", "mine"},
	} {
		g, err := postgres.Capability().Open(ctx, host.OpenRequest{
			Destination: "orders", Spec: map[string]any{"connection_string": c.connString}, Logger: hclog.NewNullLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		var name string
		err = postgres.GrantPool(g).QueryRow(ctx, "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()").Scan(&name)
		g.Close()
		if err != nil || name != c.want {
			t.Errorf("application_name %q, %v; want %q", name, err, c.want)
		}
	}
}
