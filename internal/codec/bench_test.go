package codec

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

func narrow(n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "_cq_id", Type: arrowtypes.NewUUIDType()},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "created", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		b.Field(0).(*arrowtypes.UUIDBuilder).Append(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d", i)))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("resource %d, \"quoted\" name", i))
		b.Field(3).(*array.Float64Builder).Append(float64(i) / 7)
		b.Field(4).(*array.BooleanBuilder).Append(i%3 == 0)
		b.Field(5).(*array.Int32Builder).Append(int32(i % 1000))
		ts, _ := arrow.TimestampFromTime(base.Add(time.Duration(i)*time.Second), arrow.Microsecond)
		b.Field(6).(*array.TimestampBuilder).Append(ts)
	}
	return b.NewRecordBatch()
}

func BenchmarkWriters(b *testing.B) {
	rec := narrow(10000)
	for _, f := range []string{"csv", "json", "parquet"} {
		for c := 0; c < rec.Schema().NumFields(); c++ {
			sc := arrow.NewSchema([]arrow.Field{rec.Schema().Field(c)}, nil)
			r := array.NewRecordBatch(sc, []arrow.Array{rec.Column(c)}, rec.NumRows())
			b.Run(f+"/"+sc.Field(0).Name, func(b *testing.B) {
				s, _ := Parse([]byte(`{"path":"{{UUID}}","format":"` + f + `"}`))
				for i := 0; i < b.N; i++ {
					w, err := NewWriter(io.Discard, sc, &s, "")
					if err != nil {
						b.Fatal(err)
					}
					if err := w.Write(r); err != nil {
						b.Fatal(err)
					}
					w.Close()
				}
			})
		}
	}
}
