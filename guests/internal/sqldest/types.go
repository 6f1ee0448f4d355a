package sqldest

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// Stored is a column type and the codec its values are loaded with.
type Stored struct {
	Type  string
	Codec Codec
}

// NativeAs is type t with its values loaded as they are.
func NativeAs(t string) Stored { return Stored{Type: t, Codec: Native} }

// TextAs is type t with its values loaded as their text form.
func TextAs(t string) Stored { return Stored{Type: t, Codec: Text} }

// TypeMap is the part of a dialect's Column that the SQL databases share:
// the stored type of each kind of Arrow type. A dialect fills in its names,
// calls Map, then adjusts what depends on more than the kind (keys, units,
// read expressions).
type TypeMap struct {
	// Database names the database in errors ("SQLite").
	Database string
	// The extension types of abi/arrowtypes.
	UUID, Inet, MAC, JSON Stored
	Bool                  Stored
	// Int and Uint are the integers by width: 8, 16, 32 and 64 bits.
	Int, Uint        [4]Stored
	Float32, Float64 Stored
	// String is utf8 and large_utf8; Binary every binary type.
	String, Binary Stored
	// Date is date32 and date64; Time time32 and time64.
	Date, Time Stored
	Timestamp  Stored
	Duration   Stored
	// Decimal gives a decimal128's stored type.
	Decimal func(t *arrow.Decimal128Type) Stored
	// Nested is intervals, structs, lists and maps.
	Nested Stored
}

// Map sets c.Type and c.Codec by the kind of c's Arrow type.
func (m *TypeMap) Map(c *Column) error {
	s, err := m.stored(c.Field.Type)
	if err != nil {
		return err
	}
	c.Type, c.Codec = s.Type, s.Codec
	return nil
}

func (m *TypeMap) stored(dt arrow.DataType) (Stored, error) {
	switch {
	case arrowtypes.IsUUID(dt):
		return m.UUID, nil
	case arrowtypes.IsInet(dt):
		return m.Inet, nil
	case arrowtypes.IsMAC(dt):
		return m.MAC, nil
	case arrowtypes.IsJSON(dt):
		return m.JSON, nil
	}
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return m.Bool, nil
	case *arrow.Int8Type:
		return m.Int[0], nil
	case *arrow.Int16Type:
		return m.Int[1], nil
	case *arrow.Int32Type:
		return m.Int[2], nil
	case *arrow.Int64Type:
		return m.Int[3], nil
	case *arrow.Uint8Type:
		return m.Uint[0], nil
	case *arrow.Uint16Type:
		return m.Uint[1], nil
	case *arrow.Uint32Type:
		return m.Uint[2], nil
	case *arrow.Uint64Type:
		return m.Uint[3], nil
	case *arrow.Float32Type:
		return m.Float32, nil
	case *arrow.Float64Type:
		return m.Float64, nil
	case *arrow.StringType, *arrow.LargeStringType:
		return m.String, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType:
		return m.Binary, nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return m.Date, nil
	case *arrow.Time32Type, *arrow.Time64Type:
		return m.Time, nil
	case *arrow.TimestampType:
		return m.Timestamp, nil
	case *arrow.DurationType:
		return m.Duration, nil
	case *arrow.Decimal128Type:
		return m.Decimal(t), nil
	case *arrow.MonthIntervalType, *arrow.DayTimeIntervalType, *arrow.MonthDayNanoIntervalType,
		*arrow.StructType, *arrow.ListType, *arrow.LargeListType, *arrow.FixedSizeListType, *arrow.MapType:
		return m.Nested, nil
	}
	return Stored{}, fmt.Errorf("%s stores no Arrow %s", m.Database, dt)
}

// DoubleQuote is the base of the dialects that quote identifiers with
// double quotes and ask the database nothing in Init (SQLite, DuckDB).
type DoubleQuote struct{}

// Init implements Dialect: nothing to ask.
func (DoubleQuote) Init(DB) error { return nil }

// Quote quotes an identifier with double quotes.
func (DoubleQuote) Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
