package serve_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) {
	compilejail.Main() // the child that compiles an upload re-runs this test binary
	code := testenv.RunMain(m)
	removeCompileExecutable()
	os.Exit(code)
}

// tenantDatabase makes a database owned by a login role of its own, which
// only that role may connect to, and returns the role's connection string.
func tenantDatabase(t *testing.T, admin *pgx.Conn, name string) string {
	t.Helper()
	ctx := context.Background()
	db := fmt.Sprintf("serve_%s_%d", name, time.Now().UnixNano())
	role := db + "_role"
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw-%s'", role, name),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", db, role),
		fmt.Sprintf("REVOKE CONNECT ON DATABASE %s FROM PUBLIC", db),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	adminURL := admin.Config().ConnString()
	t.Cleanup(func() { // leave a shared server ($WASMDEST_TEST_PG_URL) as it was
		ctx := context.Background()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db))
		c.Exec(ctx, fmt.Sprintf("DROP ROLE IF EXISTS %s", role))
	})
	cc := admin.Config()
	return fmt.Sprintf("host=%s port=%d user=%s password=pw-%s dbname=%s sslmode=disable", cc.Host, cc.Port, role, name, db)
}

// TestServePostgresTenants: two tenants with the postgres guest, each with
// its own database and credential. Each one's rows land in its own database;
// one tenant's credential cannot even connect to the other's.
func TestServePostgresTenants(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	urls := map[string]string{"acme": tenantDatabase(t, admin, "acme"), "globex": tenantDatabase(t, admin, "globex")}
	wasm := testenv.BuildGuest(t, "guests/postgres")
	var specs []tenantSpec
	for _, name := range []string{"acme", "globex"} {
		specs = append(specs, tenantSpec{name: name, extra: "grant = [\"postgres\"]\ntrusted = true\n",
			dests: guestDest("pg", wasm, "overwrite-delete-stale", fmt.Sprintf(`{"connection_string": %q}`, urls[name]))})
	}
	l := startServer(t, serve.Options{}, specs...)
	for i, name := range []string{"acme", "globex"} {
		c := l.client(name)
		b, err := c.Begin(ctx, serve.BeginRequest{Destination: "pg", SourceName: name})
		if err != nil {
			t.Fatal(err)
		}
		recs := batches(i*1000, 2, 500)
		if _, err := c.Put(ctx, b.Sync, "users", usersSchema, recs...); err != nil {
			t.Fatal(err)
		}
		release(recs)
		if _, err := c.Finish(ctx, b.Sync); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"acme", "globex"} {
		conn, err := pgx.Connect(ctx, urls[name])
		if err != nil {
			t.Fatal(err)
		}
		var n, lo int64
		var src string
		if err := conn.QueryRow(ctx, "SELECT count(*), min(id), min(_cq_source_name) FROM users").Scan(&n, &lo, &src); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if n != 1000 || lo != int64(i*1000) || src != name {
			t.Errorf("%s's database holds %d rows from id %d of source %q", name, n, lo, src)
		}
	}
	// acme's credential against globex's database.
	cfg, _ := pgx.ParseConfig(urls["acme"])
	other, _ := pgx.ParseConfig(urls["globex"])
	cfg.Database = other.Database
	if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		conn.Close(ctx)
		t.Error("acme's credential connects to globex's database")
	} else {
		t.Logf("acme's credential on globex's database: %v", err)
	}
}
