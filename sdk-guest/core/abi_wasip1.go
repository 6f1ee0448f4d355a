//go:build wasip1

package core

import (
	"encoding/json"
	"errors"
	"unsafe"

	"github.com/wasmdest/wasmdest/abi"
)

// pinned keeps buffers handed to the host alive and unmoved (Go's collector
// does not move objects) until the host frees them.
var pinned = map[uintptr][]byte{}

//go:wasmexport wasmdest_abi_version
func exportVersion() uint32 { return uint32(abi.CurrentVersion) }

//go:wasmexport wasmdest_alloc
func exportAlloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	p := uintptr(unsafe.Pointer(&b[0]))
	pinned[p] = b
	return uint32(p)
}

//go:wasmexport wasmdest_free
func exportFree(ptr uint32) { delete(pinned, uintptr(ptr)) }

//go:wasmexport wasmdest_call
func exportCall(op, ptr, n uint32) uint32 {
	var header []byte
	if n > 0 {
		b, ok := pinned[uintptr(ptr)]
		if !ok || int(n) > len(b) {
			wasmHost{}.SetError("request header is not a buffer from wasmdest_alloc")
			return uint32(abi.StatusBadRequest)
		}
		header = b[:n]
	}
	return uint32(registered.Call(abi.Op(op), header, wasmHost{}))
}

//go:wasmimport wasmdest log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmdest set_error
func hostSetError(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmdest input_read
func hostInputRead(ptr unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmdest output
func hostOutput(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport wasmdest result_read
func hostResultRead(ptr unsafe.Pointer, capacity uint32) uint32

//go:wasmimport wasmdest expand
func hostExpand(ptr unsafe.Pointer, n uint32) int64

// bytesPtr returns a pointer to b's data, or nil for an empty b.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func stringPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// wasmHost is the wasmdest host's functions.
type wasmHost struct{}

func (wasmHost) SetError(msg string) { hostSetError(stringPtr(msg), uint32(len(msg))) }

func (wasmHost) InputRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := hostInputRead(bytesPtr(p), uint32(len(p)))
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		return 0, errEOF
	}
	return 0, readHostError(uint32(-n))
}

func (wasmHost) Output(p []byte) error {
	if hostOutput(bytesPtr(p), uint32(len(p))) != 0 {
		return ErrStopped
	}
	return nil
}

// hostResult turns the i64 a data-returning host function gave into its data
// or its error, reading the result slot.
func hostResult(n int64) ([]byte, error) {
	if n < 0 {
		return nil, readHostError(uint32(-n))
	}
	b := make([]byte, n)
	if n > 0 {
		hostResultRead(bytesPtr(b), uint32(n))
	}
	return b, nil
}

func readHostError(n uint32) error {
	b := make([]byte, n)
	if n > 0 {
		hostResultRead(bytesPtr(b), n)
	}
	he := &abi.HostError{}
	if err := json.Unmarshal(b, he); err != nil || he.Message == "" {
		return errors.New("host function failed: " + string(b))
	}
	return he
}

func (wasmHost) Log(level abi.Level, msg string) {
	hostLog(int32(level), stringPtr(msg), uint32(len(msg)))
}

func (wasmHost) Expand(req abi.ExpandRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	out, err := hostResult(hostExpand(bytesPtr(b), uint32(len(b))))
	return string(out), err
}

// withHost runs f: in WebAssembly the host functions are the imports.
func withHost(_ Host, f func() abi.Status) abi.Status { return f() }

func logLine(level abi.Level, msg string) { wasmHost{}.Log(level, msg) }

// Expand fills placeholders ({{TABLE}}, {{UUID}}, {{YEAR}}, ...) in
// req.Template with the host's one expansion function.
func Expand(req abi.ExpandRequest) (string, error) { return wasmHost{}.Expand(req) }
