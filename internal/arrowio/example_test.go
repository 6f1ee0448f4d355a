package arrowio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
)

func Example() {
	dir, err := os.MkdirTemp("", "arrowio-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// Write a small stream: two batches of a table with a primary key and no
	// cq:table_name, so the table is named after the file.
	pk := arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	path := filepath.Join(dir, "users.arrows")
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	w := ipc.NewWriter(f, ipc.WithSchema(schema))
	for _, rows := range []string{`[{"id":1,"name":"ada"},{"id":2,"name":null}]`, `[{"id":3,"name":"alan"}]`} {
		rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(rows))
		if err != nil {
			panic(err)
		}
		if err := w.Write(rec); err != nil {
			panic(err)
		}
		rec.Release()
	}
	w.Close() // writes the end-of-stream marker
	f.Close()

	r, err := arrowio.Open(path, arrowio.DefaultLimits)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	t := r.Table()
	fmt.Println("table:", t.Name, "primary key:", t.PrimaryKeys)
	for {
		rec, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(rec.NumRows(), "rows, names:", rec.Column(1))
		rec.Release() // the caller owns each record
	}

	// Errors name the input and the message.
	_, err = arrowio.NewReader("data.csv", strings.NewReader("id,name\n1,ada\n"), arrowio.DefaultLimits)
	fmt.Println(err)
	// Output:
	// table: users primary key: [id]
	// 2 rows, names: ["ada" (null)]
	// 1 rows, names: ["alan"]
	// data.csv: message 0: not Arrow IPC: the input starts with 69 64 2c 6e 61 6d 65 0a 31 2c 61 64 61 0a ("id,name\n1,ada\n"), which looks like text (CSV?); Arrow IPC starts with ff ff ff ff (stream) or "ARROW1" (file)
}
