package filetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host/conformance"
	format "github.com/wasmdest/wasmdest/internal/codec"
)

// narrowRecord makes n rows of a typical table: a uuid, numbers, text, a
// flag and a timestamp.
func narrowRecord(from, n int) arrow.RecordBatch {
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
	for i := from; i < from+n; i++ {
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

// BenchmarkFormats measures rows/s written through the guest (host IPC
// encoding, the call, the guest's decoding and format writer, the file)
// against the same rows written natively in this process, by the guest's
// own format code (native_rows/s) and by arrow-go's writers used directly
// (arrowgo_rows/s, where they can write the table: arrow/csv cannot write
// structs or times, pqarrow cannot write durations or intervals). Each
// batch is one Write call and one file: the narrow table (7 columns) in 5
// batches of 10000 rows (the default batch_size), the wide one (the
// reference test table) in 2 batches of 5000. Every file is fsynced, by the
// guest and by the baselines. Run:
//
//	go test ./guests/file/filetest -run '^$' -bench Formats -benchtime 3x
func BenchmarkFormats(b *testing.B) {
	g := guest(b)
	wide := testTable()
	tables := []struct {
		name    string
		batches []arrow.RecordBatch
	}{
		{"narrow", []arrow.RecordBatch{narrowRecord(0, 10000), narrowRecord(10000, 10000), narrowRecord(20000, 10000), narrowRecord(30000, 10000), narrowRecord(40000, 10000)}},
		{"wide", []arrow.RecordBatch{conformance.Rows(wide, 0, 5000, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(wide, 5000, 5000, conformance.RowOptions{Nanoseconds: true})}},
	}
	for _, tb := range tables {
		var rows int64
		for _, r := range tb.batches {
			rows += r.NumRows()
		}
		for _, f := range []string{"csv", "json", "parquet"} {
			b.Run(tb.name+"/"+f, func(b *testing.B) {
				ctx := context.Background()
				dir := b.TempDir()
				spec := fmt.Sprintf(`{"path":"g/{{TABLE}}/{{UUID}}.{{FORMAT}}","format":%q}`, f)
				p := newPool(b, g, dir, spec)
				s, err := format.Parse([]byte(spec))
				if err != nil {
					b.Fatal(err)
				}
				schema := tb.batches[0].Schema()
				arrowGo := arrowGoWriter(f, schema)
				var guestT, nativeT, arrowT time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					for _, r := range tb.batches {
						if err := write(ctx, p, nil, "t", r); err != nil {
							b.Fatal(err)
						}
					}
					guestT += time.Since(start)

					start = time.Now()
					for k, r := range tb.batches {
						if err := writeFile(filepath.Join(dir, fmt.Sprintf("native-%d", k)), func(w *bufio.Writer) error {
							fw, err := format.NewWriter(w, schema, &s, "")
							if err != nil {
								return err
							}
							if err := fw.Write(r); err != nil {
								return err
							}
							return fw.Close()
						}); err != nil {
							b.Fatal(err)
						}
					}
					nativeT += time.Since(start)

					if arrowGo != nil {
						start = time.Now()
						for k, r := range tb.batches {
							if err := writeFile(filepath.Join(dir, fmt.Sprintf("arrowgo-%d", k)), func(w *bufio.Writer) error { return arrowGo(w, r) }); err != nil {
								b.Fatal(err)
							}
						}
						arrowT += time.Since(start)
					}
					b.StopTimer()
					os.RemoveAll(filepath.Join(dir, "g"))
					b.StartTimer()
				}
				total := float64(rows) * float64(b.N)
				guestRate, nativeRate := total/guestT.Seconds(), total/nativeT.Seconds()
				b.ReportMetric(guestRate, "guest_rows/s")
				b.ReportMetric(nativeRate, "native_rows/s")
				b.ReportMetric(nativeRate/guestRate, "native/guest")
				if arrowGo != nil {
					b.ReportMetric(total/arrowT.Seconds(), "arrowgo_rows/s")
				}
			})
		}
	}
}

func writeFile(name string, write func(*bufio.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := write(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	// The guest fsyncs every file before naming it; so does the baseline.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// arrowGoWriter writes one file with arrow-go's own writer, or is nil where
// that writer cannot write schema.
func arrowGoWriter(f string, schema *arrow.Schema) func(*bufio.Writer, arrow.RecordBatch) error {
	switch f {
	case "csv":
		if err := format.CheckSchema(schema, format.CSV); err != nil || !plainCSV(schema) {
			return nil
		}
		return func(w *bufio.Writer, r arrow.RecordBatch) error {
			cw := csv.NewWriter(w, schema, csv.WithHeader(true))
			if err := cw.Write(r); err != nil {
				return err
			}
			return cw.Flush()
		}
	case "json":
		return func(w *bufio.Writer, r arrow.RecordBatch) error { return array.RecordToJSON(r, w) }
	case "parquet":
		if _, err := pqarrow.ToParquet(schema, nil, pqarrow.DefaultWriterProps()); err != nil {
			return nil
		}
		return func(w *bufio.Writer, r arrow.RecordBatch) error {
			fw, err := pqarrow.NewFileWriter(schema, w, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				return err
			}
			if err := fw.Write(r); err != nil {
				return err
			}
			return fw.Close()
		}
	}
	return nil
}

// plainCSV reports whether arrow/csv writes every column of schema itself.
func plainCSV(schema *arrow.Schema) bool {
	for _, f := range schema.Fields() {
		switch f.Type.ID() {
		case arrow.STRUCT, arrow.TIME32, arrow.TIME64, arrow.DURATION, arrow.INTERVAL_MONTHS,
			arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO, arrow.LIST, arrow.MAP:
			return false
		}
	}
	return true
}
