//go:build wasip1

// Command postgres is the wasmdest PostgreSQL destination guest. It writes
// Arrow record batches to PostgreSQL through the host's pg_* functions (the
// postgres capability): binary COPY for inserts, COPY into a staging table
// and one INSERT ... ON CONFLICT per batch for upserts. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o postgres.wasm ./guests/postgres
package main

import (
	"context"
	_ "embed"
	"errors"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/dest"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	sdk.Register(abi.Manifest{
		Name:         "postgres",
		Version:      version,
		Capabilities: []abi.Capability{abi.CapPostgres},
		SpecSchema:   specSchema,
		Secrets:      []string{"connection_string"},
		WriteModes:   []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite, abi.WriteModeOverwriteDeleteStale},
		Features:     []abi.Feature{abi.FeatureRead, abi.FeatureDeleteStale, abi.FeatureMigrateForced, abi.FeatureDeleteRecord, abi.FeatureParallelUpserts},
		BatchDefaults: abi.BatchLimits{
			Rows:    10000,
			Bytes:   100000000,
			Timeout: time.Minute,
		},
	}, &guest{d: dest.New(hostDB{})})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}

// guest adapts dest.Destination to the SDK's interfaces.
type guest struct{ d *dest.Destination }

func (g *guest) Init(_ context.Context, req abi.InitRequest) error { return g.d.Init(req) }

func (g *guest) Describe(_ context.Context, table string, schema *arrow.Schema) (abi.TableState, error) {
	return g.d.Describe(table, schema)
}

func (g *guest) Migrate(_ context.Context, req abi.MigrateRequest, schema *arrow.Schema) error {
	return g.d.Migrate(req, schema)
}

func (g *guest) Write(ctx context.Context, table string, records array.RecordReader) error {
	res, err := g.d.Write(table, records)
	if res.HeldRows > 0 || len(res.Durable) > 0 || len(res.Lost) > 0 {
		sdk.ReportWrite(ctx, res)
	}
	return err
}

func (g *guest) DeleteStale(_ context.Context, req abi.DeleteStaleRequest) error {
	return g.d.DeleteStale(req)
}

func (g *guest) DeleteRecord(_ context.Context, req abi.DeleteRecordRequest) error {
	return g.d.DeleteRecord(req)
}

func (g *guest) Read(_ context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	return g.d.Read(table, schema, emit)
}

// Close commits a COPY the instance holds (see dest.Destination.EndHeld).
func (g *guest) Close(context.Context) error { return g.d.EndHeld() }

// hostDB is dest.DB on the host's pg_* functions. Its errors carry the
// server's detail and hint in their text.
type hostDB struct{}

// explain adds a database error's detail and hint to its message.
func explain(err error) error {
	var he *abi.HostError
	if err == nil || !errors.As(err, &he) || he.Detail == "" && he.Hint == "" {
		return err
	}
	extra := he.Detail
	if he.Hint != "" {
		extra = strings.TrimSpace(extra + " Hint: " + he.Hint)
	}
	return &explained{err: err, extra: extra}
}

type explained struct {
	err   error
	extra string
}

func (e *explained) Error() string { return e.err.Error() + ": " + e.extra }
func (e *explained) Unwrap() error { return e.err }

func (hostDB) Exec(tx int64, sql string, args ...any) (int64, error) {
	n, err := sdk.PgExec(sdk.PgTx(tx), sql, args...)
	return n, explain(err)
}

func (hostDB) Query(tx int64, sql string, args ...any) (*abi.PgQueryResult, error) {
	res, err := sdk.PgQuery(sdk.PgTx(tx), sql, args...)
	return res, explain(err)
}

func (hostDB) Begin() (int64, error) {
	tx, err := sdk.PgBegin()
	return int64(tx), explain(err)
}

func (hostDB) Commit(tx int64) error   { return explain(sdk.PgCommit(sdk.PgTx(tx))) }
func (hostDB) Rollback(tx int64) error { return explain(sdk.PgRollback(sdk.PgTx(tx))) }

// CopyBatch has the host encode the running write's batch by reference:
// records, the same batch, is not read.
func (hostDB) CopyBatch(req abi.PgRequest, _ array.RecordReader) (abi.PgCopyBatchResult, error) {
	res, err := sdk.PgCopyBatch(req)
	return res, explain(err)
}

// CopyHold runs a batch COPY the host holds open across writes.
func (hostDB) CopyHold(req abi.PgRequest) (abi.PgCopyBatchResult, error) {
	res, err := sdk.PgCopyHold(req)
	return res, explain(err)
}

// CopyEnd commits the held COPY.
func (hostDB) CopyEnd() (int64, error) {
	n, err := sdk.PgCopyEnd()
	return n, explain(err)
}

func (hostDB) CopyTo(tx int64, sql string) ([]byte, error) {
	out, err := sdk.PgCopyTo(sdk.PgTx(tx), sql)
	return out, explain(err)
}
