package pgbinary

import (
	"fmt"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkEncode measures the binary COPY encoder natively on the
// CloudQuery-shaped rows of docs/background.md (a guest runs it 5-7x slower).
func BenchmarkEncode(b *testing.B) {
	md := arrow.NewMetadata([]string{ExtNameKey}, []string{"uuid"})
	jmd := arrow.NewMetadata([]string{ExtNameKey}, []string{"json"})
	s := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "src", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "cq", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Metadata: md},
		{Name: "parent", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Metadata: md, Nullable: true},
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "created", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "attrs", Type: arrow.BinaryTypes.Binary, Metadata: jmd, Nullable: true},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, s)
	for i := 0; i < 10000; i++ {
		rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000000000 + i))
		rb.Field(1).(*array.StringBuilder).Append("test-source")
		u := make([]byte, 16)
		u[0] = byte(i)
		rb.Field(2).(*array.FixedSizeBinaryBuilder).Append(u)
		rb.Field(3).(*array.FixedSizeBinaryBuilder).Append(u)
		rb.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("resource-%014d", i))
		rb.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("name of thing %07d", i))
		rb.Field(6).(*array.Int64Builder).Append(int64(i))
		rb.Field(7).(*array.Float64Builder).Append(float64(i) / 3)
		rb.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000000000 + i))
		lb := rb.Field(9).(*array.ListBuilder)
		lb.Append(true)
		for _, tg := range []string{"alpha-1", "beta-2", "gamma"} {
			lb.ValueBuilder().(*array.StringBuilder).Append(tg)
		}
		rb.Field(10).(*array.BinaryBuilder).Append([]byte(fmt.Sprintf(`{"region": "eu-west-%d", "size": %d, "enabled": true}`, i%3, i%1000)))
		rb.Field(11).(*array.BooleanBuilder).Append(true)
	}
	rec := rb.NewRecordBatch()
	var types []*Type
	for _, f := range s.Fields() {
		t, err := TypeOf(f)
		if err != nil {
			b.Fatal(err)
		}
		types = append(types, t)
	}
	if os.Getenv("PERCOL") != "" {
		for c := range s.Fields() {
			b.Run(s.Field(c).Name, func(b *testing.B) {
				sc := arrow.NewSchema([]arrow.Field{s.Field(c)}, nil)
				r := array.NewRecordBatch(sc, []arrow.Array{rec.Column(c)}, rec.NumRows())
				buf := make([]byte, 0, 1<<20)
				for i := 0; i < b.N; i++ {
					enc := NewEncoder(sc.Fields(), types[c:c+1], nil, false)
					buf, _ = enc.Encode(r, buf[:0], 256<<10, func(p []byte) ([]byte, error) { return p[:0], nil })
				}
			})
		}
		return
	}
	buf := make([]byte, 0, 1<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc := NewEncoder(s.Fields(), types, nil, false)
		var err error
		buf, err = enc.Encode(rec, buf[:0], 256<<10, func(p []byte) ([]byte, error) { return p[:0], nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "rows/s")
}
