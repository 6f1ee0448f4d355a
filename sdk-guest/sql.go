package sdk

import (
	"bytes"
	"io"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
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
type SQLTx = core.SQLTx

// SQLLoadChunk is how many bytes of a load's Arrow IPC stream SQLLoad
// hands the host at a time.
const SQLLoadChunk = core.SQLLoadChunk

// SQLExec runs query with args (the placeholders' values: strings,
// integers, floats, booleans or nil) and returns the rows affected.
func SQLExec(tx SQLTx, query string, args ...any) (int64, error) {
	return core.SQLExec(tx, query, args...)
}

// SQLQuery runs query and returns its rows as Arrow record batches, one
// column per result column, of the types named (abi.SQLType*; nil lets the
// host choose). Release the reader. Meant for catalog queries and reading
// back in parts: the host caps a result at 256 MiB.
func SQLQuery(tx SQLTx, types []string, query string, args ...any) (array.RecordReader, error) {
	b, err := core.SQLQueryStream(tx, types, query, args...)
	if err != nil {
		return nil, err
	}
	return ipc.NewReader(bytes.NewReader(b))
}

// SQLBegin begins a transaction.
func SQLBegin() (SQLTx, error) { return core.SQLBegin() }

// SQLCommit commits tx.
func SQLCommit(tx SQLTx) error { return core.SQLCommit(tx) }

// SQLRollback rolls tx back, aborting its load if one is in progress.
func SQLRollback(tx SQLTx) error { return core.SQLRollback(tx) }

// SQLLoad bulk-loads the rows of records by req's method (see
// abi.SQLLoadRequest) and returns how many were loaded. The records are
// streamed to the host as an Arrow IPC stream, SQLLoadChunk bytes at a
// time. With req.Tx 0 the load is a transaction of its own: all or nothing.
func SQLLoad(req abi.SQLLoadRequest, records array.RecordReader) (int64, error) {
	return core.SQLLoadStream(req, func(w io.Writer) error {
		iw := ipc.NewWriter(w, ipc.WithSchema(records.Schema()))
		for records.Next() {
			if err := iw.Write(records.RecordBatch()); err != nil {
				return err
			}
		}
		if err := records.Err(); err != nil {
			return err
		}
		return iw.Close()
	})
}

// SQLLoadBatch bulk-loads the records of the running write operation by
// reference: the host loads the batch it decoded itself, after
// req.Encodings and req.LastOfKeys, and the guest need not read it. It
// returns how many rows were loaded.
func SQLLoadBatch(req abi.SQLLoadRequest) (int64, error) { return core.SQLLoadBatch(req) }
