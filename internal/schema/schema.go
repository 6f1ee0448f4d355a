// Package schema turns the Arrow schema a source sends for a table into the
// schema the host asks a guest to store, and turns the source's records into
// records of that schema.
//
// The host, not the guest, applies write_mode, pk_mode and sync_group_id, and
// adds the internal columns, the way the CloudQuery CLI does for its
// destinations:
//
//   - _cq_sync_time (timestamp[us, tz=UTC], nullable) and _cq_source_name
//     (utf8, nullable) are put in front of the source's columns, unless the
//     source already has them, in which case they stay where they are (their
//     types must be exactly those) and the host's values replace the source's;
//   - with a sync_group_id, _cq_sync_group_id (utf8, NOT NULL) follows them
//     the same way; in write_mode overwrite it joins the table's primary key
//     (when the table has one, see Transform);
//   - write_mode append removes the primary key and unique markers of every
//     column;
//   - otherwise pk_mode cq-id-only makes _cq_id the only primary key column;
//   - all other schema and field metadata (cq:table_name, ...) are kept.
package schema

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// Options are the sync settings that shape a table's stored schema.
type Options struct {
	// WriteMode is the write mode; "" means abi.DefaultWriteMode.
	WriteMode abi.WriteMode
	// PKMode is the pk mode; "" means abi.DefaultPKMode.
	PKMode abi.PKMode
	// SyncGroupID is the expanded sync_group_id, "" when unset.
	SyncGroupID string
	// SourceName is the value of _cq_source_name.
	SourceName string
	// SyncTime is the value of _cq_sync_time. It is converted to UTC and
	// truncated to microseconds.
	SyncTime time.Time
	// AsIs says the records were already shaped by a CloudQuery CLI, which
	// adds the internal columns and applies write_mode, pk_mode and
	// sync_group_id itself before a destination plugin sees anything:
	// Transform then adds and changes nothing, and the Appender passes the
	// records through. WriteMode, PKMode, SyncGroupID, SourceName and
	// SyncTime are not used.
	AsIs bool
}

// SyncTimeType is the type of _cq_sync_time.
var SyncTimeType arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// normalize fills defaults and checks the option values.
func (o Options) normalize() (Options, error) {
	if o.AsIs {
		o.SyncGroupID = ""
	}
	if o.WriteMode == "" {
		o.WriteMode = abi.DefaultWriteMode
	}
	if o.PKMode == "" {
		o.PKMode = abi.DefaultPKMode
	}
	if err := errors.Join(o.WriteMode.Valid(), o.PKMode.Valid()); err != nil {
		return o, err
	}
	if o.SyncGroupID != "" && o.WriteMode == abi.WriteModeOverwriteDeleteStale {
		return o, fmt.Errorf("sync_group_id is not supported with write_mode %q; use %q or %q",
			abi.WriteModeOverwriteDeleteStale, abi.WriteModeOverwrite, abi.WriteModeAppend)
	}
	o.SyncTime = o.SyncTime.UTC().Truncate(time.Microsecond)
	return o, nil
}

// internalField is one column the host adds and fills.
type internalField struct {
	name string
	typ  arrow.DataType
	// nullable as the CloudQuery CLI declares it, so that tables it created
	// need no migration.
	nullable bool
}

// internalFields lists the columns the host fills for o, in the order they
// are prepended.
func internalFields(o Options) []internalField {
	if o.AsIs {
		return nil
	}
	f := []internalField{
		{abi.ColSyncTime, SyncTimeType, true},
		{abi.ColSourceName, arrow.BinaryTypes.String, true},
	}
	if o.SyncGroupID != "" {
		f = append(f, internalField{abi.ColSyncGroupID, arrow.BinaryTypes.String, false})
	}
	return f
}

// TableName returns the schema's cq:table_name metadata, or "" without it.
func TableName(s *arrow.Schema) string {
	if s == nil {
		return ""
	}
	v, _ := s.Metadata().GetValue(abi.MetaTableName)
	return v
}

// Transform returns the schema the host asks the guest to store for a table
// whose records have schema in (see the package documentation for the rules).
//
// Errors: in has no cq:table_name metadata or duplicate column names; an
// internal column of in has another type than the host's; pk_mode cq-id-only
// with write_mode overwrite or overwrite-delete-stale and no _cq_id column;
// invalid options.
//
// With a sync_group_id in write_mode overwrite, _cq_sync_group_id joins the
// primary key only when the table has one (after pk_mode is applied): the
// CloudQuery CLI also makes it the only primary key column of a table
// without one, which turns that table's inserts into upserts on the group id
// and keeps a single row per group.
//
// In write_mode append pk_mode is ignored, as the CLI does: the table has no
// primary key at all.
func Transform(in *arrow.Schema, o Options) (*arrow.Schema, error) {
	if in == nil {
		return nil, fmt.Errorf("schema: nil schema")
	}
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	table := TableName(in)
	if table == "" {
		return nil, fmt.Errorf("schema: table schema has no %s metadata", abi.MetaTableName)
	}
	seen := make(map[string]bool, in.NumFields())
	for _, f := range in.Fields() {
		if seen[f.Name] {
			return nil, fmt.Errorf("table %q: column %q appears more than once", table, f.Name)
		}
		seen[f.Name] = true
	}

	if o.AsIs {
		return in, nil
	}
	internal := internalFields(o)
	fields := make([]arrow.Field, 0, in.NumFields()+len(internal))
	for _, c := range internal {
		if idx := in.FieldIndices(c.name); len(idx) > 0 {
			if got := in.Field(idx[0]).Type; !arrow.TypeEqual(got, c.typ) {
				return nil, fmt.Errorf("table %q: column %q has type %s, the host fills it with %s", table, c.name, got, c.typ)
			}
			continue
		}
		fields = append(fields, arrow.Field{Name: c.name, Type: c.typ, Nullable: c.nullable})
	}
	fields = append(fields, in.Fields()...)

	switch {
	case o.WriteMode == abi.WriteModeAppend:
		for i := range fields {
			fields[i].Metadata = withoutKeys(fields[i].Metadata, abi.MetaPrimaryKey, abi.MetaUnique)
		}
	case o.PKMode == abi.PKModeCQIDOnly:
		found := false
		for i := range fields {
			if fields[i].Name == abi.ColID {
				found = true
				fields[i].Metadata = withKey(fields[i].Metadata, abi.MetaPrimaryKey, abi.MetaTrue)
			} else {
				fields[i].Metadata = withoutKeys(fields[i].Metadata, abi.MetaPrimaryKey)
			}
		}
		if !found {
			return nil, fmt.Errorf("table %q: pk_mode %q needs a %s column, and the table has none", table, abi.PKModeCQIDOnly, abi.ColID)
		}
	default:
		if o.SyncGroupID != "" && o.WriteMode == abi.WriteModeOverwrite {
			hasPK := false
			for _, f := range fields {
				if f.Name != abi.ColSyncGroupID && arrowtypes.IsPrimaryKey(f) {
					hasPK = true
					break
				}
			}
			for i := range fields {
				if fields[i].Name != abi.ColSyncGroupID {
					continue
				}
				if hasPK {
					fields[i].Metadata = withKey(fields[i].Metadata, abi.MetaPrimaryKey, abi.MetaTrue)
				} else {
					fields[i].Metadata = withoutKeys(fields[i].Metadata, abi.MetaPrimaryKey)
				}
			}
		}
	}

	md := in.Metadata()
	return arrow.NewSchema(fields, &md), nil
}

// withoutKeys returns md without keys, keeping the order of the others. md is
// returned unchanged when it has none of them.
func withoutKeys(md arrow.Metadata, keys ...string) arrow.Metadata {
	drop := false
	for _, k := range keys {
		if md.FindKey(k) >= 0 {
			drop = true
		}
	}
	if !drop {
		return md
	}
	var ks, vs []string
	for i, k := range md.Keys() {
		skip := false
		for _, d := range keys {
			if k == d {
				skip = true
			}
		}
		if !skip {
			ks = append(ks, k)
			vs = append(vs, md.Values()[i])
		}
	}
	return arrow.NewMetadata(ks, vs)
}

// withKey returns md with key set to value, keeping the order of the others.
func withKey(md arrow.Metadata, key, value string) arrow.Metadata {
	ks := append([]string(nil), md.Keys()...)
	vs := append([]string(nil), md.Values()...)
	if i := md.FindKey(key); i >= 0 {
		if vs[i] == value {
			return md
		}
		vs[i] = value
	} else {
		ks = append(ks, key)
		vs = append(vs, value)
	}
	return arrow.NewMetadata(ks, vs)
}
