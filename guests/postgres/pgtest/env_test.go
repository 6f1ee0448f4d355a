//go:build !wasip1

// Package pgtest runs the PostgreSQL guest, compiled to WebAssembly, through
// the host's runtime and pools against a real PostgreSQL server (a
// throwaway cluster started by internal/testenv).
package pgtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) {
	arrowtypes.Register()
	os.Exit(testenv.RunMain(m))
}

const guestPkg = "guests/postgres"

// env is one test's database, a connection pool on it, and a host pool of
// postgres guests.
type env struct {
	t    testing.TB
	ctx  context.Context
	url  string
	db   *pgxpool.Pool // the host's pool, given to the guests
	raw  *pgx.Conn     // the test's own connection, for checks
	rt   *host.Runtime
	g    *host.Guest
	pool *host.Pool
	opts schema.Options
}

type envConfig struct {
	spec     string // nested spec without connection_string
	size     int
	memLimit uint64
	opts     schema.Options
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, url: testenv.PostgresURL(t)}
	var err error
	log := testenv.Logger(t, hclog.Warn)
	if e.db, err = postgres.OpenPool(ctx, postgres.PoolOptions{ConnString: e.url, LogLevel: "error", Logger: log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.db.Close)
	if e.raw, err = pgx.Connect(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.raw.Close(ctx) })
	e.rt = testenv.Runtime(t, host.Config{Logger: log, MemoryLimit: cfg.memLimit})
	e.g = testenv.LoadGuest(t, e.rt, guestPkg)
	if cfg.opts.SourceName == "" {
		cfg.opts.SourceName = "test-source"
	}
	if cfg.opts.SyncTime.IsZero() {
		cfg.opts.SyncTime = time.Date(2026, 11, 21, 6, 25, 49, 123456000, time.UTC)
	}
	e.opts = cfg.opts
	if cfg.spec == "" {
		cfg.spec = "{}"
	}
	e.pool = e.newPool(cfg.spec, cfg.size)
	return e
}

func (e *env) newPool(spec string, size int) *host.Pool {
	e.t.Helper()
	// A COPY per batch unless the spec says otherwise: these tests check
	// each write's rows as soon as it returns.
	var m map[string]any
	if err := json.Unmarshal([]byte(spec), &m); err != nil {
		e.t.Fatal(err)
	}
	if _, ok := m["copy_transaction_bytes"]; !ok {
		m["copy_transaction_bytes"] = 0
		b, _ := json.Marshal(m)
		spec = string(b)
	}
	p, err := e.g.NewPool(host.PoolConfig{
		Size:   size,
		Grants: []host.Grant{postgres.Grant(e.db)},
		Init: &abi.InitRequest{Destination: "pg", Spec: json.RawMessage(spec), WriteMode: e.opts.WriteMode,
			SourceName: e.opts.SourceName, SyncTime: e.opts.SyncTime.Format(time.RFC3339Nano)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// wanted is the schema the host would ask the guest to store for source
// schema in, under the env's options.
func (e *env) wanted(in *arrow.Schema) *arrow.Schema {
	e.t.Helper()
	out, err := schema.Transform(in, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// withInternal returns rec with the internal columns filled, as the host
// sends it, under options o.
func withInternal(t testing.TB, rec arrow.RecordBatch, o schema.Options) arrow.RecordBatch {
	t.Helper()
	return testenv.HostRecord(t, rec, o)
}

func tableOf(s *arrow.Schema) string { return schema.TableName(s) }

func (e *env) describe(wanted *arrow.Schema) abi.TableState {
	e.t.Helper()
	var out bytes.Buffer
	if err := e.pool.Call(e.ctx, nil, abi.OpDescribe, abi.TableRequest{Table: tableOf(wanted)}, host.RecordBody(wanted), &out); err != nil {
		e.t.Fatalf("describe: %v", err)
	}
	var st abi.TableState
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// migrateTo plans the table's migration as the host does and applies it,
// then checks the result as the host does. It returns the plan.
func (e *env) migrateTo(wanted *arrow.Schema, mode abi.MigrateMode) (migrate.Plan, error) {
	e.t.Helper()
	st := e.describe(wanted)
	plan, err := migrate.PlanTable(wanted, st, mode)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	if err := migrate.Check([]migrate.Plan{plan}, mode); err != nil {
		return plan, err
	}
	if plan.Action == "" {
		return plan, nil
	}
	if err := e.pool.Call(e.ctx, nil, abi.OpMigrate, plan.Request(), host.RecordBody(wanted), nil); err != nil {
		return plan, err
	}
	if err := migrate.VerifyApplied(wanted, e.describe(wanted)); err != nil {
		e.t.Fatalf("after %s: %v", plan.Action, err)
	}
	return plan, nil
}

func (e *env) mustMigrate(wanted *arrow.Schema, mode abi.MigrateMode) migrate.Plan {
	e.t.Helper()
	p, err := e.migrateTo(wanted, mode)
	if err != nil {
		e.t.Fatalf("migrate: %v", err)
	}
	return p
}

func (e *env) write(recs ...arrow.RecordBatch) error {
	return e.pool.Call(e.ctx, nil, abi.OpWrite, abi.TableRequest{Table: tableOf(recs[0].Schema())}, host.RecordBody(recs[0].Schema(), recs...), nil)
}

func (e *env) mustWrite(recs ...arrow.RecordBatch) {
	e.t.Helper()
	if err := e.write(recs...); err != nil {
		e.t.Fatalf("write: %v", err)
	}
}

// read returns every stored row in schema s, as one table.
func (e *env) read(s *arrow.Schema) arrow.Table {
	e.t.Helper()
	var out bytes.Buffer
	if err := e.pool.Call(e.ctx, nil, abi.OpRead, abi.TableRequest{Table: tableOf(s)}, host.RecordBody(s), &out); err != nil {
		e.t.Fatalf("read: %v", err)
	}
	got, recs, err := host.ReadRecords(&out)
	if err != nil {
		e.t.Fatal(err)
	}
	if !got.Equal(s) {
		e.t.Fatalf("read back schema\n%s\nwant\n%s", got, s)
	}
	tbl := array.NewTableFromRecords(s, recs)
	for _, r := range recs {
		r.Release()
	}
	e.t.Cleanup(tbl.Release)
	return tbl
}

func (e *env) deleteStale(table string, syncTime time.Time) {
	e.t.Helper()
	req := abi.DeleteStaleRequest{Table: table, SourceName: e.opts.SourceName, SyncTime: syncTime.UTC().Format(time.RFC3339Nano)}
	if err := e.pool.Call(e.ctx, nil, abi.OpDeleteStale, req, nil, nil); err != nil {
		e.t.Fatalf("delete stale: %v", err)
	}
}

// count returns the number of rows of a table (name unquoted, in public).
func (e *env) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.raw.QueryRow(e.ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) query(sql string, args ...any) [][]any {
	e.t.Helper()
	rows, err := e.raw.Query(e.ctx, sql, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func optsFor(writeMode abi.WriteMode) schema.Options {
	return schema.Options{WriteMode: writeMode, SourceName: "test-source", SyncTime: time.Date(2026, 11, 21, 6, 25, 49, 123456000, time.UTC)}
}

// openWithSearchPath opens a host pool on the env's database whose sessions
// have search_path schema.
func openWithSearchPath(e *env, schema string) (*pgxpool.Pool, error) {
	db, err := postgres.OpenPool(e.ctx, postgres.PoolOptions{ConnString: e.url + "&search_path=" + schema, LogLevel: "error", Logger: testenv.Logger(e.t, hclog.Warn)})
	if err == nil {
		e.t.Cleanup(db.Close)
	}
	return db, err
}
