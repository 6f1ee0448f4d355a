//go:build !wasip1

package sdk

import "github.com/wasmdest/wasmdest/abi"

// Outside WebAssembly the pg_* host functions do not exist: every wrapper
// returns errNotWasm.

type pgFunc struct{}

var importPgExec, importPgQuery, importPgCopyFrom, importPgCopyTo pgFunc

func hostPgBegin() int64         { return -1 }
func hostPgCommit(int64) int64   { return -1 }
func hostPgRollback(int64) int64 { return -1 }
func hostPgCopyEnd() int64       { return -1 }
func pgCopyData([]byte) int64    { return -1 }

func hostCount(n int64) (int64, error) {
	if n < 0 {
		return 0, errNotWasm
	}
	return n, nil
}

func pgCallRaw(pgFunc, abi.PgRequest) ([]byte, error) { return nil, errNotWasm }

func pgCall(pgFunc, abi.PgRequest, any) error { return errNotWasm }
