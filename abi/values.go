package abi

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the ABI's enumerated values, each a string type with the
// list of its values (in the order messages name them), one Valid method
// and, where the destination spec has one, one default.

// WriteMode is the destination spec's write_mode.
type WriteMode string

// Write modes, as in the destination spec.
const (
	WriteModeOverwriteDeleteStale WriteMode = "overwrite-delete-stale"
	WriteModeOverwrite            WriteMode = "overwrite"
	WriteModeAppend               WriteMode = "append"
)

// DefaultWriteMode is the write mode of a destination that sets none.
const DefaultWriteMode = WriteModeOverwriteDeleteStale

// WriteModes returns every write mode, the default first.
func WriteModes() []WriteMode {
	return []WriteMode{WriteModeOverwriteDeleteStale, WriteModeOverwrite, WriteModeAppend}
}

// Valid returns nil when m is a write mode, or else an error listing them.
func (m WriteMode) Valid() error { return oneOf("write_mode", m, WriteModes()) }

// MigrateMode is the destination spec's migrate_mode.
type MigrateMode string

// Migrate modes, as in the destination spec.
const (
	MigrateModeSafe   MigrateMode = "safe"
	MigrateModeForced MigrateMode = "forced"
)

// DefaultMigrateMode is the migrate mode of a destination that sets none.
const DefaultMigrateMode = MigrateModeSafe

// MigrateModes returns every migrate mode, the default first.
func MigrateModes() []MigrateMode { return []MigrateMode{MigrateModeSafe, MigrateModeForced} }

// Valid returns nil when m is a migrate mode, or else an error listing them.
func (m MigrateMode) Valid() error { return oneOf("migrate_mode", m, MigrateModes()) }

// PKMode is the destination spec's pk_mode.
type PKMode string

// PK modes, as in the destination spec.
const (
	PKModeDefault  PKMode = "default"
	PKModeCQIDOnly PKMode = "cq-id-only"
)

// DefaultPKMode is the pk mode of a destination that sets none.
const DefaultPKMode = PKModeDefault

// PKModes returns every pk mode, the default first.
func PKModes() []PKMode { return []PKMode{PKModeDefault, PKModeCQIDOnly} }

// Valid returns nil when m is a pk mode, or else an error listing them.
func (m PKMode) Valid() error { return oneOf("pk_mode", m, PKModes()) }

// Capability names a group of host functions or a host resource a guest may
// ask for in its Manifest.
type Capability string

const (
	// CapFilesystem is one preopened directory, mounted at "/" in the guest's
	// WASI filesystem. Without it the guest has no filesystem at all.
	CapFilesystem Capability = "filesystem"
	// CapPostgres is the pg_* host functions on a connection pool the host
	// opens from the spec's connection_string.
	CapPostgres Capability = "postgres"
	// CapSQL (ABI 1.2) is the sql_* host functions on a database/sql pool the host
	// opens from the spec: driver, and dsn (a secret) for servers or path
	// (inside the destination's directory) for file databases.
	CapSQL Capability = "sql"
	// CapCodec (ABI 1.3) is the codec_* host functions: the host encodes
	// record batches as CSV, JSON Lines or Parquet files (and decodes them
	// back) natively, and the guest writes the bytes where its policy says.
	CapCodec Capability = "codec"
	// CapHTTP (ABI 1.4) is the http_* host functions: outbound HTTP to the
	// origins the destination's configuration allows, with the host's
	// credentials (spec key "http", a secret).
	CapHTTP Capability = "http"
)

// Capabilities returns every capability this ABI version defines.
func Capabilities() []Capability {
	return []Capability{CapFilesystem, CapPostgres, CapSQL, CapCodec, CapHTTP}
}

// Valid returns nil when c is a capability of this ABI version, or else an
// error listing them.
func (c Capability) Valid() error { return oneOf("capability", c, Capabilities()) }

// Feature is optional behaviour a guest lists in Manifest.Features.
type Feature string

// Optional features.
const (
	FeatureRead          Feature = "read"           // implements OpRead
	FeatureDeleteStale   Feature = "delete_stale"   // implements OpDeleteStale
	FeatureMigrateForced Feature = "migrate_forced" // implements MigrateRecreate
	FeatureDeleteRecord  Feature = "delete_record"  // implements OpDeleteRecord (ABI 1.1)
	// FeatureParallelUpserts (ABI 1.8): instances may upsert batches of one
	// table at once when no key is in two of them. The host then writes
	// such batches side by side (with more than one writer); without it, a
	// table with a primary key gets one batch at a time. List it only when
	// keys the destination finds equal are equal Arrow values (no
	// case-insensitive collation), and when two instances' writes of
	// different keys cannot deadlock (no gap locks).
	FeatureParallelUpserts Feature = "parallel_upserts"
)

// Features returns every feature this ABI version defines.
func Features() []Feature {
	return []Feature{FeatureRead, FeatureDeleteStale, FeatureMigrateForced, FeatureDeleteRecord, FeatureParallelUpserts}
}

// Valid returns nil when f is a feature of this ABI version, or else an
// error listing them.
func (f Feature) Valid() error { return oneOf("feature", f, Features()) }

// MigrateAction is what OpMigrate does to a table (MigrateRequest.Action).
type MigrateAction string

// Migrate actions.
const (
	// MigrateCreate creates a table that does not exist.
	MigrateCreate MigrateAction = "create"
	// MigrateAlter applies the listed changes, all of them safe.
	MigrateAlter MigrateAction = "alter"
	// MigrateRecreate drops the table and creates it anew (migrate_mode forced).
	MigrateRecreate MigrateAction = "recreate"
)

// MigrateActions returns every migrate action.
func MigrateActions() []MigrateAction {
	return []MigrateAction{MigrateCreate, MigrateAlter, MigrateRecreate}
}

// Valid returns nil when a is a migrate action, or else an error listing them.
func (a MigrateAction) Valid() error { return oneOf("migrate action", a, MigrateActions()) }

// ChangeKind is the kind of a Change, computed by the host from a TableState.
type ChangeKind string

// Change kinds. The first four are safe (see ChangeKind.Safe).
const (
	ChangeAddColumn           ChangeKind = "add_column"
	ChangeRemoveColumn        ChangeKind = "remove_column"
	ChangeRemoveUnique        ChangeKind = "remove_unique_constraint"
	ChangeMovePKToCQID        ChangeKind = "move_pk_to_cq_id"
	ChangeAddColumnNotNull    ChangeKind = "add_column_not_null"
	ChangeRemoveColumnNotNull ChangeKind = "remove_column_not_null"
	ChangeColumnType          ChangeKind = "change_column"
	ChangeAddUnique           ChangeKind = "add_unique_constraint"
	ChangePrimaryKey          ChangeKind = "change_primary_key"
)

// ChangeKinds returns every change kind, the safe ones first.
func ChangeKinds() []ChangeKind {
	return []ChangeKind{ChangeAddColumn, ChangeRemoveColumn, ChangeRemoveUnique, ChangeMovePKToCQID,
		ChangeAddColumnNotNull, ChangeRemoveColumnNotNull, ChangeColumnType, ChangeAddUnique, ChangePrimaryKey}
}

// Valid returns nil when k is a change kind, or else an error listing them.
func (k ChangeKind) Valid() error { return oneOf("change kind", k, ChangeKinds()) }

// Safe reports whether a change of kind k can be applied without losing
// data or failing on existing rows, so that MigrateAlter may carry it (as
// the CloudQuery PostgreSQL destination classifies changes). The others
// appear only under MigrateRecreate, or in the host's refusal.
func (k ChangeKind) Safe() bool {
	switch k {
	case ChangeAddColumn, ChangeRemoveColumn, ChangeRemoveUnique, ChangeMovePKToCQID:
		return true
	}
	return false
}

// oneOf returns nil when v is one of valid, or else an error such as
// `write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`.
func oneOf[T ~string](what string, v T, valid []T) error {
	if slices.Contains(valid, v) {
		return nil
	}
	return fmt.Errorf("%s %q is not one of %s", what, v, List(valid))
}

// List joins values as messages list them: "append, overwrite".
func List[T ~string](vs []T) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

// TimeLayout is the form of every time on the wire (InitRequest.SyncTime,
// DeleteStaleRequest.SyncTime): RFC 3339 in UTC with exactly six fractional
// digits, e.g. "2026-11-21T06:25:49.123456Z". It parses with time.RFC3339Nano too.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime formats t in TimeLayout, converted to UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ValidSemver reports whether v is a Semantic Versioning 2.0.0 version,
// MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD parts, after an
// optional leading "v" ("v1.2.3", "0.4.0-rc.1"): the form of
// Manifest.Version.
func ValidSemver(v string) bool {
	rest, build, hasBuild := strings.Cut(strings.TrimPrefix(v, "v"), "+")
	if hasBuild && !validIdents(build, false) {
		return false
	}
	core, pre, hasPre := strings.Cut(rest, "-")
	if hasPre && !validIdents(pre, true) {
		return false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if !isNumeric(p) || len(p) > 1 && p[0] == '0' {
			return false
		}
	}
	return true
}

// SameSemver reports whether a and b name the same version, ignoring a
// leading "v".
func SameSemver(a, b string) bool { return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v") }

// validIdents checks dot-separated identifiers of a pre-release (where
// numeric identifiers must not have leading zeros) or of build metadata.
func validIdents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if pre && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
