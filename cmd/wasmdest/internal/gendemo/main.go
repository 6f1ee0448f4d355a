// Command gendemo writes the small CloudQuery-shaped Arrow dataset that
// `wasmdest demo` embeds: go run ./cmd/wasmdest/internal/gendemo cmd/wasmdest/demodata
package main

import (
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: gendemo DIR")
	}
	arrowtypes.Register()
	rng := rand.New(rand.NewPCG(1, 2))
	if err := write(filepath.Join(os.Args[1], "demo_users.arrows"), users(rng, 500)); err != nil {
		log.Fatal(err)
	}
	if err := write(filepath.Join(os.Args[1], "demo_orders.arrows"), orders(rng, 2000)); err != nil {
		log.Fatal(err)
	}
}

var pk = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})

func table(name string, fields ...arrow.Field) *arrow.Schema {
	return arrow.NewSchema(fields, ptr(arrow.NewMetadata([]string{abi.MetaTableName}, []string{name})))
}

func ptr[T any](v T) *T { return &v }

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func users(rng *rand.Rand, n int) arrow.RecordBatch {
	s := table("demo_users",
		arrow.Field{Name: "_cq_id", Type: arrowtypes.NewUUIDType()},
		arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		arrow.Field{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		arrow.Field{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		arrow.Field{Name: "attrs", Type: arrowtypes.NewJSONType(), Nullable: true},
		arrow.Field{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	names := []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances"}
	tags := []string{"admin", "beta", "eu", "us", "trial", "paid"}
	for i := 0; i < n; i++ {
		id := uuid.UUID{}
		for j := range id {
			id[j] = byte(rng.IntN(256))
		}
		b.Field(0).(*arrowtypes.UUIDBuilder).Append(id)
		b.Field(1).(*array.Int64Builder).Append(int64(i + 1))
		name := names[rng.IntN(len(names))]
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("%s %d", name, i))
		if i%7 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("user%d@example.com", i))
		}
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(rng.IntN(365*24)) * time.Hour).UnixMicro()))
		lb := b.Field(5).(*array.ListBuilder)
		lb.Append(true)
		for j := 0; j < 1+rng.IntN(3); j++ {
			lb.ValueBuilder().(*array.StringBuilder).Append(tags[rng.IntN(len(tags))])
		}
		if err := b.Field(6).(*arrowtypes.JSONBuilder).Append(map[string]any{"plan": tags[rng.IntN(len(tags))], "seats": rng.IntN(50)}); err != nil {
			log.Fatal(err)
		}
		b.Field(7).(*array.BooleanBuilder).Append(rng.IntN(4) != 0)
		b.Field(8).(*array.Float64Builder).Append(float64(rng.IntN(10000)) / 100)
	}
	return b.NewRecordBatch()
}

func orders(rng *rand.Rand, n int) arrow.RecordBatch {
	s := table("demo_orders",
		arrow.Field{Name: "order_id", Type: arrow.BinaryTypes.String, Metadata: pk},
		arrow.Field{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		arrow.Field{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "ordered_on", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		arrow.Field{Name: "items", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	cur := []string{"EUR", "USD", "GBP"}
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("ord-%06d", i+1))
		b.Field(1).(*array.Int64Builder).Append(int64(1 + rng.IntN(500)))
		b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(rng.IntN(1000000))))
		b.Field(3).(*array.StringBuilder).Append(cur[rng.IntN(len(cur))])
		b.Field(4).(*array.Date32Builder).Append(arrow.Date32FromTime(base.AddDate(0, 0, rng.IntN(365))))
		b.Field(5).(*array.Int32Builder).Append(int32(1 + rng.IntN(9)))
	}
	return b.NewRecordBatch()
}

func write(path string, rec arrow.RecordBatch) error {
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := ipc.NewWriter(f, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
