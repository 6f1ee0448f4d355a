//go:build !wasip1

package core

import (
	"errors"
	"sync"

	"github.com/wasmdest/wasmdest/abi"
)

// errNotWasm is what host functions return outside WebAssembly and outside
// a Dispatcher.Call (package sdktest): a guest runs only when built with
// GOOS=wasip1 GOARCH=wasm.
var errNotWasm = errors.New("wasmdest sdk: host functions exist only in a guest built with GOOS=wasip1 GOARCH=wasm, or in a call run in-process by package sdktest")

// inProcess is the Host of the Dispatcher.Call running outside WebAssembly,
// or nil. callMu serialises such calls, as a guest instance serves one call
// at a time; mu guards inProcess for the host functions.
var (
	callMu    sync.Mutex
	mu        sync.Mutex
	inProcess Host
)

// withHost runs f with h as the host of the SDK's functions.
func withHost(h Host, f func() abi.Status) abi.Status {
	callMu.Lock()
	defer callMu.Unlock()
	mu.Lock()
	inProcess = h
	mu.Unlock()
	defer func() {
		mu.Lock()
		inProcess = nil
		mu.Unlock()
	}()
	return f()
}

func currentHost() Host {
	mu.Lock()
	defer mu.Unlock()
	return inProcess
}

func logLine(level abi.Level, msg string) {
	if h := currentHost(); h != nil {
		h.Log(level, msg)
	}
}

// Expand fills placeholders ({{TABLE}}, {{UUID}}, {{YEAR}}, ...) in
// req.Template with the host's one expansion function.
func Expand(req abi.ExpandRequest) (string, error) {
	if h := currentHost(); h != nil {
		return h.Expand(req)
	}
	return "", errNotWasm
}
