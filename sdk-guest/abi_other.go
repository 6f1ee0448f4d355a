//go:build !wasip1

package sdk

import (
	"errors"

	"github.com/wasmdest/wasmdest/abi"
)

// errNotWasm is what host functions return outside WebAssembly: a guest
// runs only when built with GOOS=wasip1 GOARCH=wasm.
var errNotWasm = errors.New("wasmdest sdk: host functions exist only in a guest built with GOOS=wasip1 GOARCH=wasm")

func logLine(abi.Level, string) {}

// Expand fills placeholders ({{TABLE}}, {{UUID}}, {{YEAR}}, ...) in
// req.Template with the host's one expansion function.
func Expand(abi.ExpandRequest) (string, error) { return "", errNotWasm }
