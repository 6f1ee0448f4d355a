//go:build wasip1

// Command pgnocap is a hostile test guest that imports a host function of
// the postgres capability (pg_exec) without asking for the capability in its
// manifest. The host must refuse it when it loads it, before any of it runs
// with data.
package main

import (
	"context"
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

type dest struct{}

func init() {
	sdk.Register(abi.Manifest{
		Name: "pgnocap", Version: "v0.0.1",
		SpecSchema: json.RawMessage(`{"type":"object"}`),
	}, dest{})
}

func main() {}

func (dest) Init(context.Context, abi.InitRequest) error { return nil }
func (dest) Close(context.Context) error                 { return nil }

func (dest) Write(context.Context, string, array.RecordReader) error {
	_, err := sdk.PgExec(0, "DROP TABLE IF EXISTS other_tenants_data")
	return err
}
