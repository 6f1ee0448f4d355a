//go:build wasip1

// Command webhook is the wasmdest webhook destination guest: it POSTs each
// batch to a URL as JSON Lines (encoded by the host's codec capability) or
// as an Arrow IPC stream, through the host's http capability, which adds
// the credentials and retries. A batch that encodes bigger than
// max_body_bytes is sent as several requests of whole rows. README.md
// beside this file describes the spec and what the server receives.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o webhook.wasm ./guests/webhook
package main

import (
	_ "embed"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

//go:embed spec.schema.json
var specSchema []byte

// version is the guest's own version, reported in its manifest.
const version = "v0.1.0"

func init() {
	// Decode CloudQuery's uuid, json, inet and mac columns as those types.
	arrowtypes.Register()
	sdk.Register(abi.Manifest{
		Name:         "webhook",
		Version:      version,
		Capabilities: []abi.Capability{abi.CapHTTP, abi.CapCodec},
		SpecSchema:   specSchema,
		// The http key holds the allowlist and the credentials: the host
		// keeps it (the capability's secret anyway; said here too).
		Secrets:    []string{"http"},
		WriteModes: []abi.WriteMode{abi.WriteModeAppend},
		BatchDefaults: abi.BatchLimits{
			Rows:    10000,
			Bytes:   32 << 20,
			Timeout: defaultBatchTimeout,
		},
	}, &destination{})
}

// main is not run: a WASI reactor runs only its initialisers.
func main() {}
