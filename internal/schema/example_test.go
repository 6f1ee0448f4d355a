package schema_test

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/schema"
)

func Example() {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"users"})
	in := arrow.NewSchema([]arrow.Field{
		{Name: abi.ColID, Type: arrow.BinaryTypes.String, Metadata: arrow.NewMetadata([]string{abi.MetaUnique}, []string{abi.MetaTrue})},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})},
	}, &md)

	o := schema.Options{
		WriteMode:   abi.WriteModeOverwrite,
		PKMode:      abi.PKModeCQIDOnly,
		SyncGroupID: "2024-05-06",
		SourceName:  "aws",
		SyncTime:    time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
	}
	out, err := schema.Transform(in, o)
	if err != nil {
		panic(err)
	}
	for _, f := range out.Fields() {
		fmt.Println(f.Name, f.Type)
	}
	fmt.Println("primary key:", arrowtypes.PrimaryKeys(out))

	// Turn a source record into a record of the stored schema.
	app, err := schema.NewAppender(out, o, memory.DefaultAllocator)
	if err != nil {
		panic(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, in)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("7c9e6679-7425-40de-944b-e07fc1f90ae7")
	b.Field(1).(*array.Int64Builder).Append(42)
	rec := b.NewRecordBatch()
	defer rec.Release()

	got, err := app.Apply(rec)
	if err != nil {
		panic(err)
	}
	defer got.Release() // the caller owns the result
	// _cq_sync_time prints as microseconds since the epoch.
	for i, f := range got.Schema().Fields() {
		fmt.Printf("%s=%v\n", f.Name, got.Column(i))
	}
	// Output:
	// _cq_sync_time timestamp[us, tz=UTC]
	// _cq_source_name utf8
	// _cq_sync_group_id utf8
	// _cq_id utf8
	// id int64
	// primary key: [_cq_id]
	// _cq_sync_time=[1714979289000000]
	// _cq_source_name=["aws"]
	// _cq_sync_group_id=["2024-05-06"]
	// _cq_id=["7c9e6679-7425-40de-944b-e07fc1f90ae7"]
	// id=[42]
}
