//go:build !wasip1

package pgbinary

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// TestCloudQueryMACRoundTrip: "mac" as CloudQuery's SDK writes it (the raw
// address bytes in binary storage) and in text form are stored as macaddr,
// and come back as the raw bytes.
func TestCloudQueryMACRoundTrip(t *testing.T) {
	conn := connect(t)
	arrowtypes.Register()
	s := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrowtypes.NewMACType(), Nullable: true},
		{Name: "ml", Type: arrow.ListOf(arrowtypes.NewMACType()), Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	raw := net.HardwareAddr{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}
	storage := b.Field(0).(*arrowtypes.MACBuilder).StorageBuilder().(*array.BinaryBuilder)
	storage.Append(raw)                         // CloudQuery's encoding
	storage.Append([]byte("cd:ef:01:23:45:67")) // text, as ABI 1.0 said
	storage.AppendNull()
	lb := b.Field(1).(*array.ListBuilder)
	for range 3 {
		lb.Append(true)
		lb.ValueBuilder().(*arrowtypes.MACBuilder).Append(raw)
	}
	rec := b.NewRecordBatch()
	got, err := roundTrip(t, conn, rec)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	if err := conn.QueryRow(t.Context(), "SELECT string_agg(coalesce(m::text, 'null'), ',' ORDER BY ctid) FROM rt").Scan(&text); err != nil {
		t.Fatal(err)
	}
	if text != "01:23:45:67:89:ab,cd:ef:01:23:45:67,null" {
		t.Errorf("PostgreSQL holds %s", text)
	}
	col := got.Column(0) // the storage: the decoder reads StorageSchema
	if ext, ok := col.(array.ExtensionArray); ok {
		col = ext.Storage()
	}
	st := col.(*array.Binary)
	if !bytes.Equal(st.Value(0), raw) || !bytes.Equal(st.Value(1), []byte{0xcd, 0xef, 0x01, 0x23, 0x45, 0x67}) || !col.IsNull(2) {
		t.Errorf("read back %v", col)
	}
	elems := got.Column(1).(*array.List).ListValues()
	if ext, ok := elems.(array.ExtensionArray); ok {
		elems = ext.Storage()
	}
	if v := elems.(*array.Binary).Value(0); !bytes.Equal(v, raw) {
		t.Errorf("list element read back %q, want the raw bytes %q", v, raw)
	}
}

// TestBadInetAndMACAreRowErrors: a value that is no address is an error
// naming the table, column and row, not a panic.
func TestBadInetAndMACAreRowErrors(t *testing.T) {
	arrowtypes.Register()
	for _, c := range []struct {
		dt  arrow.DataType
		bad []byte
	}{
		{arrowtypes.NewInetType(), []byte("not an address")},
		{arrowtypes.NewInetType(), []byte("10.0.0.1/99")},
		{arrowtypes.NewMACType(), []byte("zz:zz")},
		{arrowtypes.NewMACType(), []byte{1, 2, 3, 4, 5, 6, 7, 8}}, // EUI-64: macaddr holds 6 bytes
	} {
		s := arrow.NewSchema([]arrow.Field{{Name: "a", Type: c.dt, Nullable: true}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		st := b.Field(0).(interface{ StorageBuilder() array.Builder }).StorageBuilder().(*array.BinaryBuilder)
		st.AppendNull()
		st.Append(c.bad)
		ty, err := TypeOf(s.Field(0))
		if err != nil {
			t.Fatal(err)
		}
		enc := NewEncoder(s.Fields(), []*Type{ty}, nil, false)
		var out []byte
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s %q: panic %v", c.dt, c.bad, r)
				}
			}()
			out, err = enc.Encode(b.NewRecordBatch(), enc.Header(nil), 1<<20, nil)
		}()
		var re *RowError
		if err == nil || !errors.As(err, &re) || re.Row != 1 || re.Column != "a" {
			t.Errorf("%s %q: got %v, want a row error for row 1 of column a", c.dt, c.bad, err)
		}
		_ = out
		b.Release()
	}
}
