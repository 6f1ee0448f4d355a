package core

import "github.com/wasmdest/wasmdest/abi"

// The postgres capability (abi.CapPostgres): typed wrappers of the pg_* host
// functions. A guest using them lists abi.CapPostgres in its manifest. The
// host owns the connection pool; the guest never sees the connection string.
//
// Errors a database reports are *abi.HostError values with the SQLSTATE and
// the other fields of the server's error; errors.As finds them.
//
// Transactions never outlive the operation that began them: when the
// operation returns, fails or traps, the host rolls back every transaction
// still open and aborts an unfinished COPY.

// PgTx is a transaction handle from PgBegin; 0 means no transaction (each
// statement commits by itself).
type PgTx int64

// PgExec runs sql with args ($1, $2, ...: strings, numbers, booleans or nil,
// sent in text form and typed by the server) and returns the rows affected.
// With no args, sql may hold several statements separated by semicolons.
func PgExec(tx PgTx, sql string, args ...any) (int64, error) {
	var res abi.PgExecResult
	err := pgCall(importPgExec, abi.PgRequest{Tx: int64(tx), SQL: sql, Args: args}, &res)
	return res.RowsAffected, err
}

// PgQuery runs one query and returns its columns and every row, each value
// in PostgreSQL's text form or nil for NULL. Meant for catalog queries and
// small results: the host caps a result at 256 MiB.
func PgQuery(tx PgTx, sql string, args ...any) (*abi.PgQueryResult, error) {
	res := &abi.PgQueryResult{}
	if err := pgCall(importPgQuery, abi.PgRequest{Tx: int64(tx), SQL: sql, Args: args}, res); err != nil {
		return nil, err
	}
	return res, nil
}

// PgBegin begins a transaction.
func PgBegin() (PgTx, error) {
	h, err := hostCount(hostPgBegin())
	return PgTx(h), err
}

// PgCommit commits tx. A transaction in which a statement failed is rolled
// back instead, and PgCommit returns an error saying so.
func PgCommit(tx PgTx) error {
	_, err := hostCount(hostPgCommit(int64(tx)))
	return err
}

// PgRollback rolls tx back, aborting its COPY if one is in progress.
func PgRollback(tx PgTx) error {
	_, err := hostCount(hostPgRollback(int64(tx)))
	return err
}

// PgCopyFrom starts sql, a COPY ... FROM STDIN, in tx. Send the data with
// PgCopyData and end with PgCopyEnd. One COPY at a time; while it runs,
// tx may not be used otherwise.
func PgCopyFrom(tx PgTx, sql string) error {
	return pgCall(importPgCopyFrom, abi.PgRequest{Tx: int64(tx), SQL: sql}, nil)
}

// PgCopyData sends p, any part of the COPY's data; the host passes it on to
// the server before it returns, so p may be reused at once.
func PgCopyData(p []byte) error {
	_, err := hostCount(pgCopyData(p))
	return err
}

// PgCopyEnd ends the COPY and returns the number of rows copied. An error
// from the server about any of the data comes here at the latest.
func PgCopyEnd() (int64, error) { return hostCount(hostPgCopyEnd()) }

// PgCopyBatch runs req.SQL, a binary COPY ... FROM STDIN in req.Tx, with
// the records of the running write operation as its data, encoded by the
// host by reference (req.Batch is set for the caller): req.Columns pick and
// type the COPY's columns, req.Ordinal adds a row number, req.Keys asks
// whether a key came twice. The guest need not read the batch. It returns
// the rows copied and whether keys repeated. Hosts before ABI 1.6 lack it;
// a guest that calls it declares 1.6 and such hosts refuse it at load.
func PgCopyBatch(req abi.PgRequest) (abi.PgCopyBatchResult, error) {
	req.Batch = true
	var res abi.PgCopyBatchResult
	if err := pgCall(importPgCopyFrom, req, &res); err != nil {
		return res, err
	}
	n, err := hostCount(hostPgCopyEnd())
	res.Rows = n
	return res, err
}

// PgCopyHold runs req as PgCopyBatch does, but holds the COPY open past
// the operation (ABI 1.7, abi.PgRequest.Hold): the first call begins one
// COPY statement in a transaction of its own, and later calls with the
// same SQL and columns, in later write operations, continue it; PgCopyEnd
// commits it. The result's Rows are this batch's, HeldRows and HeldBytes
// the held COPY's so far, and Committed the rows of an earlier held COPY
// the host committed by itself after abi.HeldCopyIdle.
func PgCopyHold(req abi.PgRequest) (abi.PgCopyBatchResult, error) {
	req.Batch, req.Hold = true, true
	var res abi.PgCopyBatchResult
	err := pgCall(importPgCopyFrom, req, &res)
	return res, err
}

// PgCopyTo runs sql, a COPY ... TO STDOUT, in tx and returns its whole
// output. For reading back: the host refuses output beyond 256 MiB, so read
// large tables in parts.
func PgCopyTo(tx PgTx, sql string) ([]byte, error) {
	return pgCallRaw(importPgCopyTo, abi.PgRequest{Tx: int64(tx), SQL: sql})
}
