package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// Example loads a guest, writes a batch of rows through a pool of its
// instances and reads them back.
func Example() {
	ctx := context.Background()
	wasm, err := testenv.Build("host/testdata/guests/misbehave")
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, err := host.NewRuntime(ctx, host.Config{
		CacheDir: os.TempDir() + "/wasmdest-test-compilation-cache",
		Logger:   hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)

	guest, err := rt.LoadFile(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("guest:", guest.Manifest().Name, guest.Manifest().Version, "ABI", guest.ABIVersion())

	pool, err := guest.NewPool(host.PoolConfig{Size: 1, Init: &abi.InitRequest{Destination: "example", Spec: []byte(`{}`)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close(ctx)

	rec := people(0, 3)
	defer rec.Release()
	if err := pool.Call(ctx, nil, abi.OpWrite, abi.TableRequest{Table: "people"}, host.RecordBody(rec.Schema(), rec), nil); err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	if err := pool.Call(ctx, nil, abi.OpRead, abi.TableRequest{Table: "people"}, host.RecordBody(rec.Schema()), &out); err != nil {
		fmt.Println(err)
		return
	}
	_, recs, err := host.ReadRecords(&out)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rec := range recs {
		fmt.Println("read back ids:", rec.Column(0).(*array.Int64).Int64Values())
		rec.Release()
	}
	// Output:
	// guest: misbehave v0.0.1 ABI 1.8
	// read back ids: [0 1 2]
}
