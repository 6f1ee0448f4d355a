package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// readBytes is this process's rchar of /proc/self/io: the bytes its read
// system calls returned.
func readBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatalf("/proc/self/io: %v", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("rchar: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/io has no rchar")
	return 0
}

// TestParquetReadsRowGroupByRowGroup: the first records of a Parquet file
// of 16 row groups come after reading a small part of the file, not the
// whole of it (a file larger than memory loads in bounded memory); reading
// every record reads the whole file.
func TestParquetReadsRowGroupByRowGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts reads through /proc/self/io (Linux)")
	}
	const groups, rows = 16, 20000
	p := filepath.Join(t.TempDir(), "big.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed),
		parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(rows)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g < groups; g++ {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		for i := 0; i < rows; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(g*rows + i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row %012d of the table, padded to about sixty bytes", g*rows+i))
		}
		rec := b.NewRecordBatch()
		if err := w.WriteBuffered(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
		w.NewBufferedRowGroup()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()

	before := readBytes(t)
	ins, err := NewOpener(Options{Chunk: 5000}).Open(p)
	if err != nil {
		t.Fatal(err)
	}
	in := ins[0]
	defer in.Close()
	var total int64
	rec, err := in.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total += rec.NumRows()
	rec.Release()
	first := readBytes(t) - before
	if first > size/4 {
		t.Errorf("the first record took reading %d bytes of a %d-byte file of %d row groups: not row group by row group", first, size, groups)
	}
	for {
		rec, err := in.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += rec.NumRows()
		rec.Release()
	}
	all := readBytes(t) - before
	if total != groups*rows {
		t.Errorf("read %d rows, want %d", total, groups*rows)
	}
	if all < size*9/10 {
		t.Errorf("reading every row read %d bytes of a %d-byte file: the count misses reads", all, size)
	}
	t.Logf("file %d bytes; first record after %d bytes read, all after %d", size, first, all)
}
