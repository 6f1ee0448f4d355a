//go:build !wasip1

package core

import (
	"errors"

	"github.com/wasmdest/wasmdest/abi"
)

// Outside WebAssembly the pg_* host functions do not exist, in-process
// (package sdktest) neither: every wrapper returns errNoPostgres.
var errNoPostgres = errors.New("wasmdest sdk: the pg_* host functions exist only in a guest built with GOOS=wasip1 GOARCH=wasm: test a postgres guest through the host (host/conformance)")

type pgFunc struct{}

var importPgExec, importPgQuery, importPgCopyFrom, importPgCopyTo pgFunc

func hostPgBegin() int64         { return -1 }
func hostPgCommit(int64) int64   { return -1 }
func hostPgRollback(int64) int64 { return -1 }
func hostPgCopyEnd() int64       { return -1 }
func pgCopyData([]byte) int64    { return -1 }

func hostCount(n int64) (int64, error) {
	if n < 0 {
		return 0, errNoPostgres
	}
	return n, nil
}

func pgCallRaw(pgFunc, abi.PgRequest) ([]byte, error) { return nil, errNoPostgres }

func pgCall(pgFunc, abi.PgRequest, any) error { return errNoPostgres }
