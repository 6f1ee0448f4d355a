package serve_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// Example runs a server with one tenant on a loopback port, then, as that
// tenant's client, begins a sync, streams a table with DoPut and finishes.
func Example() {
	ctx := context.Background()
	wasm, err := testenv.Build("guests/file")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "wasmdest-serve-example-")
	defer os.RemoveAll(dir)

	// The operator: a token for the tenant, and the tenants file.
	token, sha := serve.NewToken()
	tenants := fmt.Sprintf(`
[[tenant]]
name = "acme"
token_sha256 = %q
grant = ["filesystem"]
root = "acme"

[[tenant.destination]]
name = "files"
registry = "local"
path = %q
write_mode = "append"
[tenant.destination.spec]
path = "{{TABLE}}.{{FORMAT}}"
no_rotate = true
`, sha, wasm)
	os.WriteFile(filepath.Join(dir, "tenants.toml"), []byte(tenants), 0o644)
	srv, err := serve.New(ctx, serve.Options{
		ConfigPath: filepath.Join(dir, "tenants.toml"),
		CacheDir:   filepath.Join(os.TempDir(), "wasmdest-test-compilation-cache"),
		Log:        hclog.NewNullLogger(), LogOutput: os.Stderr, LogLevel: hclog.Error,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close(ctx)
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.ServeFlight(lis)

	// The tenant: begin, one DoPut per table, finish.
	c, err := serve.Dial(lis.Addr().String(), token)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	b, err := c.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	bld.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := bld.NewRecordBatch()
	defer rec.Release()
	res, err := c.Put(ctx, b.Sync, "users", schema, rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("put:", res.Table, res.Rows, "rows")
	sum, err := c.Finish(ctx, b.Sync)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range sum.Tables {
		fmt.Println("finished:", t.Table, t.Rows, "rows in", t.Batches, "batch")
	}
	out, _ := os.ReadFile(filepath.Join(dir, "acme", "files", "users.json"))
	fmt.Print(len(out) > 0, "\n")
	// Output:
	// put: users 3 rows
	// finished: users 3 rows in 1 batch
	// true
}
