package codec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Writer writes record batches of one schema as one file's content.
type Writer interface {
	// Write appends the rows of rec, whose schema is the writer's.
	Write(rec arrow.RecordBatch) error
	// Close ends the content (Parquet footer, compression trailer). It does
	// not close the io.Writer the Writer was made with.
	Close() error
}

// NewWriter returns a Writer of s.Format and s.Compression on w. It checks
// up front that every column's type can be written. createdBy is the
// "created by" of Parquet files; "" means DefaultCreatedBy.
func NewWriter(w io.Writer, schema *arrow.Schema, s *Spec, createdBy string) (Writer, error) {
	if createdBy == "" {
		createdBy = DefaultCreatedBy
	}
	if err := CheckSchema(schema, s.Format); err != nil {
		return nil, err
	}
	if s.Format == Parquet {
		return newParquetWriter(w, schema, s, createdBy)
	}
	cw, err := compressWriter(w, s.Compression)
	if err != nil {
		return nil, err
	}
	var fw Writer
	switch s.Format {
	case CSV:
		fw = csvWriter{newCSVWriter(cw, schema, s.CSV)}
	default:
		fw = newJSONWriter(cw, schema)
	}
	return &compressed{Writer: fw, c: cw}, nil
}

// compressed closes the format writer, then the compression stream.
type compressed struct {
	Writer
	c io.WriteCloser
}

func (c *compressed) Close() error { return errors.Join(c.Writer.Close(), c.c.Close()) }

// CheckSchema reports the first column whose type format f cannot hold.
func CheckSchema(schema *arrow.Schema, f Format) error {
	for _, fd := range schema.Fields() {
		if err := checkType(fd.Type, f); err != nil {
			return fmt.Errorf("column %s: %w", fd.Name, err)
		}
	}
	return nil
}

func checkType(dt arrow.DataType, f Format) error {
	switch dt.ID() {
	case arrow.SPARSE_UNION, arrow.DENSE_UNION, arrow.RUN_END_ENCODED, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW:
		return fmt.Errorf("type %s cannot be written to %s files; cast it to a supported type (see the type table in guests/file/README.md)", dt, f)
	case arrow.STRUCT:
		for _, c := range dt.(*arrow.StructType).Fields() {
			if err := checkType(c.Type, f); err != nil {
				return err
			}
		}
		if f == Parquet && dt.(*arrow.StructType).NumFields() == 0 {
			return fmt.Errorf("a struct with no fields cannot be written to parquet files")
		}
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.MAP:
		return checkType(dt.(arrow.ListLikeType).Elem(), f)
	}
	return nil
}

func compressWriter(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewWriter(w), nil
	case Zstd:
		// One goroutine: a guest has one thread anyway.
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	}
	return nopCloser{w}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func decompressReader(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewReader(r)
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// Read reads a whole file written by a Writer of s with schema, and emits
// its rows as record batches of schema: the original Arrow types, whatever
// the format stores them as. CSV and JSON Lines are read from r, Parquet
// from ra (size bytes).
func Read(ctx context.Context, r io.Reader, ra io.ReaderAt, size int64, schema *arrow.Schema, s *Spec, emit func(arrow.RecordBatch) error) error {
	if s.Format == Parquet {
		return readParquet(ctx, ra, size, schema, emit)
	}
	dr, err := decompressReader(r, s.Compression)
	if err != nil {
		return err
	}
	defer dr.Close()
	if s.Format == CSV {
		return readCSV(dr, schema, s.CSV, emit)
	}
	return readJSON(dr, schema, emit)
}

// Project returns rec with the columns of schema, matched by name: a column
// rec lacks is all nulls, and types are converted (see Convert).
func Project(rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	if rec.Schema().Equal(schema) {
		rec.Retain()
		return rec, nil
	}
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j, f := range schema.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			cols[j] = array.MakeArrayOfNull(mem, f.Type, int(rec.NumRows()))
			continue
		}
		c, err := Convert(rec.Column(idx[0]), f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols[j] = c
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}
