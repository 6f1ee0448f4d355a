//go:build wasip1

// Command file is the wasmdest file destination guest: it writes Arrow
// record batches as CSV, JSON Lines or Parquet files below the one
// directory the host grants it. README.md beside this file describes the
// spec, the files it writes and how every Arrow type is stored.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o file.wasm ./guests/file
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
const version = "v0.3.0"

// CreatedBy is the "created by" of the Parquet files the guest writes.
const CreatedBy = "wasmdest file destination " + version

func init() {
	// The guest never reads a batch's rows, only its schema: the host
	// encodes them by reference (the codec capability), so the guest links
	// no Arrow decoder (core.RegisterSchemaOnly). It implements
	// core.StreamReader but not core.StaleDeleter: files are append-only, so
	// the host refuses overwrite-delete-stale up front.
	core.RegisterSchemaOnly(filedest.Manifest("file", version, abi.CapFilesystem, specSchema), &filedest.Destination{
		Words:     filedest.Words{Destination: "file", File: "file", Finished: "finished"},
		CreatedBy: CreatedBy,
		Open:      open,
	})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
