package sdk

import (
	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// The postgres capability (abi.CapPostgres): typed wrappers of the pg_* host
// functions, as package core has them. A guest using them lists
// abi.CapPostgres in its manifest. The host owns the connection pool; the
// guest never sees the connection string.
//
// Errors a database reports are *abi.HostError values with the SQLSTATE and
// the other fields of the server's error; errors.As finds them.
//
// Transactions never outlive the operation that began them: when the
// operation returns, fails or traps, the host rolls back every transaction
// still open and aborts an unfinished COPY.

// PgTx is a transaction handle from PgBegin; 0 means no transaction (each
// statement commits by itself).
type PgTx = core.PgTx

// PgExec runs sql with args ($1, $2, ...: strings, numbers, booleans or nil,
// sent in text form and typed by the server) and returns the rows affected.
// With no args, sql may hold several statements separated by semicolons.
func PgExec(tx PgTx, sql string, args ...any) (int64, error) { return core.PgExec(tx, sql, args...) }

// PgQuery runs one query and returns its columns and every row, each value
// in PostgreSQL's text form or nil for NULL. Meant for catalog queries and
// small results: the host caps a result at 256 MiB.
func PgQuery(tx PgTx, sql string, args ...any) (*abi.PgQueryResult, error) {
	return core.PgQuery(tx, sql, args...)
}

// PgBegin begins a transaction.
func PgBegin() (PgTx, error) { return core.PgBegin() }

// PgCommit commits tx. A transaction in which a statement failed is rolled
// back instead, and PgCommit returns an error saying so.
func PgCommit(tx PgTx) error { return core.PgCommit(tx) }

// PgRollback rolls tx back, aborting its COPY if one is in progress.
func PgRollback(tx PgTx) error { return core.PgRollback(tx) }

// PgCopyFrom starts sql, a COPY ... FROM STDIN, in tx. Send the data with
// PgCopyData and end with PgCopyEnd. One COPY at a time; while it runs,
// tx may not be used otherwise.
func PgCopyFrom(tx PgTx, sql string) error { return core.PgCopyFrom(tx, sql) }

// PgCopyData sends p, any part of the COPY's data; the host passes it on to
// the server before it returns, so p may be reused at once.
func PgCopyData(p []byte) error { return core.PgCopyData(p) }

// PgCopyEnd ends the COPY and returns the number of rows copied. An error
// from the server about any of the data comes here at the latest.
func PgCopyEnd() (int64, error) { return core.PgCopyEnd() }

// PgCopyBatch runs req.SQL, a binary COPY ... FROM STDIN in req.Tx, with
// the records of the running write operation as its data, encoded natively
// by the host (ABI 1.6, abi.PgRequest.Batch): req.Columns pick each COPY
// column's record column and PostgreSQL type, req.Ordinal adds a bigint row
// number, req.Keys asks whether two rows had the same key. The guest need
// not read the batch. It returns the rows copied (Rows) and DuplicateKeys.
func PgCopyBatch(req abi.PgRequest) (abi.PgCopyBatchResult, error) { return core.PgCopyBatch(req) }

// PgCopyHold runs a batch COPY that stays open across write operations
// (ABI 1.7, abi.PgRequest.Hold) until PgCopyEnd commits it: many batches in
// one COPY statement. See core.PgCopyHold and abi/ABI.md ("Held COPY").
func PgCopyHold(req abi.PgRequest) (abi.PgCopyBatchResult, error) { return core.PgCopyHold(req) }

// PgCopyTo runs sql, a COPY ... TO STDOUT, in tx and returns its whole
// output. For reading back: the host refuses output beyond 256 MiB, so read
// large tables in parts.
func PgCopyTo(tx PgTx, sql string) ([]byte, error) { return core.PgCopyTo(tx, sql) }
