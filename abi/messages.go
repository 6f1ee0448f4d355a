package abi

import "encoding/json"

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
	WriteModes []string `json:"write_modes,omitempty"`
	// Features lists optional behaviour: see the Feature* constants.
	Features []string `json:"features,omitempty"`
	// BatchDefaults are the batching defaults for this destination, used
	// when the spec does not set batch_size, batch_size_bytes or batch_timeout.
	BatchDefaults BatchDefaults `json:"batch_defaults"`
}

// Optional features a guest may list in Manifest.Features.
const (
	FeatureRead          = "read"           // implements OpRead
	FeatureDeleteStale   = "delete_stale"   // implements OpDeleteStale
	FeatureMigrateForced = "migrate_forced" // implements MigrateRecreate
)

// BatchDefaults are a destination's batching defaults. Zero or less means unlimited.
type BatchDefaults struct {
	Rows int64 `json:"batch_size"`
	// Bytes is compared with the in-memory size of the Arrow buffers.
	Bytes int64 `json:"batch_size_bytes"`
	// Timeout is a Go duration string such as "60s".
	Timeout string `json:"batch_timeout"`
}

// Write modes, as in the destination spec.
const (
	WriteModeOverwriteDeleteStale = "overwrite-delete-stale"
	WriteModeOverwrite            = "overwrite"
	WriteModeAppend               = "append"
)

// Migrate modes, as in the destination spec.
const (
	MigrateModeSafe   = "safe"
	MigrateModeForced = "forced"
)

// PK modes, as in the destination spec.
const (
	PKModeDefault  = "default"
	PKModeCQIDOnly = "cq-id-only"
)

// InitRequest is the header of OpInit.
type InitRequest struct {
	// Destination is the name the configuration gives this destination.
	Destination string `json:"destination"`
	// Spec is the nested spec, validated against Manifest.SpecSchema, with
	// the Manifest.Secrets keys removed.
	Spec        json.RawMessage `json:"spec"`
	WriteMode   string          `json:"write_mode"`
	MigrateMode string          `json:"migrate_mode"`
	PKMode      string          `json:"pk_mode"`
	// SyncID identifies this sync (the {{SYNC_ID}} placeholder).
	SyncID string `json:"sync_id"`
	// SyncTime is the sync's start, RFC 3339 with microseconds, UTC.
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

// Migrate actions.
const (
	// MigrateCreate creates a table that does not exist.
	MigrateCreate = "create"
	// MigrateAlter applies the listed changes, all of them safe.
	MigrateAlter = "alter"
	// MigrateRecreate drops the table and creates it anew (migrate_mode forced).
	MigrateRecreate = "recreate"
)

// Change kinds, computed by the host from a TableState.
const (
	ChangeAddColumn           = "add_column"
	ChangeAddColumnNotNull    = "add_column_not_null"
	ChangeRemoveColumn        = "remove_column"
	ChangeRemoveColumnNotNull = "remove_column_not_null"
	ChangeColumnType          = "change_column"
	ChangeAddUnique           = "add_unique_constraint"
	ChangeRemoveUnique        = "remove_unique_constraint"
	ChangePrimaryKey          = "change_primary_key"
	ChangeMovePKToCQID        = "move_pk_to_cq_id"
)

// Change is one difference between a table's current and wanted state.
type Change struct {
	Kind   string `json:"kind"`
	Column string `json:"column,omitempty"`
	// Current and Wanted are the column before and after, where they exist.
	Current *Column `json:"current,omitempty"`
	Wanted  *Column `json:"wanted,omitempty"`
}

// MigrateRequest is the header of OpMigrate.
type MigrateRequest struct {
	Table   string   `json:"table"`
	Action  string   `json:"action"`
	Changes []Change `json:"changes,omitempty"`
}

// DeleteStaleRequest is the header of OpDeleteStale: delete the rows of Table
// whose _cq_source_name is SourceName and whose _cq_sync_time is strictly
// before SyncTime.
type DeleteStaleRequest struct {
	Table      string `json:"table"`
	SourceName string `json:"source_name"`
	SyncTime   string `json:"sync_time"`
}

// ExpandRequest is the argument of ImportExpand.
type ExpandRequest struct {
	Template string `json:"template"`
	// Table and Format fill {{TABLE}}, {{TABLE_HYPHEN}} and {{FORMAT}}.
	Table  string `json:"table,omitempty"`
	Format string `json:"format,omitempty"`
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
