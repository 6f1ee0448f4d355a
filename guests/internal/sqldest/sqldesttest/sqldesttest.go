//go:build !wasip1

// Package sqldesttest runs the dialect-neutral SQL destination natively,
// on the host's sql capability (host/capability/sqldb) instead of through
// a guest: the dialects' tests check type mapping, migrations and loads
// against the real databases without building WebAssembly.
package sqldesttest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
)

// DB is sqldest.DB on one sqldb session: every call is one operation of
// its own, as a guest's call would be when it does not span operations.
type DB struct {
	Ctx context.Context
	S   *sqldb.Session
}

var _ sqldest.DB = DB{}

// Exec implements sqldest.DB.
func (d DB) Exec(tx int64, query string, args ...any) (int64, error) {
	return d.S.Exec(d.Ctx, abi.SQLRequest{Tx: tx, SQL: query, Args: jsonArgs(args)})
}

// jsonArgs passes the arguments through JSON, as a guest's do.
func jsonArgs(args []any) []any {
	if len(args) == 0 {
		return nil
	}
	b, _ := json.Marshal(args)
	var out []any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.Decode(&out)
	return out
}

// Query implements sqldest.DB.
func (d DB) Query(tx int64, types []string, query string, args ...any) (array.RecordReader, error) {
	b, err := d.S.Query(d.Ctx, abi.SQLRequest{Tx: tx, SQL: query, Args: jsonArgs(args), Types: types})
	if err != nil {
		return nil, err
	}
	return ipc.NewReader(bytes.NewReader(b))
}

// Begin implements sqldest.DB.
func (d DB) Begin() (int64, error) { return d.S.Begin(d.Ctx) }

// Commit implements sqldest.DB.
func (d DB) Commit(tx int64) error { return d.S.Commit(d.Ctx, tx) }

// Rollback implements sqldest.DB.
func (d DB) Rollback(tx int64) error { return d.S.Rollback(d.Ctx, tx) }

// Load implements sqldest.DB: the records go to the load as an Arrow IPC
// stream in small chunks, as the SDK sends them.
//
// A batch load's records go to the session as they are, as the host passes
// a write's batch by reference.
func (d DB) Load(req abi.SQLLoadRequest, records array.RecordReader) (int64, error) {
	if req.Batch {
		var recs []arrow.RecordBatch
		for records.Next() {
			rec := records.RecordBatch()
			rec.Retain()
			defer rec.Release()
			recs = append(recs, rec)
		}
		if err := records.Err(); err != nil {
			return 0, err
		}
		if err := d.S.LoadRecords(d.Ctx, req, records.Schema(), recs); err != nil {
			return 0, err
		}
		return d.S.LoadEnd(d.Ctx)
	}
	if err := d.S.LoadBegin(d.Ctx, req); err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(records.Schema()))
	for records.Next() {
		if err := w.Write(records.RecordBatch()); err != nil {
			return 0, err
		}
	}
	w.Close()
	for p := buf.Bytes(); len(p) > 0; {
		n := min(len(p), 64<<10)
		if err := d.S.LoadData(d.Ctx, p[:n]); err != nil {
			return 0, err
		}
		p = p[n:]
	}
	return d.S.LoadEnd(d.Ctx)
}

// Open returns a destination speaking dialect on db, with a session ended
// when the test ends.
func Open(t testing.TB, db *sqldb.DB, dialect sqldest.Dialect) (*sqldest.Destination, DB) {
	t.Helper()
	s := sqldb.NewSession(db, nil)
	t.Cleanup(func() { s.End(context.Background()) })
	d := DB{Ctx: context.Background(), S: s}
	return sqldest.New(d, dialect), d
}

// Reader returns a record reader over recs.
func Reader(t testing.TB, recs ...arrow.RecordBatch) array.RecordReader {
	t.Helper()
	r, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ReadAll reads a table back through the destination.
func ReadAll(t testing.TB, d *sqldest.Destination, table string, schema *arrow.Schema) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	err := d.Read(table, schema, func(rec arrow.RecordBatch) error {
		rec.Retain()
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
