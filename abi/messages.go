package abi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Manifest describes a guest. OpManifest returns it as JSON.
type Manifest struct {
	// Name is the guest's name, e.g. "postgres".
	Name string `json:"name"`
	// Version is the guest's own semantic version, e.g. "v1.2.0".
	Version string `json:"version"`
	// ABIVersion is "MAJOR.MINOR"; it must agree with ExportVersion.
	ABIVersion string `json:"abi_version"`
	// Capabilities the guest needs; the host grants none it was not asked for.
	Capabilities []Capability `json:"capabilities"`
	// SpecSchema is the JSON Schema (draft 2020-12) of the nested spec.
	SpecSchema json.RawMessage `json:"spec_schema,omitempty"`
	// Secrets lists top-level spec keys that hold credentials. The host
	// uses them itself (for example to open a database pool) and removes them
	// from the spec before it reaches the guest, and never logs them.
	Secrets []string `json:"secrets,omitempty"`
	// WriteModes lists the write modes the guest supports; empty means all.
	WriteModes []WriteMode `json:"write_modes,omitempty"`
	// Features lists optional behaviour.
	Features []Feature `json:"features,omitempty"`
	// SQLDrivers (ABI 1.2) lists the sql capability's drivers the guest speaks the
	// dialect of (SQLDriverSQLite, ...); the spec's driver must be one of
	// them and defaults to the first. Only for guests asking for CapSQL.
	SQLDrivers []string `json:"sql_drivers,omitempty"`
	// BatchDefaults are the batching defaults for this destination, used
	// when the spec does not set batch_size, batch_size_bytes or batch_timeout.
	BatchDefaults BatchLimits `json:"batch_defaults"`
}

// BatchLimits are a destination's batching: a batch is written when it holds
// Rows rows or Bytes bytes, or when Timeout has passed since its first row.
// Zero or less means unlimited. In JSON the fields are batch_size,
// batch_size_bytes and batch_timeout, the last a Go duration string such as
// "60s" ("" is zero).
type BatchLimits struct {
	Rows int64
	// Bytes is compared with the in-memory size of the Arrow buffers.
	Bytes   int64
	Timeout time.Duration
}

// batchLimitsJSON is the JSON form of BatchLimits.
type batchLimitsJSON struct {
	Rows    int64  `json:"batch_size"`
	Bytes   int64  `json:"batch_size_bytes"`
	Timeout string `json:"batch_timeout"`
}

// MarshalJSON writes b in its JSON form.
func (b BatchLimits) MarshalJSON() ([]byte, error) {
	j := batchLimitsJSON{Rows: b.Rows, Bytes: b.Bytes}
	if b.Timeout != 0 {
		j.Timeout = b.Timeout.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads b's JSON form.
func (b *BatchLimits) UnmarshalJSON(data []byte) error {
	var j batchLimitsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*b = BatchLimits{Rows: j.Rows, Bytes: j.Bytes}
	if j.Timeout != "" {
		t, err := time.ParseDuration(j.Timeout)
		if err != nil {
			return fmt.Errorf("batch_timeout: %w", err)
		}
		b.Timeout = t
	}
	return nil
}

// InitRequest is the header of OpInit.
type InitRequest struct {
	// Destination is the name the configuration gives this destination.
	Destination string `json:"destination"`
	// Spec is the nested spec, validated against Manifest.SpecSchema, with
	// the Manifest.Secrets keys removed.
	Spec        json.RawMessage `json:"spec"`
	WriteMode   WriteMode       `json:"write_mode"`
	MigrateMode MigrateMode     `json:"migrate_mode"`
	PKMode      PKMode          `json:"pk_mode"`
	// SyncID identifies this sync (the {{SYNC_ID}} placeholder).
	SyncID string `json:"sync_id"`
	// SyncTime is the sync's start, in TimeLayout.
	SyncTime string `json:"sync_time"`
	// SourceName is the value of _cq_source_name for this sync.
	SourceName string `json:"source_name"`
	// SyncGroupID is the expanded sync_group_id, or "".
	SyncGroupID string `json:"sync_group_id,omitempty"`
	// MaxMessageBytes is the largest Arrow IPC message body the host will
	// send in a body.
	MaxMessageBytes int64 `json:"max_message_bytes"`
}

// TableRequest is the header of OpDescribe, OpWrite and OpRead.
type TableRequest struct {
	Table string `json:"table"`
}

// Column is one column as a destination stores it.
type Column struct {
	Name string `json:"name"`
	// Type is the destination's own name for the column's type, normalised
	// so that two equal strings mean equal storage (e.g. "bigint", "text[]").
	Type       string `json:"type"`
	NotNull    bool   `json:"not_null,omitempty"`
	PrimaryKey bool   `json:"primary_key,omitempty"`
	Unique     bool   `json:"unique,omitempty"`
}

// TableState is the output of OpDescribe: how the destination holds a table
// today and how it would hold the wanted schema.
type TableState struct {
	Table string `json:"table"`
	// Exists is false when the destination has no such table; Current is then empty.
	Exists  bool     `json:"exists"`
	Current []Column `json:"current"`
	// Wanted has one column per field of the wanted schema, in order.
	Wanted []Column `json:"wanted"`
}

// Change is one difference between a table's current and wanted state.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	Column string     `json:"column,omitempty"`
	// Current and Wanted are the column before and after, where they exist.
	Current *Column `json:"current,omitempty"`
	Wanted  *Column `json:"wanted,omitempty"`
}

// MigrateRequest is the header of OpMigrate.
type MigrateRequest struct {
	Table   string        `json:"table"`
	Action  MigrateAction `json:"action"`
	Changes []Change      `json:"changes,omitempty"`
}

// DeleteStaleRequest is the header of OpDeleteStale: delete the rows of Table
// whose _cq_source_name is SourceName and whose _cq_sync_time is strictly
// before SyncTime.
type DeleteStaleRequest struct {
	Table      string `json:"table"`
	SourceName string `json:"source_name"`
	// SyncTime is in TimeLayout.
	SyncTime string `json:"sync_time"`
}

// DeleteRecordRequest is the header of OpDeleteRecord (ABI 1.1): delete the
// rows of Table that Where matches, and first, for each of Relations, the
// rows of its child table whose _cq_parent_id is the _cq_id of a matched
// row. Where's groups are ORed; an empty Where matches nothing.
type DeleteRecordRequest struct {
	Table     string           `json:"table"`
	Where     []PredicateGroup `json:"where"`
	Relations []TableRelation  `json:"relations,omitempty"`
}

// PredicateGroup is one group of a DeleteRecordRequest: its predicates are
// combined with Grouping, GroupingAnd or GroupingOr.
type PredicateGroup struct {
	Grouping   string      `json:"grouping"`
	Predicates []Predicate `json:"predicates"`
}

// Groupings of a PredicateGroup.
const (
	GroupingAnd = "and"
	GroupingOr  = "or"
)

// Predicate matches the rows whose Column equals one of Values (OperatorEq),
// each value in PostgreSQL's text form as the host renders the Arrow value
// (null: the column is NULL). No values matches nothing.
type Predicate struct {
	Column   string    `json:"column"`
	Operator string    `json:"operator"`
	Values   []*string `json:"values"`
}

// OperatorEq is the only Predicate operator: equality.
const OperatorEq = "eq"

// TableRelation names a child table of a DeleteRecordRequest's table.
type TableRelation struct {
	Table  string `json:"table"`
	Parent string `json:"parent"`
}

// ExpandRequest is the argument of ImportExpand.
type ExpandRequest struct {
	Template string `json:"template"`
	// Table and Format fill {{TABLE}}, {{TABLE_HYPHEN}} and {{FORMAT}}.
	Table  string `json:"table,omitempty"`
	Format string `json:"format,omitempty"`
}

// WriteResult is the optional output of OpWrite (ABI 1.2), for guests that
// hold rows in a state that is not durable until close (the file guest's
// no_rotate file). No output means the batch is durable once the write
// returns ok. A failed write may have it too.
type WriteResult struct {
	// HeldRows of this batch are held by the instance and not yet durable:
	// they become durable when close succeeds, and are lost if it fails or
	// if a later write of the table loses them (LostRows).
	HeldRows int64 `json:"held_rows,omitempty"`
	// LostRows of earlier batches of the table, held by this instance, were
	// lost by this call (a failed write that discarded them).
	LostRows int64 `json:"lost_rows,omitempty"`
	// Durable (ABI 1.7) counts, per table, the rows of earlier batches held
	// by this instance that this call made durable before close (the
	// postgres guest committing a held COPY: PgRequest.Hold).
	Durable map[string]int64 `json:"durable,omitempty"`
	// Lost (ABI 1.7) counts, per table, the rows of earlier batches held by
	// this instance that this call lost; for this call's own table it adds
	// to LostRows.
	Lost map[string]int64 `json:"lost,omitempty"`
}

// CodecFormat is how the codec capability encodes or decodes a file: the
// file destination's spec keys for it (guests/file/README.md).
type CodecFormat struct {
	// Format is "csv", "json" (JSON Lines) or "parquet"; "" is json.
	Format string `json:"format,omitempty"`
	// FormatSpec is the format's options: csv takes delimiter and
	// skip_header, parquet version, root_repetition and
	// max_row_group_length.
	FormatSpec json.RawMessage `json:"format_spec,omitempty"`
	// Compression is "", "gzip" or "zstd". CSV and JSON Lines files are
	// compressed as one stream; Parquet compresses its columns.
	Compression string `json:"compression,omitempty"`
}

// CodecOpenRequest is what codec_open opens an encoder for.
type CodecOpenRequest struct {
	CodecFormat
	// Schema is an Arrow IPC stream holding the schema of the records to
	// encode (no records); empty means the schema of the running write
	// operation's body.
	Schema []byte `json:"schema,omitempty"`
	// CreatedBy is the "created by" of Parquet files.
	CreatedBy string `json:"created_by,omitempty"`
}

// CodecDecodeRequest is what codec_decode decodes a file as.
type CodecDecodeRequest struct {
	CodecFormat
	// FileSchema is an Arrow IPC stream holding the schema the file was
	// written with; Schema the one wanted (a column the file lacks reads as
	// nulls, types are converted). Schema empty means FileSchema.
	FileSchema []byte `json:"file_schema"`
	Schema     []byte `json:"schema,omitempty"`
}

// HostError is the JSON form of an error a host function returns through the
// result slot. Database errors fill the fields after Message.
type HostError struct {
	Message    string `json:"message"`
	SQLState   string `json:"sqlstate,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Hint       string `json:"hint,omitempty"`
	Table      string `json:"table,omitempty"`
	Column     string `json:"column,omitempty"`
	Constraint string `json:"constraint,omitempty"`
	// Where is the error's context as PostgreSQL reports it; for a COPY it
	// names the row and column of the bad value ("COPY t, line 3, column c: ...").
	Where string `json:"where,omitempty"`
}

// Error returns the message with the SQLSTATE, if any.
func (e *HostError) Error() string {
	if e.SQLState != "" {
		return e.Message + " (SQLSTATE " + e.SQLState + ")"
	}
	return e.Message
}

// PgRequest is the argument of the pg_* host functions that take one.
type PgRequest struct {
	// Tx is a handle from pg_begin, or 0 to run outside a transaction (each
	// statement commits by itself).
	Tx  int64  `json:"tx,omitempty"`
	SQL string `json:"sql"`
	// Args are the values of $1, $2, ...: JSON strings, numbers, booleans or
	// null, encoded by the host as PostgreSQL infers their types.
	Args []any `json:"args,omitempty"`

	// Batch (ABI 1.6, pg_copy_from only), when true, makes the host encode
	// the records of the running write operation's body by reference as
	// the binary COPY's data: pg_copy_from streams the whole batch, no
	// pg_copy_data follows, pg_copy_end ends the COPY and returns the rows
	// copied. Its result is a PgCopyBatchResult.
	Batch bool `json:"batch,omitempty"`
	// Columns (with Batch) are the COPY's columns, in its order.
	Columns []PgCopyColumn `json:"columns,omitempty"`
	// Ordinal (with Batch) adds one more column after Columns: a bigint
	// numbering the rows of the batch from 0.
	Ordinal bool `json:"ordinal,omitempty"`
	// Keys (with Batch) are indexes into Columns: the host reports whether
	// two rows had equal values in them (PgCopyBatchResult.DuplicateKeys),
	// and a value it cannot encode is described with the row's key.
	Keys []int `json:"keys,omitempty"`
	// Hold (ABI 1.7, with Batch, Tx 0, no Ordinal or Keys) keeps the COPY
	// open past the operation: the instance's held COPY, which the next
	// batch COPY with Hold and the same SQL and Columns continues (one COPY
	// statement, one transaction, for many batches) and pg_copy_end commits.
	// The host commits it by itself when no operation continued it for
	// HeldCopyIdle, and aborts it when the instance ends.
	Hold bool `json:"hold,omitempty"`
}

// HeldCopyIdle is how long a held COPY (PgRequest.Hold) waits for the next
// batch before the host commits it by itself (ABI 1.7).
const HeldCopyIdle = time.Second

// PgCopyColumn is one column of a batch COPY (PgRequest.Batch).
type PgCopyColumn struct {
	// Field is the index of the record column whose values the COPY
	// column gets.
	Field int `json:"field"`
	// Type is the COPY column's PostgreSQL type as format_type() prints
	// it ("bigint", "text[]", "numeric(20,0)", "timestamp without time
	// zone"): the host encodes the field's values in its binary form. A
	// field type and PostgreSQL type pair the host cannot encode is a bad
	// request naming the column.
	Type string `json:"type"`
}

// PgCopyBatchResult is the result of pg_copy_from with Batch.
type PgCopyBatchResult struct {
	// Rows is the number of rows encoded into the COPY.
	Rows int64 `json:"rows"`
	// DuplicateKeys is true when two rows may have equal values in Keys:
	// always when they do, and, with odds of about rows²/2⁶⁵, when two
	// different keys' hashes collide; also whenever a key column's type
	// has equal values with different encodings (floats, jsonb, ...).
	DuplicateKeys bool `json:"duplicate_keys,omitempty"`
	// HeldRows and HeldBytes (with Hold) are the rows and bytes of binary
	// COPY data the held COPY holds now, this batch's included.
	HeldRows  int64 `json:"held_rows,omitempty"`
	HeldBytes int64 `json:"held_bytes,omitempty"`
	// Committed (with Hold) is the rows of an earlier held COPY that the
	// host committed by itself after HeldCopyIdle since the guest last saw
	// it; this batch then began a new held COPY.
	Committed int64 `json:"committed,omitempty"`
}

// PgExecResult is the result of pg_exec.
type PgExecResult struct {
	RowsAffected int64 `json:"rows_affected"`
}

// PgQueryResult is the result of pg_query: every value in PostgreSQL's text
// form, or null.
type PgQueryResult struct {
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"`
}

// Drivers of the sql capability (Manifest.SQLDrivers, the spec's driver).
const (
	// SQLDriverSQLite is SQLite (modernc.org/sqlite), a file in the
	// destination's directory.
	SQLDriverSQLite = "sqlite"
	// SQLDriverMySQL is MySQL 8 or MariaDB (github.com/go-sql-driver/mysql),
	// a server.
	SQLDriverMySQL = "mysql"
	// SQLDriverDuckDB is DuckDB (github.com/duckdb/duckdb-go), a file in
	// the destination's directory.
	SQLDriverDuckDB = "duckdb"
)

// SQLRequest is the argument of sql_exec and sql_query.
type SQLRequest struct {
	// Tx is a handle from sql_begin, or 0 to run outside a transaction.
	Tx  int64  `json:"tx,omitempty"`
	SQL string `json:"sql"`
	// Args are the values of the statement's placeholders (? for SQLite,
	// MySQL and DuckDB): JSON strings, numbers, booleans or null.
	Args []any `json:"args,omitempty"`
	// Types, for sql_query, are the Arrow types of the result's columns,
	// one per column (SQLType*); empty lets the host choose from the
	// driver's column types.
	Types []string `json:"types,omitempty"`
}

// Result column types of sql_query (SQLRequest.Types).
const (
	SQLTypeBool      = "bool"      // Arrow bool
	SQLTypeInt64     = "int64"     // Arrow int64
	SQLTypeUint64    = "uint64"    // Arrow uint64
	SQLTypeFloat64   = "float64"   // Arrow float64
	SQLTypeUTF8      = "utf8"      // Arrow utf8: text, or the text form of any value
	SQLTypeBinary    = "binary"    // Arrow binary: bytes, or the text form of any value
	SQLTypeTimestamp = "timestamp" // Arrow timestamp[us, tz=UTC]
)

// SQLExecResult is the result of sql_exec.
type SQLExecResult struct {
	RowsAffected int64 `json:"rows_affected"`
}

// Methods of a bulk load (SQLLoadRequest.Method).
const (
	// SQLLoadRows runs SQL, a statement with one placeholder per column of
	// the rows, once per row as a prepared statement. Every driver.
	SQLLoadRows = "rows"
	// SQLLoadInfile runs SQL, a LOAD DATA LOCAL INFILE statement whose
	// file is SQLLoadSource, with the rows as its file in LOAD DATA's
	// default text format. Driver mysql.
	SQLLoadInfile = "infile"
	// SQLLoadArrow runs SQL, a statement reading the rows as the table
	// SQLLoadSource (an Arrow scan). Driver duckdb.
	SQLLoadArrow = "arrow"
)

// SQLLoadSource is the token in SQLLoadRequest.SQL that the host replaces
// with the rows' source: the quoted file name of an infile load, the table
// name of an arrow load.
const SQLLoadSource = "{{rows}}"

// SQLLoadRequest is the argument of sql_load.
type SQLLoadRequest struct {
	// Tx is a handle from sql_begin, or 0: then the load runs in a
	// transaction of its own, committed by sql_load_end.
	Tx int64 `json:"tx,omitempty"`
	// Method is SQLLoadRows, SQLLoadInfile or SQLLoadArrow.
	Method string `json:"method"`
	SQL    string `json:"sql"`
	// Batch, when true, loads the records of the running write
	// operation's body by reference: the host loads the batch it decoded
	// itself, sql_load runs the whole load, and no sql_load_data follows
	// (sql_load_end still ends it and returns the rows loaded).
	Batch bool `json:"batch,omitempty"`
	// Encodings, when set, holds one SQLEncode* per column of the rows:
	// how the host turns the column's Arrow values into the values loaded
	// ("" is SQLEncodeNative).
	Encodings []string `json:"encodings,omitempty"`
	// LastOfKeys, when set, names columns (by index) that identify a row:
	// of the rows with equal values in them, only the last is loaded.
	LastOfKeys []int `json:"last_of_keys,omitempty"`
}

// Encodings of a load's columns (SQLLoadRequest.Encodings).
const (
	// SQLEncodeNative loads the values as they are (an extension type's
	// as its storage, a duration as its int64 count).
	SQLEncodeNative = "native"
	// SQLEncodeText loads each value's text form: arrow-go's JSON form of
	// it, unquoted when a string ("2001:db8::1", "123.4500000000").
	SQLEncodeText = "text"
	// SQLEncodeJSON loads each value's JSON text (structs, lists, maps,
	// intervals, JSON).
	SQLEncodeJSON = "json"
	// SQLEncodeTimeText loads a timestamp as fixed-width UTC text,
	// "2006-01-02 15:04:05.000000" (nine fractional digits for
	// nanoseconds), which sorts and compares as the instants do.
	SQLEncodeTimeText = "time_text"
)

// HTTPHeader is a set of HTTP header fields, keyed by their canonical names
// (net/http's form: "Content-Type", "Etag").
type HTTPHeader map[string][]string

// Get returns the first value of the field name (in any case), or "".
func (h HTTPHeader) Get(name string) string {
	if v := h[CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// CanonicalHeaderKey returns the canonical form of an HTTP header field
// name, as net/textproto.CanonicalMIMEHeaderKey does: the first letter and
// each letter after a hyphen upper case, the rest lower case; a name with a
// byte that may not be in a field name (a space, say) is returned as it is.
// abi has its own so that guests do not link package net (net/textproto
// imports it), whose code and initialisers every guest start would load.
func CanonicalHeaderKey(name string) string {
	upper, canonical := true, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !headerTokenByte(c) {
			return name
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if canonical {
		return name
	}
	b := []byte(name)
	upper = true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return string(b)
}

// headerTokenByte reports whether c may be in a header field name (an
// RFC 9110 token).
func headerTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// HTTPRequest is the argument of http_open (capability http, ABI 1.4).
type HTTPRequest struct {
	// Method is the HTTP method, e.g. "PUT"; "" is GET.
	Method string `json:"method,omitempty"`
	// URL is absolute: scheme, host, path, query. Its origin must be one
	// the destination's configuration allows; it carries no userinfo.
	URL string `json:"url"`
	// Header fields to send. The host adds the credentials itself and
	// refuses Authorization and other credential fields it sets.
	Header HTTPHeader `json:"header,omitempty"`
	// ContentLength is the body's exact length when > 0, so the host can
	// send it streamed with a Content-Length; 0 or -1 means unknown (the
	// host sends the length itself when it holds the whole body at
	// http_send, chunked otherwise). A body that does not match a given
	// length is an error.
	ContentLength int64 `json:"content_length,omitempty"`
}

// HTTPResponse is the result of http_send: the response head. The body is
// read with http_read.
type HTTPResponse struct {
	// Status is the HTTP status code, e.g. 200.
	Status int `json:"status"`
	// Header is the response's header fields.
	Header HTTPHeader `json:"header,omitempty"`
	// ContentLength is the body's length when the server gave it, or -1.
	ContentLength int64 `json:"content_length"`
}
