package batch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/batch"
)

func Example() {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	makeRec := func(from, n int64) arrow.RecordBatch {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for i := from; i < from+n; i++ {
			b.Append(i)
		}
		col := b.NewArray()
		defer col.Release()
		return array.NewRecordBatch(schema, []arrow.Array{col}, n)
	}

	b := batch.New(abi.BatchLimits{Rows: 4, Timeout: time.Minute}, func(_ context.Context, recs []arrow.RecordBatch) error {
		// recs are only valid until this function returns (Retain to keep one).
		var rows []int64
		for _, r := range recs {
			rows = append(rows, r.Column(0).(*array.Int64).Int64Values()...)
		}
		fmt.Println("flush", len(recs), "records:", rows)
		return nil
	})
	ctx := context.Background()
	for _, n := range []int64{3, 3, 3} {
		rec := makeRec(0, n)
		if err := b.Add(ctx, rec); err != nil {
			panic(err)
		}
		rec.Release() // the batcher retains what it keeps
	}
	rows, _ := b.Pending()
	_, hasDeadline := b.Deadline() // a real caller waits on it with a timer
	fmt.Println("pending", rows, "deadline set:", hasDeadline)
	if err := b.Flush(ctx); err != nil {
		panic(err)
	}
	// Output:
	// flush 2 records: [0 1 2 0]
	// flush 2 records: [1 2 0 1]
	// pending 1 deadline set: true
	// flush 1 records: [2]
}
