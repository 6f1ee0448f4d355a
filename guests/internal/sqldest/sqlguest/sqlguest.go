// Package sqlguest makes a guest of the SQL destination: the sql host
// functions as sqldest.DB, and the SDK's interfaces on sqldest.Destination.
// A database's guest is its dialect, its manifest and a call to Register.
package sqlguest

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

// Register registers the guest of dialect d with manifest m (from an init
// function). m gets the sql capability, every write mode and the features
// read, delete_stale and migrate_forced.
func Register(m abi.Manifest, d sqldest.Dialect) {
	m.Capabilities = []abi.Capability{abi.CapSQL}
	m.WriteModes = []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite, abi.WriteModeOverwriteDeleteStale}
	m.Features = []abi.Feature{abi.FeatureRead, abi.FeatureDeleteStale, abi.FeatureMigrateForced}
	sdk.Register(m, &guest{d: sqldest.New(HostDB{}, d)})
}

// guest adapts sqldest.Destination to the SDK's interfaces.
type guest struct{ d *sqldest.Destination }

func (g *guest) Init(_ context.Context, req abi.InitRequest) error { return g.d.Init(req) }

func (g *guest) Describe(_ context.Context, table string, schema *arrow.Schema) (abi.TableState, error) {
	return g.d.Describe(table, schema)
}

func (g *guest) Migrate(_ context.Context, req abi.MigrateRequest, schema *arrow.Schema) error {
	return g.d.Migrate(req, schema)
}

func (g *guest) Write(_ context.Context, table string, records array.RecordReader) error {
	return g.d.Write(table, records)
}

func (g *guest) DeleteStale(_ context.Context, req abi.DeleteStaleRequest) error {
	return g.d.DeleteStale(req)
}

func (g *guest) Read(_ context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	return g.d.Read(table, schema, emit)
}

func (g *guest) Close(context.Context) error { return nil }

// HostDB is sqldest.DB on the host's sql_* functions.
type HostDB struct{}

// Exec implements sqldest.DB.
func (HostDB) Exec(tx int64, query string, args ...any) (int64, error) {
	return sdk.SQLExec(sdk.SQLTx(tx), query, args...)
}

// Query implements sqldest.DB.
func (HostDB) Query(tx int64, types []string, query string, args ...any) (array.RecordReader, error) {
	return sdk.SQLQuery(sdk.SQLTx(tx), types, query, args...)
}

// Begin implements sqldest.DB.
func (HostDB) Begin() (int64, error) {
	tx, err := sdk.SQLBegin()
	return int64(tx), err
}

// Commit implements sqldest.DB.
func (HostDB) Commit(tx int64) error { return sdk.SQLCommit(sdk.SQLTx(tx)) }

// Rollback implements sqldest.DB.
func (HostDB) Rollback(tx int64) error { return sdk.SQLRollback(sdk.SQLTx(tx)) }

// Load implements sqldest.DB. A batch load's records are the running
// write's, which the host loads by reference: they are not sent.
func (HostDB) Load(req abi.SQLLoadRequest, records array.RecordReader) (int64, error) {
	if req.Batch {
		return sdk.SQLLoadBatch(req)
	}
	return sdk.SQLLoad(req, records)
}
