//go:build wasip1

// Command file is the wasmdest file destination guest: it writes Arrow
// record batches as files below the one directory the host grants it.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o file.wasm ./guests/file
package main

import (
	_ "embed"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	sdk.Register(abi.Manifest{
		Name:         "file",
		Version:      version,
		Capabilities: []abi.Capability{abi.CapFilesystem},
		SpecSchema:   specSchema,
		WriteModes:   []string{abi.WriteModeAppend},
		BatchDefaults: abi.BatchDefaults{
			Rows:    10000,
			Bytes:   50 << 20,
			Timeout: "30s",
		},
	}, &destination{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
