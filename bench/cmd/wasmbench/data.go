package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/batch"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// table is the name of the benchmark table in every destination.
const table = "bench"

// genBatch is the rows per generated record: the postgres guest's default
// batch_size, so that records and batches line up on both sides.
const genBatch = 10000

func meta(kv ...string) arrow.Metadata {
	var k, v []string
	for i := 0; i < len(kv); i += 2 {
		k, v = append(k, kv[i]), append(v, kv[i+1])
	}
	return arrow.NewMetadata(k, v)
}

// sourceSchema is the CloudQuery-shaped table of docs/background.md as a source
// sends it: the host adds _cq_sync_time and _cq_source_name (12 columns).
func sourceSchema() *arrow.Schema {
	md := meta(abi.MetaTableName, table)
	f := func(name string, t arrow.DataType, nullable bool, kv ...string) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: nullable, Metadata: meta(kv...)}
	}
	return arrow.NewSchema([]arrow.Field{
		f(abi.ColID, arrowtypes.NewUUIDType(), false, abi.MetaUnique, abi.MetaTrue),
		f(abi.ColParentID, arrowtypes.NewUUIDType(), true),
		f("id", arrow.BinaryTypes.String, false, abi.MetaPrimaryKey, abi.MetaTrue),
		f("name", arrow.BinaryTypes.String, true),
		f("count", arrow.PrimitiveTypes.Int64, true),
		f("ratio", arrow.PrimitiveTypes.Float64, true),
		f("created_at", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, true),
		f("tags", arrow.ListOf(arrow.BinaryTypes.String), true),
		f("attrs", arrowtypes.NewJSONType(), true),
		f("active", arrow.FixedWidthTypes.Boolean, true),
	}, &md)
}

// gen makes the rows of the dataset: row i is the same whatever the batch
// it is made in. seed changes the _cq_ids and values, not the keys: a
// previous sync of the same resources.
type gen struct{ seed uint64 }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g gen) uuid(i int, which uint64) uuid.UUID {
	var u uuid.UUID
	a := splitmix(g.seed*0x100000001b3 ^ uint64(i)<<2 ^ which)
	binary.LittleEndian.PutUint64(u[:8], a)
	binary.LittleEndian.PutUint64(u[8:], splitmix(a))
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

var created = time.Date(2025, 11, 21, 6, 0, 0, 0, time.UTC)

// record returns rows [from, from+n) as a source record.
func (g gen) record(from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sourceSchema())
	defer b.Release()
	for _, f := range b.Fields() {
		f.Reserve(n)
	}
	cq := b.Field(0).(*arrowtypes.UUIDBuilder)
	parent := b.Field(1).(*arrowtypes.UUIDBuilder)
	id := b.Field(2).(*array.StringBuilder)
	name := b.Field(3).(*array.StringBuilder)
	count := b.Field(4).(*array.Int64Builder)
	ratio := b.Field(5).(*array.Float64Builder)
	at := b.Field(6).(*array.TimestampBuilder)
	tags := b.Field(7).(*array.ListBuilder)
	tagv := tags.ValueBuilder().(*array.StringBuilder)
	attrs := b.Field(8).(*arrowtypes.JSONBuilder)
	active := b.Field(9).(*array.BooleanBuilder)
	var buf []byte
	for i := from; i < from+n; i++ {
		v := int64(i) + int64(g.seed)*7
		cq.Append(g.uuid(i, 0))
		parent.Append(g.uuid(i, 1))
		buf = strconv.AppendInt(append(buf[:0], "resource-"...), int64(i)+1e14, 10)
		buf[len("resource-")] = '0' // "resource-" and 14 digits, zero-padded
		id.BinaryBuilder.Append(buf)
		buf = strconv.AppendInt(append(buf[:0], "name of thing "...), v, 10)
		name.BinaryBuilder.Append(buf)
		count.Append(v)
		ratio.Append(float64(v) / 3)
		at.Append(arrow.Timestamp(created.Add(time.Duration(i) * time.Second).UnixMicro()))
		tags.Append(true)
		buf = strconv.AppendInt(append(buf[:0], "alpha-"...), int64(i%7), 10)
		tagv.BinaryBuilder.Append(buf)
		buf = strconv.AppendInt(append(buf[:0], "beta-"...), int64(i%11), 10)
		tagv.BinaryBuilder.Append(buf)
		tagv.Append("gamma")
		buf = strconv.AppendInt(append(buf[:0], `{"region": "eu-west-`...), int64(i%3), 10)
		buf = strconv.AppendInt(append(buf, `", "size": `...), v%1000, 10)
		buf = append(buf, `, "enabled": true}`...)
		if err := attrs.AppendRaw(buf); err != nil {
			panic(err)
		}
		active.Append(i%2 == 0)
	}
	return b.NewRecordBatch()
}

// genInput is a syncer.Input that makes its records as they are read, so
// that any number of rows streams in constant memory. It counts the time
// spent making them.
type genInput struct {
	g          gen
	rows, next int
	spent      time.Duration
}

func (in *genInput) Table() arrowio.Table {
	return arrowio.Table{Name: table, Schema: sourceSchema()}
}

func (in *genInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.next >= in.rows {
		return nil, io.EOF
	}
	start := time.Now()
	n := min(genBatch, in.rows-in.next)
	rec := in.g.record(in.next, n)
	in.next += n
	in.spent += time.Since(start)
	return rec, nil
}

func (in *genInput) Close() error { return nil }

// dataset is the benchmark's rows, made once before anything is timed: as
// an Arrow IPC file (what wasmdest reads), as the records the host sends
// guests (for the native file writers) and as Go values (for pgx).
type dataset struct {
	rows  int
	bytes int64 // Arrow buffer bytes of the source records: the MB of MB/s
	file  string
	// wanted are the records with the internal columns, as the host sends
	// them to guests (append mode).
	wanted []arrow.RecordBatch
	// values are the rows for pgx, in the order of cols.
	values [][]any
	cols   []string
}

func (d *dataset) release() {
	for _, r := range d.wanted {
		r.Release()
	}
	os.Remove(d.file)
}

// makeDataset generates n rows (seed 1) under sync options o.
func makeDataset(path string, n int, o schema.Options) (*dataset, error) {
	d := &dataset{rows: n, file: path}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sourceSchema()))
	if err != nil {
		return nil, err
	}
	wanted, err := schema.Transform(sourceSchema(), o)
	if err != nil {
		return nil, err
	}
	app, err := schema.NewAppender(wanted, o, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	for _, fl := range wanted.Fields() {
		d.cols = append(d.cols, fl.Name)
	}
	g := gen{seed: 1}
	for from := 0; from < n; from += genBatch {
		rec := g.record(from, min(genBatch, n-from))
		d.bytes += batch.RecordSize(rec)
		if err := w.Write(rec); err != nil {
			rec.Release()
			return nil, err
		}
		out, err := app.Apply(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
		d.wanted = append(d.wanted, out)
		d.values = append(d.values, goValues(out)...)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return d, f.Close()
}

// goValues converts a record of the wanted schema to rows of Go values as
// pgx encodes them.
func goValues(rec arrow.RecordBatch) [][]any {
	n := int(rec.NumRows())
	out := make([][]any, n)
	for i := range out {
		out[i] = make([]any, rec.NumCols())
	}
	for c, col := range rec.Columns() {
		for i := 0; i < n; i++ {
			if col.IsNull(i) {
				continue
			}
			var v any
			switch a := col.(type) {
			case *arrowtypes.UUIDArray:
				v = a.Value(i)
			case *arrowtypes.JSONArray:
				v = a.ValueStr(i) // raw JSON text: pgx sends a string to jsonb as is
			case *array.String:
				v = a.Value(i)
			case *array.Int64:
				v = a.Value(i)
			case *array.Float64:
				v = a.Value(i)
			case *array.Boolean:
				v = a.Value(i)
			case *array.Timestamp:
				v = a.Value(i).ToTime(arrow.Microsecond)
			case *array.List:
				s, e := a.ValueOffsets(i)
				vals := a.ListValues().(*array.String)
				tags := make([]string, 0, e-s)
				for j := s; j < e; j++ {
					tags = append(tags, vals.Value(int(j)))
				}
				v = tags
			default:
				panic(fmt.Sprintf("goValues: column %d: %T", c, col))
			}
			out[i][c] = v
		}
	}
	return out
}

// rowSource is a pgx.CopyFromSource of generated rows [from, to) under
// sync options o, made as they are copied (for preloading tables).
type rowSource struct {
	g        gen
	o        schema.Options
	app      *schema.Appender
	from, to int
	cur      [][]any
	err      error
}

func newRowSource(g gen, o schema.Options, from, to int) (*rowSource, error) {
	wanted, err := schema.Transform(sourceSchema(), o)
	if err != nil {
		return nil, err
	}
	app, err := schema.NewAppender(wanted, o, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	return &rowSource{g: g, o: o, app: app, from: from, to: to}, nil
}

func (s *rowSource) Next() bool {
	if len(s.cur) > 1 {
		s.cur = s.cur[1:]
		return true
	}
	if s.from >= s.to {
		return false
	}
	n := min(genBatch, s.to-s.from)
	rec := s.g.record(s.from, n)
	out, err := s.app.Apply(rec)
	rec.Release()
	if err != nil {
		s.err = err
		return false
	}
	s.cur = goValues(out)
	out.Release()
	s.from += n
	return true
}

func (s *rowSource) Values() ([]any, error) { return s.cur[0], nil }
func (s *rowSource) Err() error             { return s.err }

// runGen is `wasmbench gen -rows N`: it writes N rows of the dataset (the
// rows the scaling runs make on the fly) to w as one Arrow IPC stream, made
// record by record, never all in memory, for measuring `wasmdest run` on
// any number of rows without a file of them: `wasmbench gen -rows 10000000
// | wasmdest run --input - ...`.
func runGen(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "rows to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	arrowtypes.Register()
	bw := bufio.NewWriterSize(w, 1<<20)
	iw := ipc.NewWriter(bw, ipc.WithSchema(sourceSchema()))
	g := gen{seed: 1}
	for from := 0; from < *rows; from += genBatch {
		rec := g.record(from, min(genBatch, *rows-from))
		err := iw.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	if err := iw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
