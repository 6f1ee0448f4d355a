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
	"github.com/wasmdest/wasmdest/guests/internal/filedest"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

// CreatedBy is the "created by" of the Parquet objects the guest writes.
const CreatedBy = "wasmdest s3 destination " + version

func init() {
	// The guest never reads a batch's rows, only its schema: the host
	// encodes them by reference (the codec capability), so the guest links
	// no Arrow decoder (core.RegisterSchemaOnly), as the file guest, whose
	// destination it shares (guests/internal/filedest). Objects are
	// append-only: the host refuses overwrite-delete-stale up front.
	core.RegisterSchemaOnly(filedest.Manifest("s3", version, abi.CapHTTP, specSchema), &filedest.Destination{
		Words:     filedest.Words{Destination: "S3", File: "object", Finished: "completed"},
		CreatedBy: CreatedBy,
		Open:      open,
	})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
