//go:build !wasip1

package core

// Outside WebAssembly the sql_* host functions do not exist: every wrapper
// returns errNotWasm.

type sqlFunc struct{}

var importSQLExec, importSQLQuery, importSQLLoad sqlFunc

func hostSQLBegin() int64         { return -1 }
func hostSQLCommit(int64) int64   { return -1 }
func hostSQLRollback(int64) int64 { return -1 }
func hostSQLLoadEnd() int64       { return -1 }
func sqlLoadData([]byte) int64    { return -1 }

func sqlCallRaw(sqlFunc, any) ([]byte, error) { return nil, errNotWasm }

func sqlCall(sqlFunc, any, any) error { return errNotWasm }
