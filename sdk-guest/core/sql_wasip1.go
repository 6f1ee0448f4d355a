//go:build wasip1

package core

import (
	"encoding/json"
	"unsafe"
)

//go:wasmimport wasmdest sql_exec
func hostSQLExec(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest sql_query
func hostSQLQuery(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest sql_begin
func hostSQLBegin() int64

//go:wasmimport wasmdest sql_commit
func hostSQLCommit(tx int64) int64

//go:wasmimport wasmdest sql_rollback
func hostSQLRollback(tx int64) int64

//go:wasmimport wasmdest sql_load
func hostSQLLoad(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest sql_load_data
func hostSQLLoadData(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest sql_load_end
func hostSQLLoadEnd() int64

// The request-taking sql_* functions, as the shared code names them.
var (
	importSQLExec  = hostSQLExec
	importSQLQuery = hostSQLQuery
	importSQLLoad  = hostSQLLoad
)

func sqlLoadData(p []byte) int64 { return hostSQLLoadData(bytesPtr(p), uint32(len(p))) }

// sqlCallRaw sends req, JSON-encoded, to a request-taking sql_* function and
// returns the data it left in the result slot.
func sqlCallRaw(fn func(unsafe.Pointer, uint32) int64, req any) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return hostResult(fn(bytesPtr(b), uint32(len(b))))
}

// sqlCall is sqlCallRaw decoding the result into out (nil: no result).
func sqlCall(fn func(unsafe.Pointer, uint32) int64, req any, out any) error {
	b, err := sqlCallRaw(fn, req)
	if err != nil || out == nil || len(b) == 0 {
		return err
	}
	return json.Unmarshal(b, out)
}
