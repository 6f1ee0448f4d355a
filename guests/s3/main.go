//go:build wasip1

// Command s3 is the wasmdest S3 destination guest: it writes Arrow record
// batches as CSV, JSON Lines or Parquet objects in an S3 bucket (AWS or an
// S3-compatible store), through the host's http capability, which signs
// the requests with credentials the guest never sees. README.md beside
// this file describes the spec and how objects are written.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o s3.wasm ./guests/s3
package main

import (
	_ "embed"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/filespec"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

// CreatedBy is the "created by" of the Parquet objects the guest writes.
const CreatedBy = "wasmdest s3 destination " + version

func init() {
	// Decode CloudQuery's uuid, json, inet and mac columns as those types.
	arrowtypes.Register()
	// The guest implements sdk.Reader but not sdk.StaleDeleter: objects
	// are append-only, so the host refuses overwrite-delete-stale up front.
	sdk.Register(abi.Manifest{
		Name:         "s3",
		Version:      version,
		Capabilities: []abi.Capability{abi.CapHTTP, abi.CapCodec},
		SpecSchema:   specSchema,
		WriteModes:   []abi.WriteMode{abi.WriteModeAppend},
		BatchDefaults: abi.BatchLimits{
			Rows:    filespec.DefaultBatchRows,
			Bytes:   filespec.DefaultBatchBytes,
			Timeout: filespec.DefaultBatchTimeout,
		},
	}, &destination{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
