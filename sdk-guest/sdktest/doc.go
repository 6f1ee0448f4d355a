// Package sdktest runs a guest's sdk.Destination in-process, for the guest's
// unit tests. Each method sends one operation through the SDK's own
// dispatcher (sdk.Dispatcher) as the host would: a JSON request header, an
// Arrow IPC body, an Arrow IPC or JSON output, statuses turned into errors.
// The stand-in host behind it keeps the guest's log lines and expands
// placeholders ({{TABLE}}, {{UUID}}, ...) with the host's own code.
//
// No WebAssembly is involved: tests run at native speed, under the race
// detector and the debugger. What only the real host does (instance pools,
// memory limits, traps, the schema rules of ABI.md section 6, the
// filesystem and postgres capabilities) is not here: a guest's files go to
// the test process's own filesystem, and the pg_* functions return an
// error. Run the conformance suite (host/conformance) on the built .wasm as
// well.
//
// Calls of every Guest of a test process are serialised, as the calls of
// one guest instance are.
package sdktest
