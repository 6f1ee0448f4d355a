package host

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func bodyRecords(t *testing.T) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "kind", Type: dict, Nullable: true},
	}, nil)
	var recs []arrow.RecordBatch
	for r := range 2 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range 3 {
			b.Field(0).(*array.Int64Builder).Append(int64(r*10 + i))
			b.Field(1).(*array.BinaryDictionaryBuilder).AppendString([]string{"a", "b"}[i%2])
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return schema, recs
}

// TestRecordBodyRoundTrip: the body, read in small pieces, is one Arrow IPC
// stream of the schema and every record (dictionaries included), with or
// without records.
func TestRecordBodyRoundTrip(t *testing.T) {
	schema, recs := bodyRecords(t)
	for _, n := range []int{0, 1, 2} {
		b, err := io.ReadAll(iotest.HalfReader(RecordBody(schema, recs[:n]...)))
		if err != nil {
			t.Fatalf("%d records: read: %v", n, err)
		}
		r, err := ipc.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%d records: decode: %v", n, err)
		}
		if !r.Schema().Equal(schema) {
			t.Errorf("%d records: schema %s, want %s", n, r.Schema(), schema)
		}
		got := 0
		for r.Next() {
			if got >= n || !array.RecordEqual(r.RecordBatch(), recs[got]) {
				t.Errorf("%d records: record %d differs: %v", n, got, r.RecordBatch())
			}
			got++
		}
		if r.Err() != nil {
			t.Errorf("%d records: %v", n, r.Err())
		}
		if got != n {
			t.Errorf("%d records: decoded %d", n, got)
		}
		r.Release()
	}
}

// TestRecordBodySchemaComesAlone: the first read of a body returns its
// schema message alone, and no record is encoded until more is read (a
// schema-only guest reads no further).
func TestRecordBodySchemaComesAlone(t *testing.T) {
	schema, recs := bodyRecords(t)
	body := RecordBody(schema, recs...).(*recordBody)
	p := make([]byte, 1<<20)
	n, err := body.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	w := ipc.NewWriter(&want, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p[:n], want.Bytes()[:want.Len()-len(endOfStream)]) {
		t.Errorf("first read: %d bytes, want the %d of the schema message", n, want.Len()-len(endOfStream))
	}
	if body.next != 0 {
		t.Errorf("%d records encoded after reading the schema, want 0", body.next)
	}
}
