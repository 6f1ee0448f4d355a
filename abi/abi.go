// Package abi holds the constants and message types of the wasmdest guest ABI.
//
// The ABI is the contract between the wasmdest host and a destination guest
// compiled to WebAssembly. ABI.md beside this file is its complete written
// specification; this package is its Go form, shared by the host and by the
// guest SDK. Nothing else crosses the boundary.
//
// This package has no dependencies beyond the standard library so that it
// builds unchanged for GOOS=wasip1.
package abi

import "fmt"

// VersionMajor and VersionMinor are the ABI version this package describes.
// A guest built for another major version is refused. A guest built for a
// higher minor version of the same major is refused too, because it may call
// host functions this host does not have; a lower minor version is accepted.
const (
	VersionMajor = 1
	VersionMinor = 8
)

// Version is a packed ABI version as returned by the ExportVersion function:
// the major version in the high 16 bits, the minor version in the low 16 bits.
type Version uint32

// CurrentVersion is the packed form of VersionMajor.VersionMinor.
const CurrentVersion = Version(VersionMajor<<16 | VersionMinor)

// Major returns the major part of v.
func (v Version) Major() uint16 { return uint16(v >> 16) }

// Minor returns the minor part of v.
func (v Version) Minor() uint16 { return uint16(v) }

// String formats v as "MAJOR.MINOR".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major(), v.Minor()) }

// Compatible reports whether a host speaking host can run a guest built for v.
func (v Version) Compatible(host Version) error {
	if v.Major() != host.Major() {
		return fmt.Errorf("guest is built for ABI %s, this host speaks ABI %s: major versions differ; rebuild the guest against ABI %d.x", v, host, host.Major())
	}
	if v.Minor() > host.Minor() {
		return fmt.Errorf("guest is built for ABI %s, this host speaks ABI %s: the guest needs a newer host", v, host)
	}
	return nil
}

// Names of the functions a guest exports. Every guest must export all of
// them, plus the WASI reactor's "_initialize" and its linear "memory".
const (
	// ExportVersion is () -> i32: the packed Version the guest was built for.
	// The host calls it before anything else; it must not allocate.
	ExportVersion = "wasmdest_abi_version"
	// ExportAlloc is (size i32) -> i32: a pointer to size bytes of guest
	// memory that stay valid and unmoved until passed to ExportFree, or 0
	// when the guest cannot allocate.
	ExportAlloc = "wasmdest_alloc"
	// ExportFree is (ptr i32) -> (): releases a pointer from ExportAlloc.
	ExportFree = "wasmdest_free"
	// ExportCall is (op i32, ptr i32, len i32) -> i32: runs operation op
	// with the request header at ptr..ptr+len and returns a Status.
	ExportCall = "wasmdest_call"
	// ExportInitialize is the WASI reactor's initialiser, run once by the
	// host right after instantiation.
	ExportInitialize = "_initialize"
)

// Size limits of the ABI (ABI.md sections 3, 5 and 6).
const (
	// MaxMetadataBytes bounds the FlatBuffers metadata of one Arrow IPC
	// message, either way.
	MaxMetadataBytes = 16 << 20
	// MaxBodyBytes bounds one Arrow IPC message body of a guest's output
	// (OpRead), which the host decodes with these limits; it is also the
	// bound a guest assumes for the bodies it receives when
	// InitRequest.MaxMessageBytes is 0.
	MaxBodyBytes = 256 << 20
	// MaxResultBytes bounds what one host function returns through the
	// result slot (pg_query, pg_copy_to); a larger result is an error.
	MaxResultBytes = 256 << 20
)

// ImportModule is the module name of every host function.
const ImportModule = "wasmdest"

// Names of the host functions, imported from ImportModule. Functions of a
// capability are only usable by a guest whose manifest asks for that
// capability and whose configuration grants it.
const (
	// ImportLog is (level i32, ptr i32, len i32) -> (): one log line at a Level.
	ImportLog = "log"
	// ImportSetError is (ptr i32, len i32) -> (): the error message of the
	// running operation; read by the host when the operation returns a
	// non-zero Status.
	ImportSetError = "set_error"
	// ImportInputRead is (ptr i32, cap i32) -> i32: copies up to cap bytes of
	// the running operation's body into guest memory at ptr and returns how
	// many; 0 means the body has ended; a negative value means the host
	// failed (the message is in the result slot, see ImportResultRead).
	ImportInputRead = "input_read"
	// ImportOutput is (ptr i32, len i32) -> i32: hands len bytes of the
	// running operation's output to the host, which copies them before
	// returning. Returns 0 to go on, 1 when the host asks the guest to stop
	// (the guest should return StatusCancelled).
	ImportOutput = "output"
	// ImportResultRead is (ptr i32, cap i32) -> i32: copies the result slot
	// (the data or error of the last host call that returned a length) into
	// guest memory and returns the number of bytes copied.
	ImportResultRead = "result_read"
	// ImportExpand is (ptr i32, len i32) -> i64: expands placeholders in the
	// JSON ExpandRequest at ptr. Returns the result length (>= 0) or minus
	// the length of a HostError (< 0); either waits in the result slot.
	ImportExpand = "expand"
)

// Host functions of the codec capability (CapCodec, ABI 1.3). Each returns an i64:
// >= 0 on success (a handle, a count or a length, as each says), or minus
// the length of a HostError waiting in the result slot. An encoder belongs
// to the instance that opened it and lives across its operations (a file
// kept open with no_rotate spans write calls) until codec_close or the
// instance's end.
const (
	// ImportCodecOpen is (ptr i32, len i32) -> i64: opens an encoder for the
	// CodecOpenRequest JSON at ptr and returns its handle (> 0).
	ImportCodecOpen = "codec_open"
	// ImportCodecWrite is (h i64, ptr i32, len i32) -> i64: encodes records
	// and returns how many rows. len 0 encodes the records of the running
	// write operation's body, by reference (the guest need not read them);
	// otherwise ptr..ptr+len is an Arrow IPC stream the guest produced.
	// Either way the schema must be the encoder's. The encoded bytes wait
	// for ImportCodecRead.
	ImportCodecWrite = "codec_write"
	// ImportCodecRead is (h i64, ptr i32, cap i32) -> i64: copies up to cap
	// encoded bytes waiting in encoder h to ptr and returns how many; 0 when
	// none wait.
	ImportCodecRead = "codec_read"
	// ImportCodecFinish is (h i64) -> i64: ends the encoder's content
	// (Parquet footer, compression trailer), whose last bytes then wait
	// for ImportCodecRead; returns 0.
	ImportCodecFinish = "codec_finish"
	// ImportCodecClose is (h i64) -> i64: releases encoder h, finished or
	// not (an unfinished one is dropped); returns 0.
	ImportCodecClose = "codec_close"
	// ImportCodecDecode is (ptr i32, len i32, data i32, data_len i32) -> i64:
	// decodes the whole file at data..data+data_len as the CodecDecodeRequest
	// JSON at ptr says, and returns the length of an Arrow IPC stream of its
	// rows in the result slot.
	ImportCodecDecode = "codec_decode"
)

// Host functions of the http capability (CapHTTP, ABI 1.4): outbound HTTP
// under the host's control. The host checks every URL against the
// destination's allowlist before it connects, adds the configured
// credentials (the guest never sees them) and retries where it may. Each
// returns an i64: >= 0 on success (a handle, a count or a length, as each
// says), or minus the length of a HostError waiting in the result slot.
// Requests never outlive the operation that opened them: when it ends, the
// host closes every handle and aborts what is in flight.
const (
	// ImportHTTPOpen is (ptr i32, len i32) -> i64: opens the HTTPRequest
	// JSON at ptr and returns its handle (> 0). A URL the allowlist refuses
	// is an error here, before any connection.
	ImportHTTPOpen = "http_open"
	// ImportHTTPWrite is (h i64, ptr i32, len i32) -> i64: appends len
	// bytes to the request's body (streamed: the host never holds the
	// whole body of a large request); returns 0.
	ImportHTTPWrite = "http_write"
	// ImportHTTPSend is (h i64) -> i64: ends the body, sends the request
	// (retrying where allowed) and waits for the response head; returns the
	// length of an HTTPResponse in the result slot. Any status is a success
	// here.
	ImportHTTPSend = "http_send"
	// ImportHTTPRead is (h i64, ptr i32, cap i32) -> i64: copies up to cap
	// bytes of the response body to ptr and returns how many; 0 at its end.
	ImportHTTPRead = "http_read"
	// ImportHTTPClose is (h i64) -> i64: releases the request and its
	// response, aborting one in flight; returns 0.
	ImportHTTPClose = "http_close"
)

// Host functions of the postgres capability (CapPostgres). Each returns an
// i64: >= 0 on success (a handle, a count, or the length of a result waiting
// in the result slot, as each says), or minus the length of a HostError
// waiting in the result slot. Transactions never outlive the operation that
// began them: when an operation returns, traps or is stopped, the host rolls
// back every transaction it left open, so a batch is written whole or not at all.
const (
	// ImportPgExec is (ptr i32, len i32) -> i64: runs the PgRequest at ptr
	// and returns the length of a PgExecResult in the result slot. With no
	// Args, SQL may hold several statements.
	ImportPgExec = "pg_exec"
	// ImportPgQuery is (ptr i32, len i32) -> i64: runs the PgRequest at ptr
	// and returns the length of a PgQueryResult in the result slot.
	ImportPgQuery = "pg_query"
	// ImportPgBegin is () -> i64: begins a transaction and returns its handle (> 0).
	ImportPgBegin = "pg_begin"
	// ImportPgCommit is (tx i64) -> i64: commits; returns 0.
	ImportPgCommit = "pg_commit"
	// ImportPgRollback is (tx i64) -> i64: rolls back; returns 0.
	ImportPgRollback = "pg_rollback"
	// ImportPgCopyFrom is (ptr i32, len i32) -> i64: starts the
	// "COPY ... FROM STDIN" in the PgRequest at ptr; returns 0. Then the
	// guest streams the data with ImportPgCopyData and ends with
	// ImportPgCopyEnd. One COPY at a time per instance.
	ImportPgCopyFrom = "pg_copy_from"
	// ImportPgCopyData is (ptr i32, len i32) -> i64: sends len bytes of COPY
	// data; the host passes them on before it returns (no buffering of the
	// whole batch). Returns 0.
	ImportPgCopyData = "pg_copy_data"
	// ImportPgCopyEnd is () -> i64: ends the COPY and returns the rows copied.
	ImportPgCopyEnd = "pg_copy_end"
	// ImportPgCopyTo is (ptr i32, len i32) -> i64: runs the
	// "COPY ... TO STDOUT" in the PgRequest at ptr and returns the length of
	// its whole output in the result slot. For read-back: the output is
	// capped (see ABI.md).
	ImportPgCopyTo = "pg_copy_to"
)

// Host functions of the sql capability (CapSQL, ABI 1.2): database/sql with the
// drivers linked into the host (SQLite, MySQL/MariaDB, DuckDB). Each returns
// an i64 as the pg_* functions do: >= 0 on success, or minus the length of a
// HostError waiting in the result slot. Transactions and loads never outlive
// the operation that began them.
const (
	// ImportSQLExec is (ptr i32, len i32) -> i64: runs the SQLRequest at
	// ptr and returns the length of an SQLExecResult in the result slot.
	ImportSQLExec = "sql_exec"
	// ImportSQLQuery is (ptr i32, len i32) -> i64: runs the SQLRequest at
	// ptr and returns the length of its rows, an Arrow IPC stream, in the
	// result slot.
	ImportSQLQuery = "sql_query"
	// ImportSQLBegin is () -> i64: begins a transaction and returns its handle (> 0).
	ImportSQLBegin = "sql_begin"
	// ImportSQLCommit is (tx i64) -> i64: commits; returns 0.
	ImportSQLCommit = "sql_commit"
	// ImportSQLRollback is (tx i64) -> i64: rolls back; returns 0.
	ImportSQLRollback = "sql_rollback"
	// ImportSQLLoad is (ptr i32, len i32) -> i64: starts the bulk load in
	// the SQLLoadRequest at ptr; returns 0. The guest then streams the rows,
	// an Arrow IPC stream, with ImportSQLLoadData and ends with
	// ImportSQLLoadEnd. One load at a time per instance.
	ImportSQLLoad = "sql_load"
	// ImportSQLLoadData is (ptr i32, len i32) -> i64: sends len bytes of the
	// load's Arrow IPC stream. Returns 0.
	ImportSQLLoadData = "sql_load_data"
	// ImportSQLLoadEnd is () -> i64: ends the load and returns the rows loaded.
	ImportSQLLoadEnd = "sql_load_end"
)

// Op identifies an operation run through ExportCall.
type Op uint32

// Operations. Each takes a JSON request header; some also a body read with
// ImportInputRead, and some produce output through ImportOutput.
const (
	// OpManifest: no header; output is the Manifest as JSON.
	OpManifest Op = 1
	// OpInit: header InitRequest; prepares the instance. Called once per
	// instance before any other operation but OpManifest.
	OpInit Op = 2
	// OpDescribe: header TableRequest; body the wanted schema as an Arrow IPC
	// stream with no record batches; output a TableState as JSON.
	OpDescribe Op = 3
	// OpMigrate: header MigrateRequest; body the wanted schema as for
	// OpDescribe. Creates, alters or recreates one table.
	OpMigrate Op = 4
	// OpWrite: header TableRequest; body an Arrow IPC stream of the rows of
	// one batch. The batch is written whole or not at all.
	OpWrite Op = 5
	// OpDeleteStale: header DeleteStaleRequest.
	OpDeleteStale Op = 6
	// OpRead: header TableRequest; body the table's schema as for
	// OpDescribe; output every stored row as one Arrow IPC stream, which
	// may be split over many ImportOutput calls.
	OpRead Op = 7
	// OpClose: no header; finishes all work (for example closes files).
	OpClose Op = 8
	// OpDeleteRecord (ABI 1.1, optional: FeatureDeleteRecord): header
	// DeleteRecordRequest; deletes the rows its predicates match.
	OpDeleteRecord Op = 9
)

var opNames = map[Op]string{
	OpManifest: "manifest", OpInit: "init", OpDescribe: "describe", OpMigrate: "migrate",
	OpWrite: "write", OpDeleteStale: "delete_stale", OpRead: "read", OpClose: "close",
	OpDeleteRecord: "delete_record",
}

// String names the operation as ABI.md does.
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint32(o))
}

// Status is what ExportCall returns.
type Status uint32

const (
	// StatusOK: the operation succeeded.
	StatusOK Status = 0
	// StatusError: the operation failed; the message was set with ImportSetError.
	StatusError Status = 1
	// StatusUnsupported: the guest does not implement this operation.
	StatusUnsupported Status = 2
	// StatusCancelled: the guest stopped because a host function asked it to.
	StatusCancelled Status = 3
	// StatusBadRequest: the header or body could not be decoded.
	StatusBadRequest Status = 4
	// StatusPanicked: the guest recovered from a panic and set its message
	// (with a stack trace). Its state may be broken: the host discards the
	// instance, as it does after a trap.
	StatusPanicked Status = 5
)

var statusNames = map[Status]string{
	StatusOK: "ok", StatusError: "error", StatusUnsupported: "unsupported",
	StatusCancelled: "cancelled", StatusBadRequest: "bad request", StatusPanicked: "panicked",
}

// String names the status.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status(%d)", uint32(s))
}

// Level is a log level for ImportLog. The values are go-hclog's.
type Level int32

const (
	LevelTrace Level = 1
	LevelDebug Level = 2
	LevelInfo  Level = 3
	LevelWarn  Level = 4
	LevelError Level = 5
)
