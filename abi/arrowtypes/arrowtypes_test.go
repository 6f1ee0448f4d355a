package arrowtypes_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// roundTrip writes rec as an IPC stream and reads it back.
func roundTrip(t *testing.T, mem memory.Allocator, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(&buf, ipc.WithAllocator(mem)), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	got, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	got.Retain()
	return got
}

func TestRoundTripAllTypes(t *testing.T) {
	arrowtypes.Register()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	u1 := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	ub := arrowtypes.NewUUIDBuilder(mem)
	ub.Append(u1)
	ub.AppendNull()
	if err := ub.AppendValueFromString("00000000-0000-0000-0000-000000000001"); err != nil {
		t.Fatal(err)
	}
	if err := ub.AppendValueFromString("not-a-uuid"); err == nil {
		t.Fatal("bad uuid accepted")
	}
	jb := arrowtypes.NewJSONBuilder(mem)
	if err := jb.Append(map[string]any{"a": "<b>"}); err != nil {
		t.Fatal(err)
	}
	jb.AppendNull()
	if err := jb.AppendRaw([]byte(`[1,2,3]`)); err != nil {
		t.Fatal(err)
	}
	if err := jb.AppendRaw([]byte(`{`)); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	ib := arrowtypes.NewInetBuilder(mem)
	ib.Append(netip.MustParsePrefix("192.168.0.1/24"))
	ib.AppendNull()
	if err := ib.AppendValueFromString("2001:db8::1"); err != nil {
		t.Fatal(err)
	}
	if err := ib.AppendValueFromString("300.1.1.1"); err == nil {
		t.Fatal("bad inet accepted")
	}
	mb := arrowtypes.NewMACBuilder(mem)
	hw, _ := net.ParseMAC("01:23:45:67:89:AB")
	mb.Append(hw)
	mb.AppendNull()
	if err := mb.AppendValueFromString("08-00-2b-01-02-03"); err != nil {
		t.Fatal(err)
	}
	cub := extensions.NewUUIDBuilder(mem)
	cub.Append(u1)
	cub.AppendNull()
	cub.Append(uuid.Nil)

	cols := []arrow.Array{ub.NewArray(), jb.NewArray(), ib.NewArray(), mb.NewArray(), cub.NewArray()}
	for _, b := range []interface{ Release() }{ub, jb, ib, mb, cub} {
		b.Release()
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: []string{"u", "j", "i", "m", "cu"}[i], Type: c.DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 3)
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()

	got := roundTrip(t, mem, rec)
	defer got.Release()

	if !got.Schema().Equal(rec.Schema()) {
		t.Fatalf("schema changed:\n%s\n%s", got.Schema(), rec.Schema())
	}
	checks := []struct {
		is   func(arrow.DataType) bool
		want []string
	}{
		{arrowtypes.IsUUID, []string{u1.String(), array.NullValueStr, "00000000-0000-0000-0000-000000000001"}},
		{arrowtypes.IsJSON, []string{`{"a":"<b>"}`, array.NullValueStr, `[1,2,3]`}},
		{arrowtypes.IsInet, []string{"192.168.0.1/24", array.NullValueStr, "2001:db8::1"}},
		{arrowtypes.IsMAC, []string{"01:23:45:67:89:ab", array.NullValueStr, "08:00:2b:01:02:03"}},
		{arrowtypes.IsUUID, []string{u1.String(), array.NullValueStr, uuid.Nil.String()}},
	}
	for i, c := range checks {
		col := got.Column(i)
		if !c.is(col.DataType()) {
			t.Errorf("column %d: %s not recognised", i, col.DataType())
		}
		for j, w := range c.want {
			if s := col.ValueStr(j); s != w {
				t.Errorf("column %d row %d: got %q want %q", i, j, s, w)
			}
		}
		if !array.Equal(col, rec.Column(i)) {
			t.Errorf("column %d differs after round trip", i)
		}
	}
	if v := got.Column(0).(*arrowtypes.UUIDArray).Value(0); v != u1 {
		t.Errorf("uuid value %s", v)
	}
	js, err := got.Column(1).(json.Marshaler).MarshalJSON()
	if err != nil || string(js) != `[{"a":"<b>"},null,[1,2,3]]` {
		t.Errorf("json marshal: %s %v", js, err)
	}
	if s := got.Column(2).String(); s != `["192.168.0.1/24" (null) "2001:db8::1"]` {
		t.Errorf("String(): %s", s)
	}
}

// A column written by CloudQuery arrives as storage plus the extension
// metadata keys; with the types registered it must decode as the type.
func TestDecodesCloudQueryMetadata(t *testing.T) {
	arrowtypes.Register()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cases := []struct {
		name, meta string
		storage    arrow.DataType
		values     []string
		is         func(arrow.DataType) bool
	}{
		{abi.ExtInet, "inet-serialized", arrow.BinaryTypes.String, []string{"10.0.0.1/8"}, arrowtypes.IsInet},
		{abi.ExtMAC, "", arrow.BinaryTypes.Binary, []string{"aa:bb:cc:dd:ee:ff"}, arrowtypes.IsMAC},
		{abi.ExtJSON, "json-serialized", arrow.BinaryTypes.LargeBinary, []string{`{"x":1}`}, arrowtypes.IsJSON},
	}
	for _, c := range cases {
		b := array.NewBuilder(mem, c.storage)
		for _, v := range c.values {
			switch sb := b.(type) {
			case *array.StringBuilder:
				sb.Append(v)
			case *array.BinaryBuilder: // binary and large_binary
				sb.AppendString(v)
			default:
				t.Fatalf("builder %T", b)
			}
		}
		arr := b.NewArray()
		b.Release()
		md := arrow.NewMetadata([]string{"ARROW:extension:name", "ARROW:extension:metadata"}, []string{c.name, c.meta})
		schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: c.storage, Nullable: true, Metadata: md}}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
		arr.Release()
		got := roundTrip(t, mem, rec)
		rec.Release()
		if !c.is(got.Column(0).DataType()) {
			t.Errorf("%s: decoded as %s", c.name, got.Column(0).DataType())
		} else if s := got.Column(0).ValueStr(0); s != c.values[0] {
			t.Errorf("%s: value %q", c.name, s)
		}
		got.Release()
	}
}

func TestRegisterIdempotentAndConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); arrowtypes.Register() }()
	}
	wg.Wait()
	arrowtypes.Register()
	for _, name := range []string{abi.ExtUUID, abi.ExtJSON, abi.ExtInet, abi.ExtMAC, abi.ExtCanonicalUUID, abi.ExtCanonicalJSON} {
		if arrow.GetExtensionType(name) == nil {
			t.Errorf("%s not registered", name)
		}
	}
	if _, ok := arrow.GetExtensionType(abi.ExtUUID).(*arrowtypes.UUIDType); !ok {
		t.Errorf("uuid registered as %T", arrow.GetExtensionType(abi.ExtUUID))
	}
}

func TestIsHelpers(t *testing.T) {
	cj, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]arrow.DataType{
		"uuid": arrowtypes.NewUUIDType(), "arrow.uuid": extensions.NewUUIDType(),
		"json": arrowtypes.NewJSONType(), "arrow.json": cj,
		"inet": arrowtypes.NewInetType(), "mac": arrowtypes.NewMACType(),
		"fsb16": &arrow.FixedSizeBinaryType{ByteWidth: 16}, "binary": arrow.BinaryTypes.Binary,
		"utf8": arrow.BinaryTypes.String, "bool8": extensions.NewBool8Type(),
	}
	want := map[string][4]bool{ // IsUUID, IsJSON, IsInet, IsMAC
		"uuid": {true, false, false, false}, "arrow.uuid": {true, false, false, false},
		"json": {false, true, false, false}, "arrow.json": {false, true, false, false},
		"inet": {false, false, true, false}, "mac": {false, false, false, true},
	}
	for name, dt := range types {
		got := [4]bool{arrowtypes.IsUUID(dt), arrowtypes.IsJSON(dt), arrowtypes.IsInet(dt), arrowtypes.IsMAC(dt)}
		if got != want[name] {
			t.Errorf("%s: got %v want %v", name, got, want[name])
		}
	}
	if arrowtypes.IsUUID(nil) || arrowtypes.IsJSON(nil) {
		t.Error("nil recognised")
	}
}

func TestDeserializeRejects(t *testing.T) {
	if _, err := arrowtypes.NewUUIDType().Deserialize(&arrow.FixedSizeBinaryType{ByteWidth: 8}, ""); err == nil {
		t.Error("uuid on fsb(8) accepted")
	}
	if _, err := arrowtypes.NewUUIDType().Deserialize(&arrow.FixedSizeBinaryType{ByteWidth: 16}, "nope"); err == nil {
		t.Error("uuid with foreign metadata accepted")
	}
	if _, err := arrowtypes.NewJSONType().Deserialize(arrow.PrimitiveTypes.Int64, ""); err == nil {
		t.Error("json on int64 accepted")
	}
	for _, et := range arrowtypes.Types() {
		got, err := et.Deserialize(et.StorageType(), et.Serialize())
		if err != nil || !arrow.TypeEqual(got, et) {
			t.Errorf("%s: Deserialize(Serialize()) = %v, %v", et.ExtensionName(), got, err)
		}
	}
}
