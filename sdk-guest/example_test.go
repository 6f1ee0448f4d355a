//go:build !wasip1

package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
	"github.com/wasmdest/wasmdest/sdk-guest/sdktest"
)

// counter is a destination that counts the rows it is given.
type counter struct{ rows int64 }

func (c *counter) Init(_ context.Context, req abi.InitRequest) error {
	sdk.Info("ready", "write_mode", req.WriteMode)
	return nil
}

func (c *counter) Write(_ context.Context, table string, records array.RecordReader) error {
	for records.Next() {
		c.rows += records.RecordBatch().NumRows()
	}
	sdk.Info("batch written", "table", table, "rows", c.rows)
	return records.Err()
}

func (c *counter) Close(context.Context) error { return nil }

func users(n int) (*arrow.Schema, arrow.RecordBatch) {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"users"})
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, &md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	return schema, b.NewRecordBatch()
}

// A guest registers its destination from an init function; built with
// GOOS=wasip1 GOARCH=wasm it is then a wasmdest guest:
//
//	func init() {
//		sdk.Register(abi.Manifest{Name: "counter", Version: "v0.1.0"}, &counter{})
//	}
//
// Its unit tests run the same destination in-process with package sdktest,
// through the SDK's own dispatcher.
func Example() {
	g, err := sdktest.Start(abi.Manifest{Name: "counter", Version: "v0.1.0"}, &counter{}, sdktest.Config{Log: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer g.Close()
	schema, rec := users(3)
	defer rec.Release()
	if err := g.Write("users", schema, rec, rec); err != nil {
		panic(err)
	}
	fmt.Println("features:", abi.List(g.Manifest().Features))
	// Output:
	// INFO ready write_mode=overwrite-delete-stale
	// INFO batch written table=users rows=6
	// features:
}

// fileNamer is a destination that names a file per batch, as the file
// guest does.
type fileNamer struct{ counter }

func (f *fileNamer) Write(_ context.Context, table string, records array.RecordReader) error {
	name, err := sdk.Expand(abi.ExpandRequest{Template: "{{TABLE}}/{{YEAR}}-{{MONTH}}/{{SYNC_ID}}.{{FORMAT}}", Table: table, Format: "csv"})
	if err != nil {
		return err
	}
	fmt.Println("would write", name)
	return nil
}

// Expand fills the host's placeholders; in-process, sdktest fills them as
// the host does, from the init request.
func ExampleExpand() {
	g, err := sdktest.Start(abi.Manifest{Name: "files", Version: "v0.1.0"}, &fileNamer{},
		sdktest.Config{Init: abi.InitRequest{SyncID: "sync-1", SyncTime: "2026-11-21T06:25:49.123456Z"}})
	if err != nil {
		panic(err)
	}
	defer g.Close()
	schema, rec := users(1)
	defer rec.Release()
	if err := g.Write("users", schema, rec); err != nil {
		panic(err)
	}
	// Output:
	// would write users/2026-11/sync-1.csv
}

// printHost is the host side of the ABI reduced to printing.
type printHost struct{ out bytes.Buffer }

func (h *printHost) SetError(msg string)                      { fmt.Println("error:", msg) }
func (h *printHost) InputRead([]byte) (int, error)            { return 0, nil }
func (h *printHost) Output(p []byte) error                    { h.out.Write(p); return nil }
func (h *printHost) Log(_ abi.Level, msg string)              { fmt.Println("log:", msg) }
func (h *printHost) Expand(abi.ExpandRequest) (string, error) { return "", nil }

// A Dispatcher is what a guest's wasmdest_call export runs: one operation
// code and a JSON header in, a status and output out.
func ExampleDispatcher_Call() {
	d := sdk.NewDispatcher(abi.Manifest{Name: "counter", Version: "v0.1.0"}, &counter{})
	h := &printHost{}
	fmt.Println(d.Call(abi.OpManifest, nil, h))
	var m abi.Manifest
	if err := json.Unmarshal(h.out.Bytes(), &m); err != nil {
		panic(err)
	}
	fmt.Println(m.Name, m.Version, "ABI", m.ABIVersion == abi.CurrentVersion.String())
	fmt.Println(d.Call(abi.OpDescribe, []byte(`{"table":"users"}`), h))
	// Output:
	// ok
	// counter v0.1.0 ABI true
	// unsupported
}
