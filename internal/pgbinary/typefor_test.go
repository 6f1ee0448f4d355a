package pgbinary

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestTypeFor: for every kind of Arrow type, under both mappings, the type
// the guest names (Type.PG) gives the host the same encoding (TypeFor), and
// a name neither mapping gives is refused naming the column.
func TestTypeFor(t *testing.T) {
	uuid := arrow.NewMetadata([]string{ExtNameKey}, []string{"uuid"})
	jsonMD := arrow.NewMetadata([]string{ExtNameKey}, []string{"json"})
	inet := arrow.NewMetadata([]string{ExtNameKey}, []string{"inet"})
	st := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, arrow.Field{Name: "d", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true})
	fields := []arrow.Field{
		{Name: "bool", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8}, {Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "f16", Type: arrow.FixedWidthTypes.Float16}, {Name: "f64", Type: arrow.PrimitiveTypes.Float64},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 20, Scale: 4}},
		{Name: "s", Type: arrow.BinaryTypes.String}, {Name: "ls", Type: arrow.BinaryTypes.LargeString},
		{Name: "b", Type: arrow.BinaryTypes.Binary}, {Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32}, {Name: "t64", Type: arrow.FixedWidthTypes.Time64us},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ns}, {Name: "dur", Type: arrow.FixedWidthTypes.Duration_us},
		{Name: "mi", Type: arrow.FixedWidthTypes.MonthInterval}, {Name: "mdn", Type: arrow.FixedWidthTypes.MonthDayNanoInterval},
		{Name: "uuid", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Metadata: uuid},
		{Name: "json", Type: arrow.BinaryTypes.String, Metadata: jsonMD},
		{Name: "inet", Type: arrow.BinaryTypes.String, Metadata: inet},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
		{Name: "list_dur", Type: arrow.ListOf(arrow.FixedWidthTypes.Duration_s)},
		{Name: "list_list", Type: arrow.ListOf(arrow.ListOf(arrow.BinaryTypes.String))},
		{Name: "struct", Type: st}, {Name: "list_struct", Type: arrow.ListOf(st)},
		{Name: "map", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32)},
	}
	differ := 0
	for _, f := range fields {
		rich, err := TypeWith(f, MappingRich)
		if err != nil {
			t.Fatal(err)
		}
		cq, err := TypeWith(f, MappingCloudQuery)
		if err != nil {
			t.Fatal(err)
		}
		if rich.PG != cq.PG {
			differ++
		}
		for _, want := range []*Type{rich, cq} {
			got, err := TypeFor(f, want.PG)
			if err != nil {
				t.Errorf("%s as %s: %v", f.Name, want.PG, err)
				continue
			}
			if got.PG != want.PG || got.AsText != want.AsText || got.AsJSON != want.AsJSON || got.Array != want.Array || got.Kind != want.Kind || got.OID != want.OID {
				t.Errorf("%s as %s: got %+v, want %+v", f.Name, want.PG, got, want)
			}
		}
		if _, err := TypeFor(f, "box"); err == nil || !strings.Contains(err.Error(), `column "`+f.Name+`"`) || !strings.Contains(err.Error(), `"box"`) {
			t.Errorf("%s as box: %v, want an error naming the column and the type", f.Name, err)
		}
	}
	if differ < 6 {
		t.Errorf("only %d fields differ between the mappings: the test does not cover both", differ)
	}
}
