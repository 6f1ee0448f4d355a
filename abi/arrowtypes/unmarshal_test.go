package arrowtypes_test

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// TestJSONRoundTrip writes every extension type with arrow-go's JSON writer
// and reads it back with its JSON reader.
func TestJSONRoundTrip(t *testing.T) {
	arrowtypes.Register()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: arrowtypes.NewUUIDType(), Nullable: true},
		{Name: "j", Type: arrowtypes.NewJSONType(), Nullable: true},
		{Name: "i", Type: arrowtypes.NewInetType(), Nullable: true},
		{Name: "m", Type: arrowtypes.NewMACType(), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*arrowtypes.UUIDBuilder).Append(uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"))
	b.Field(0).AppendNull()
	if err := b.Field(1).(*arrowtypes.JSONBuilder).Append(map[string]any{"a": []any{1.0, "x", nil}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Field(1).(*arrowtypes.JSONBuilder).Append("just a string"); err != nil {
		t.Fatal(err)
	}
	b.Field(2).(*arrowtypes.InetBuilder).Append(netip.MustParsePrefix("192.168.0.0/24"))
	b.Field(2).AppendNull()
	mac, _ := net.ParseMAC("08:00:2b:01:02:03")
	b.Field(3).(*arrowtypes.MACBuilder).Append(mac)
	b.Field(3).AppendNull()
	want := b.NewRecordBatch()
	defer want.Release()

	var buf bytes.Buffer
	if err := array.RecordToJSON(want, &buf); err != nil {
		t.Fatal(err)
	}
	jr := array.NewJSONReader(&buf, schema, array.WithChunk(-1))
	defer jr.Release()
	if !jr.Next() {
		t.Fatalf("nothing read back from %s: %v", buf.String(), jr.Err())
	}
	if got := jr.RecordBatch(); !array.RecordEqual(got, want) {
		t.Errorf("read back\n%v\nwant\n%v", got, want)
	}
}
