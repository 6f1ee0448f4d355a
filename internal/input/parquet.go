package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"

	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// parquetBuffer is the buffered-stream size of column reads: a column chunk
// is read this much at a time instead of whole.
const parquetBuffer = 1 << 20

// parquetInput reads a Parquet file Chunk rows at a time.
type parquetInput struct {
	name  string
	table arrowio.Table
	pf    *file.Reader
	rr    pqarrow.RecordReader
	// jsonCols are the columns read as their storage that the table's
	// schema has as the json extension type.
	jsonCols []int
	// spool is a temporary copy of a compressed or piped input, removed
	// on Close.
	spool string
	// closers are the caller's (the source file) to close with it.
	closers []io.Closer
}

func (o *Opener) openParquet(name, path string, r io.Reader, compressed, table string, closers []io.Closer) (in Input, err error) {
	p := &parquetInput{name: name, closers: closers}
	defer func() {
		if err != nil {
			p.closeOwn()
		}
	}()
	// Parquet needs random access: a plain file is read in place; stdin or
	// a compressed file is copied to a temporary file first.
	src := path
	if path == "-" || compressed != "" {
		f, err := os.CreateTemp("", "wasmdest-input-*.parquet")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.spool = f.Name()
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: copying to a temporary file: %w", name, err)
		}
		src = p.spool
	}
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBuffer
	if err := protect(func() error {
		p.pf, err = file.OpenParquetFile(src, false, file.WithReadProps(props))
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", name, err)
	}
	var fr *pqarrow.FileReader
	if err := protect(func() error {
		fr, err = pqarrow.NewFileReader(p.pf, pqarrow.ArrowReadProperties{BatchSize: int64(o.opts.Chunk)}, memory.DefaultAllocator)
		if err != nil {
			return err
		}
		p.rr, err = fr.GetRecordReader(context.Background(), nil, nil)
		return err
	}); err != nil {
		return nil, fmt.Errorf("%s: Parquet schema: %w", name, err)
	}
	sc, jsonCols := withJSONColumns(p.rr.Schema(), fr)
	p.jsonCols = jsonCols
	if p.table, err = tableFrom(name, sc, table); err != nil {
		return nil, err
	}
	return p, nil
}

// withJSONColumns returns sc with the top-level binary and string columns
// whose Parquet logical type is JSON as the json extension type (pqarrow
// reads them as their storage), and their indices.
func withJSONColumns(sc *arrow.Schema, fr *pqarrow.FileReader) (*arrow.Schema, []int) {
	var cols []int
	fields := sc.Fields()
	for i, f := range fields {
		if i >= len(fr.Manifest.Fields) {
			break
		}
		leaf := fr.Manifest.Fields[i].ColIndex
		if leaf < 0 || leaf >= fr.ParquetReader().MetaData().Schema.NumColumns() {
			continue
		}
		lt := fr.ParquetReader().MetaData().Schema.Column(leaf).LogicalType()
		if lt == nil || !lt.Equals(schema.JSONLogicalType{}) {
			continue
		}
		switch f.Type.ID() {
		case arrow.BINARY, arrow.STRING:
			fields[i].Type = arrowtypes.NewJSONType()
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 {
		return sc, nil
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md), cols
}

// protect turns a panic of arrow-go on a malformed file into an error.
func protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed input (arrow-go panicked: %v)", r)
		}
	}()
	return fn()
}

func (p *parquetInput) Table() arrowio.Table { return p.table }

func (p *parquetInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rec arrow.RecordBatch
	err := protect(func() error {
		var err error
		rec, err = p.rr.Read()
		return err
	})
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	if rec == nil {
		return nil, io.EOF
	}
	if err := array.ValidateRecordFull(rec); err != nil {
		return nil, fmt.Errorf("%s: invalid data: %w", p.name, err)
	}
	// The reader's schema has no cq:table_name when the name came from
	// the file's place, and JSON columns as their storage: give the
	// records the table's schema.
	if !rec.Schema().Equal(p.table.Schema) {
		cols := slices.Clone(rec.Columns())
		var made []arrow.Array
		for _, i := range p.jsonCols {
			data := cols[i].Data()
			if cols[i].DataType().ID() == arrow.STRING {
				data = array.NewData(arrow.BinaryTypes.Binary, data.Len(), data.Buffers(), nil, data.NullN(), data.Offset())
				defer data.Release()
			}
			storage := array.MakeFromData(data)
			ext := array.NewExtensionArrayWithStorage(arrowtypes.NewJSONType(), storage)
			storage.Release()
			made = append(made, ext)
			cols[i] = ext
		}
		out := array.NewRecordBatch(p.table.Schema, cols, rec.NumRows())
		for _, a := range made {
			a.Release()
		}
		return out, nil
	}
	rec.Retain()
	return rec, nil
}

func (p *parquetInput) closeOwn() {
	if p.rr != nil {
		p.rr.Release()
		p.rr = nil
	}
	if p.pf != nil {
		p.pf.Close()
		p.pf = nil
	}
	if p.spool != "" {
		os.Remove(p.spool)
		p.spool = ""
	}
}

func (p *parquetInput) Close() error {
	p.closeOwn()
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i].Close()
	}
	p.closers = nil
	return nil
}
