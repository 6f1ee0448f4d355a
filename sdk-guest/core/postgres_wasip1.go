//go:build wasip1

package core

import (
	"encoding/json"
	"unsafe"

	"github.com/wasmdest/wasmdest/abi"
)

//go:wasmimport wasmdest pg_exec
func hostPgExec(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest pg_query
func hostPgQuery(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest pg_begin
func hostPgBegin() int64

//go:wasmimport wasmdest pg_commit
func hostPgCommit(tx int64) int64

//go:wasmimport wasmdest pg_rollback
func hostPgRollback(tx int64) int64

//go:wasmimport wasmdest pg_copy_from
func hostPgCopyFrom(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest pg_copy_data
func hostPgCopyData(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest pg_copy_end
func hostPgCopyEnd() int64

//go:wasmimport wasmdest pg_copy_to
func hostPgCopyTo(ptr unsafe.Pointer, n uint32) int64

// The request-taking pg_* functions, as the shared code names them.
var (
	importPgExec     = hostPgExec
	importPgQuery    = hostPgQuery
	importPgCopyFrom = hostPgCopyFrom
	importPgCopyTo   = hostPgCopyTo
)

func pgCopyData(p []byte) int64 { return hostPgCopyData(bytesPtr(p), uint32(len(p))) }

// hostCount turns the i64 of a host function that returns a handle or a
// count (never data) into it or its error.
func hostCount(n int64) (int64, error) {
	if n < 0 {
		return 0, readHostError(uint32(-n))
	}
	return n, nil
}

// pgCallRaw sends req to a request-taking pg_* function and returns the data
// it left in the result slot.
func pgCallRaw(fn func(unsafe.Pointer, uint32) int64, req abi.PgRequest) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return hostResult(fn(bytesPtr(b), uint32(len(b))))
}

// pgCall is pgCallRaw decoding the result into out (nil: no result).
func pgCall(fn func(unsafe.Pointer, uint32) int64, req abi.PgRequest, out any) error {
	b, err := pgCallRaw(fn, req)
	if err != nil || out == nil || len(b) == 0 {
		return err
	}
	return json.Unmarshal(b, out)
}
