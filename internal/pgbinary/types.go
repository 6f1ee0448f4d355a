// Package pgbinary is PostgreSQL's binary COPY format of Arrow records, both
// ways, and the catalog of PostgreSQL types it stores each Arrow type as
// (under the two type mappings, Mapping). The postgres capability encodes a
// write's batch with it natively (pg_copy_from with "batch", ABI 1.6); the
// postgres guest chooses the types (its type_mapping) and decodes what it
// reads back with it. It depends on arrow-go only, so it builds natively and
// for GOOS=wasip1.
package pgbinary

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
)

// Kind is the shape of an Arrow type, as far as storing it matters.
type Kind int

const (
	KindBool Kind = iota
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUint8
	KindUint16
	KindUint32
	KindUint64
	KindFloat16
	KindFloat32
	KindFloat64
	KindDecimal
	KindString // utf8, large_utf8, utf8_view
	KindBinary // binary, large_binary, binary_view
	KindFixedBinary
	KindDate32
	KindDate64
	KindTime32
	KindTime64
	KindTimestamp
	KindDuration
	KindMonthInterval
	KindDayTimeInterval
	KindMonthDayNanoInterval
	KindUUID // extension uuid / arrow.uuid
	KindJSON // extension json / arrow.json
	KindInet // extension inet
	KindMAC  // extension mac
	KindList // list, large_list, fixed_size_list
	KindStruct
	KindMap
)

// PostgreSQL type OIDs (pg_type.dat): fixed for built-in types.
const (
	oidBool      = 16
	oidBytea     = 17
	oidInt8      = 20
	oidInt2      = 21
	oidInt4      = 23
	oidText      = 25
	oidFloat4    = 700
	oidFloat8    = 701
	oidMacaddr   = 829
	oidInet      = 869
	oidDate      = 1082
	oidTime      = 1083
	oidTimestamp = 1114
	oidInterval  = 1186
	oidNumeric   = 1700
	oidUUID      = 2950
	oidJSONB     = 3802
)

// Type is how one Arrow field is stored: its shape on the Arrow side and its
// PostgreSQL type.
type Type struct {
	Kind Kind
	// Arrow is the field's type with extension types replaced by their
	// storage (children too): what the guest reads and builds.
	Arrow arrow.DataType
	// Ext is the extension name ("uuid", "json", ...), or "".
	Ext string
	// Elem is the element of a list; Fields and Names the children of a
	// struct; Key and Value those of a map.
	Elem       *Type
	Fields     []*Type
	Names      []string
	Key, Value *Type

	// PG is the column type as PostgreSQL's format_type() prints it, e.g.
	// "bigint", "numeric(20,0)", "text[]": equal strings mean equal storage.
	PG string
	// OID is the PostgreSQL type's OID; for an array, its element's.
	OID uint32
	// Array is true when the value is a PostgreSQL array of Elem.
	Array bool
	// AsJSON is true when the whole value is one jsonb document (structs,
	// maps, lists of lists).
	AsJSON bool
	// AsText is true when the value is stored in a text column in the
	// string form the CloudQuery PostgreSQL destination writes (see
	// cqtext.go): durations, intervals, float16, structs and maps under
	// MappingCloudQuery.
	AsText bool
}

// Mapping is a choice of PostgreSQL types for the Arrow types on which the
// CloudQuery PostgreSQL destination and the richer types differ.
type Mapping uint8

const (
	// MappingCloudQuery stores durations, intervals, float16, structs and
	// maps as text, as the CloudQuery destination does (the default).
	MappingCloudQuery Mapping = iota
	// MappingRich stores durations and intervals as interval, float16 as
	// real, structs and maps as jsonb.
	MappingRich
)

// ParseMapping reads the spec's type_mapping: "cloudquery" (or "") or "rich".
func ParseMapping(s string) (Mapping, error) {
	switch s {
	case "", "cloudquery":
		return MappingCloudQuery, nil
	case "rich":
		return MappingRich, nil
	}
	return 0, fmt.Errorf("type_mapping %q is not \"cloudquery\" (CloudQuery's types, the default) or \"rich\" (interval and jsonb)", s)
}

// Other returns the other mapping.
func (m Mapping) Other() Mapping {
	if m == MappingRich {
		return MappingCloudQuery
	}
	return MappingRich
}

// String returns the spec's name of m.
func (m Mapping) String() string {
	if m == MappingRich {
		return "rich"
	}
	return "cloudquery"
}

// ExtNameKey and ExtMetaKey are the field metadata keys of an extension type
// that reached the guest as its storage type (not registered).
const (
	ExtNameKey = "ARROW:extension:name"
	ExtMetaKey = "ARROW:extension:metadata"
)

// ErrUnsupported is wrapped by the errors of TypeOf for Arrow types that have
// no PostgreSQL form here.
var ErrUnsupported = errors.New("unsupported Arrow type")

// TypeOf returns how field f is stored under MappingRich.
func TypeOf(f arrow.Field) (*Type, error) { return TypeWith(f, MappingRich) }

// TypeWith returns how field f is stored under mapping m.
func TypeWith(f arrow.Field, m Mapping) (*Type, error) {
	t, err := typeOf(f, 0, m)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", f.Name, err)
	}
	return t, nil
}

// extension returns the extension name of f and its storage type, whether
// the extension type is registered (an arrow.ExtensionType) or arrived as
// its storage with ARROW:extension:name metadata.
func extension(f arrow.Field) (string, arrow.DataType) {
	if et, ok := f.Type.(arrow.ExtensionType); ok {
		return et.ExtensionName(), et.StorageType()
	}
	if n, ok := f.Metadata.GetValue(ExtNameKey); ok {
		return n, f.Type
	}
	return "", f.Type
}

const maxDepth = 64

// cqText lists the kinds the CloudQuery destination stores as text.
func cqText(k Kind) bool {
	switch k {
	case KindFloat16, KindDuration, KindMonthInterval, KindDayTimeInterval, KindMonthDayNanoInterval, KindStruct, KindMap:
		return true
	}
	return false
}

func typeOf(f arrow.Field, depth int, m Mapping) (*Type, error) {
	t, err := richTypeOf(f, depth, m)
	if err != nil || m != MappingCloudQuery || !cqText(t.Kind) {
		return t, err
	}
	t.AsText, t.AsJSON, t.PG, t.OID = true, false, "text", oidText
	return t, nil
}

// richTypeOf returns the type of f under MappingRich at this level; list
// elements follow m.
func richTypeOf(f arrow.Field, depth int, m Mapping) (*Type, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested more than %d levels", ErrUnsupported, maxDepth)
	}
	ext, dt := extension(f)
	t := &Type{Ext: ext, Arrow: dt}
	switch ext {
	case abi.ExtUUID, abi.ExtCanonicalUUID:
		if fsb, ok := dt.(*arrow.FixedSizeBinaryType); ok && fsb.ByteWidth == 16 {
			t.Kind, t.PG, t.OID = KindUUID, "uuid", oidUUID
			return t, nil
		}
		return nil, fmt.Errorf("%w: extension %s with storage %s", ErrUnsupported, ext, dt)
	case abi.ExtJSON, abi.ExtCanonicalJSON, abi.ExtInet, abi.ExtMAC:
		switch dt.ID() {
		case arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY_VIEW, arrow.STRING_VIEW:
		default:
			return nil, fmt.Errorf("%w: extension %s with storage %s", ErrUnsupported, ext, dt)
		}
		switch ext {
		case abi.ExtInet:
			t.Kind, t.PG, t.OID = KindInet, "inet", oidInet
		case abi.ExtMAC:
			t.Kind, t.PG, t.OID = KindMAC, "macaddr", oidMacaddr
		default:
			t.Kind, t.PG, t.OID = KindJSON, "jsonb", oidJSONB
		}
		return t, nil
	}
	// Other extension types are stored as their storage type; reading back
	// restores the extension from the wanted schema.
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		t.Kind, t.PG, t.OID = KindBool, "boolean", oidBool
	case *arrow.Int8Type:
		t.Kind, t.PG, t.OID = KindInt8, "smallint", oidInt2
	case *arrow.Int16Type:
		t.Kind, t.PG, t.OID = KindInt16, "smallint", oidInt2
	case *arrow.Int32Type:
		t.Kind, t.PG, t.OID = KindInt32, "integer", oidInt4
	case *arrow.Int64Type:
		t.Kind, t.PG, t.OID = KindInt64, "bigint", oidInt8
	case *arrow.Uint8Type:
		t.Kind, t.PG, t.OID = KindUint8, "smallint", oidInt2
	case *arrow.Uint16Type:
		t.Kind, t.PG, t.OID = KindUint16, "integer", oidInt4
	case *arrow.Uint32Type:
		t.Kind, t.PG, t.OID = KindUint32, "bigint", oidInt8
	case *arrow.Uint64Type:
		t.Kind, t.PG, t.OID = KindUint64, "numeric(20,0)", oidNumeric
	case *arrow.Float16Type:
		t.Kind, t.PG, t.OID = KindFloat16, "real", oidFloat4
	case *arrow.Float32Type:
		t.Kind, t.PG, t.OID = KindFloat32, "real", oidFloat4
	case *arrow.Float64Type:
		t.Kind, t.PG, t.OID = KindFloat64, "double precision", oidFloat8
	case arrow.DecimalType:
		p, s := dt.GetPrecision(), dt.GetScale()
		if p < 1 || p > 1000 || s < -1000 || s > 1000 {
			return nil, fmt.Errorf("%w: %s: PostgreSQL's numeric takes precision 1..1000 and scale -1000..1000", ErrUnsupported, dt)
		}
		t.Kind, t.PG, t.OID = KindDecimal, fmt.Sprintf("numeric(%d,%d)", p, s), oidNumeric
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		t.Kind, t.PG, t.OID = KindString, "text", oidText
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		t.Kind, t.PG, t.OID = KindBinary, "bytea", oidBytea
	case *arrow.FixedSizeBinaryType:
		t.Kind, t.PG, t.OID = KindFixedBinary, "bytea", oidBytea
	case *arrow.Date32Type:
		t.Kind, t.PG, t.OID = KindDate32, "date", oidDate
	case *arrow.Date64Type:
		t.Kind, t.PG, t.OID = KindDate64, "date", oidDate
	case *arrow.Time32Type:
		t.Kind, t.PG, t.OID = KindTime32, "time without time zone", oidTime
	case *arrow.Time64Type:
		t.Kind, t.PG, t.OID = KindTime64, "time without time zone", oidTime
	case *arrow.TimestampType:
		// Every unit and zone: PostgreSQL's timestamp holds microseconds;
		// values are stored as UTC (the session runs in UTC), as the
		// CloudQuery destination does, so that its tables need no migration.
		t.Kind, t.PG, t.OID = KindTimestamp, "timestamp without time zone", oidTimestamp
	case *arrow.DurationType:
		t.Kind, t.PG, t.OID = KindDuration, "interval", oidInterval
	case *arrow.MonthIntervalType:
		t.Kind, t.PG, t.OID = KindMonthInterval, "interval", oidInterval
	case *arrow.DayTimeIntervalType:
		t.Kind, t.PG, t.OID = KindDayTimeInterval, "interval", oidInterval
	case *arrow.MonthDayNanoIntervalType:
		t.Kind, t.PG, t.OID = KindMonthDayNanoInterval, "interval", oidInterval
	case *arrow.ListType, *arrow.LargeListType, *arrow.FixedSizeListType:
		elem, err := typeOf(dt.(arrow.ListLikeType).ElemField(), depth+1, m)
		if err != nil {
			return nil, err
		}
		t.Kind, t.Elem = KindList, elem
		if elem.Array || (elem.AsJSON && elem.Kind == KindList) {
			// PostgreSQL's arrays are rectangular: a list of lists is
			// one jsonb document, in the rich JSON forms throughout.
			if m != MappingRich {
				if t.Elem, err = typeOf(dt.(arrow.ListLikeType).ElemField(), depth+1, MappingRich); err != nil {
					return nil, err
				}
			}
			t.AsJSON, t.PG, t.OID = true, "jsonb", oidJSONB
		} else {
			t.Array, t.PG, t.OID = true, elem.PG+"[]", elem.OID
		}
	case *arrow.StructType:
		t.Kind, t.AsJSON, t.PG, t.OID = KindStruct, true, "jsonb", oidJSONB
		seen := map[string]bool{}
		for _, cf := range dt.Fields() {
			if seen[cf.Name] {
				return nil, fmt.Errorf("%w: struct has two fields named %q, which a JSON object cannot hold", ErrUnsupported, cf.Name)
			}
			seen[cf.Name] = true
			// Children are encoded by their kind (as JSON, rich or
			// CloudQuery's), never as columns of their own.
			ct, err := typeOf(cf, depth+1, MappingRich)
			if err != nil {
				return nil, fmt.Errorf("struct field %q: %w", cf.Name, err)
			}
			t.Fields, t.Names = append(t.Fields, ct), append(t.Names, cf.Name)
		}
	case *arrow.MapType:
		k, err := typeOf(dt.KeyField(), depth+1, MappingRich)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		v, err := typeOf(dt.ItemField(), depth+1, MappingRich)
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		t.Kind, t.Key, t.Value, t.AsJSON, t.PG, t.OID = KindMap, k, v, true, "jsonb", oidJSONB
	default:
		return nil, fmt.Errorf("%w %s", ErrUnsupported, dt)
	}
	return t, nil
}

// StorageField returns f with every extension type replaced by its storage
// type and ARROW:extension:* metadata, recursively. An IPC stream written
// with it is the same as one written with the extension types.
func StorageField(f arrow.Field) arrow.Field {
	if et, ok := f.Type.(arrow.ExtensionType); ok {
		keys := append([]string{}, f.Metadata.Keys()...)
		vals := append([]string{}, f.Metadata.Values()...)
		keys = append(keys, ExtNameKey, ExtMetaKey)
		vals = append(vals, et.ExtensionName(), et.Serialize())
		f.Metadata = arrow.NewMetadata(keys, vals)
		f.Type = et.StorageType()
	}
	switch dt := f.Type.(type) {
	case *arrow.ListType:
		f.Type = arrow.ListOfField(StorageField(dt.ElemField()))
	case *arrow.LargeListType:
		f.Type = arrow.LargeListOfField(StorageField(dt.ElemField()))
	case *arrow.FixedSizeListType:
		f.Type = arrow.FixedSizeListOfField(dt.Len(), StorageField(dt.ElemField()))
	case *arrow.StructType:
		fs := make([]arrow.Field, dt.NumFields())
		for i, cf := range dt.Fields() {
			fs[i] = StorageField(cf)
		}
		f.Type = arrow.StructOf(fs...)
	case *arrow.MapType:
		m := arrow.MapOfFields(StorageField(dt.KeyField()), StorageField(dt.ItemField()))
		m.KeysSorted = dt.KeysSorted
		f.Type = m
	}
	return f
}

// StorageSchema applies StorageField to every field of s.
func StorageSchema(s *arrow.Schema) *arrow.Schema {
	fs := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fs[i] = StorageField(f)
	}
	md := s.Metadata()
	return arrow.NewSchema(fs, &md)
}

// String describes t for error messages.
func (t *Type) String() string {
	var b strings.Builder
	if t.Ext != "" {
		b.WriteString("extension<" + t.Ext + "> ")
	}
	b.WriteString(t.Arrow.String())
	return b.String()
}

// Retype returns arr, built with a type from StorageField, as an array of
// want, the original type with its extension types: the buffers are shared,
// only the types change. The caller owns the result.
func Retype(arr arrow.Array, want arrow.DataType) arrow.Array {
	if arrow.TypeEqual(arr.DataType(), want) {
		arr.Retain()
		return arr
	}
	data := retypeData(arr.Data(), want)
	defer data.Release()
	return array.MakeFromData(data)
}

func retypeData(d arrow.ArrayData, want arrow.DataType) arrow.ArrayData {
	inner := want
	if et, ok := want.(arrow.ExtensionType); ok {
		inner = et.StorageType()
	}
	var childTypes []arrow.DataType
	switch t := inner.(type) {
	case arrow.ListLikeType:
		childTypes = []arrow.DataType{t.Elem()}
	case *arrow.StructType:
		for _, f := range t.Fields() {
			childTypes = append(childTypes, f.Type)
		}
	}
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		if i < len(childTypes) {
			children[i] = retypeData(c, childTypes[i])
		} else {
			c.Retain()
			children[i] = c
		}
	}
	out := array.NewData(want, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return out
}
