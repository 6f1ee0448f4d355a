package core

import (
	"io"

	"github.com/wasmdest/wasmdest/abi"
)

// The sql capability (abi.CapSQL): typed wrappers of the sql_* host
// functions. A guest using them lists abi.CapSQL in its manifest and the
// drivers it speaks in Manifest.SQLDrivers. The host opens the database
// from the spec (driver, dsn or path); the guest never sees the DSN.
//
// Errors a database reports are *abi.HostError values (with the SQLSTATE
// where the driver gives one); errors.As finds them.
//
// Transactions never outlive the operation that began them: when the
// operation returns, fails or traps, the host rolls back every transaction
// still open and aborts an unfinished load.

// SQLTx is a transaction handle from SQLBegin; 0 means no transaction.
type SQLTx int64

// SQLLoadChunk is how many bytes of a load's Arrow IPC stream SQLLoad
// hands the host at a time.
const SQLLoadChunk = 256 << 10

// SQLExec runs query with args (the placeholders' values: strings,
// integers, floats, booleans or nil) and returns the rows affected.
func SQLExec(tx SQLTx, query string, args ...any) (int64, error) {
	var res abi.SQLExecResult
	err := sqlCall(importSQLExec, abi.SQLRequest{Tx: int64(tx), SQL: query, Args: args}, &res)
	return res.RowsAffected, err
}

// SQLQueryStream runs query and returns its rows as an Arrow IPC stream,
// one column per result column, of the types named (abi.SQLType*; nil lets
// the host choose); package sdk's SQLQuery decodes it. Meant for catalog
// queries and reading back in parts: the host caps a result at 256 MiB.
func SQLQueryStream(tx SQLTx, types []string, query string, args ...any) ([]byte, error) {
	return sqlCallRaw(importSQLQuery, abi.SQLRequest{Tx: int64(tx), SQL: query, Args: args, Types: types})
}

// SQLBegin begins a transaction.
func SQLBegin() (SQLTx, error) {
	h, err := hostCount(hostSQLBegin())
	return SQLTx(h), err
}

// SQLCommit commits tx.
func SQLCommit(tx SQLTx) error {
	_, err := hostCount(hostSQLCommit(int64(tx)))
	return err
}

// SQLRollback rolls tx back, aborting its load if one is in progress.
func SQLRollback(tx SQLTx) error {
	_, err := hostCount(hostSQLRollback(int64(tx)))
	return err
}

// SQLLoadStream bulk-loads rows by req's method (see abi.SQLLoadRequest)
// and returns how many were loaded: fill writes them, as an Arrow IPC
// stream, to the writer it is given, which hands them to the host
// SQLLoadChunk bytes at a time (package sdk's SQLLoad writes records). With
// req.Tx 0 the load is a transaction of its own: all or nothing.
func SQLLoadStream(req abi.SQLLoadRequest, fill func(io.Writer) error) (int64, error) {
	if err := sqlCall(importSQLLoad, req, nil); err != nil {
		return 0, err
	}
	w := &loadWriter{}
	if err := fill(w); err != nil {
		return 0, err // the host aborts the load when the operation ends
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	return hostCount(hostSQLLoadEnd())
}

// SQLLoadBatch bulk-loads the records of the running write operation by
// reference (req.Batch is set for the caller): the host loads the batch it
// decoded itself, after req.Encodings and req.LastOfKeys, and the guest
// need not read it. It returns how many rows were loaded. Hosts before ABI
// 1.5 lack it; a guest that calls it declares 1.5 and such hosts refuse it
// at load.
func SQLLoadBatch(req abi.SQLLoadRequest) (int64, error) {
	req.Batch = true
	if err := sqlCall(importSQLLoad, req, nil); err != nil {
		return 0, err
	}
	return hostCount(hostSQLLoadEnd())
}

// loadWriter hands what is written to sql_load_data in chunks.
type loadWriter struct{ buf []byte }

func (w *loadWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) >= SQLLoadChunk {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *loadWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := hostCount(sqlLoadData(w.buf))
	w.buf = w.buf[:0]
	return err
}
