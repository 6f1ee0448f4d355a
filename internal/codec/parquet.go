package codec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// DefaultCreatedBy is the "created by" of the Parquet files written when
// the writer is given none.
const DefaultCreatedBy = "wasmdest file destination"

// parquetType is the Arrow type a column of dt is written to Parquet as, by
// arrow-go's pqarrow writer (which then picks the Parquet physical and
// logical types). The file's ARROW:schema records these types.
func parquetType(dt arrow.DataType) arrow.DataType {
	switch t := dt.(type) {
	case arrow.ExtensionType:
		switch {
		case arrowtypes.IsUUID(dt):
			return extensions.NewUUIDType() // FIXED_LEN_BYTE_ARRAY(16), logical type UUID
		case arrowtypes.IsJSON(dt):
			jt, err := extensions.NewJSONType(stringLike(t.StorageType())) // BYTE_ARRAY, logical type JSON
			if err == nil {
				return jt
			}
			return stringLike(t.StorageType())
		case arrowtypes.IsInet(dt), arrowtypes.IsMAC(dt):
			return stringLike(t.StorageType()) // BYTE_ARRAY, logical type STRING
		}
		if _, ok := t.(pqarrow.ExtensionCustomParquetType); ok {
			return dt
		}
		return parquetType(t.StorageType())
	case *arrow.DictionaryType:
		return parquetType(t.ValueType) // decoded (widen.go)
	case *arrow.BinaryViewType:
		return arrow.BinaryTypes.Binary
	case *arrow.StringViewType:
		return arrow.BinaryTypes.String
	case *arrow.Decimal32Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	case *arrow.Decimal64Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	case *arrow.DurationType:
		// Parquet has no duration type: an INT64 count of the unit.
		return arrow.PrimitiveTypes.Int64
	case *arrow.MonthIntervalType:
		return arrow.PrimitiveTypes.Int32
	case *arrow.DayTimeIntervalType:
		return dayTimeStruct
	case *arrow.MonthDayNanoIntervalType:
		return monthDayNanoStruct
	case *arrow.StructType:
		fs := make([]arrow.Field, t.NumFields())
		for i, f := range t.Fields() {
			f.Type = parquetType(f.Type)
			fs[i] = f
		}
		return arrow.StructOf(fs...)
	case *arrow.ListType:
		return arrow.ListOfField(parquetElem(t.ElemField()))
	case *arrow.LargeListType:
		return arrow.LargeListOfField(parquetElem(t.ElemField()))
	case *arrow.FixedSizeListType:
		return arrow.FixedSizeListOfField(t.Len(), parquetElem(t.ElemField()))
	case *arrow.MapType:
		k, v := t.KeyField(), t.ItemField()
		k.Type, v.Type = parquetType(k.Type), parquetType(v.Type)
		return arrow.MapOfFields(k, v)
	}
	return dt
}

// parquetElem names list elements "element", as the Parquet LIST logical
// type does, so ARROW:schema and the Parquet schema agree.
func parquetElem(f arrow.Field) arrow.Field {
	f.Name = "element"
	f.Type = parquetType(f.Type)
	return f
}

func parquetSchema(schema *arrow.Schema) *arrow.Schema { return twinSchema(schema, parquetType) }

func parquetProps(s *Spec, createdBy string) (*parquet.WriterProperties, error) {
	version := map[string]parquet.Version{"v1.0": parquet.V1_0, "v2.4": parquet.V2_4, "v2.6": parquet.V2_6, "v2Latest": parquet.V2_LATEST}[s.Parquet.Version]
	rep := map[string]parquet.Repetition{
		"required": parquet.Repetitions.Required, "optional": parquet.Repetitions.Optional, "repeated": parquet.Repetitions.Repeated,
	}[s.Parquet.RootRepetition]
	codec := map[Compression]compress.Compression{None: compress.Codecs.Uncompressed, Gzip: compress.Codecs.Gzip, Zstd: compress.Codecs.Zstd}[s.Compression]
	return parquet.NewWriterProperties(
		parquet.WithVersion(version),
		parquet.WithRootRepetition(rep),
		parquet.WithMaxRowGroupLength(s.Parquet.MaxRowGroupLength),
		parquet.WithCompression(codec),
		parquet.WithCreatedBy(createdBy),
		parquet.WithAllocator(mem),
	), nil
}

// parquetWriter writes one Parquet file with pqarrow. Every Write call adds
// row groups of at most max_row_group_length rows; the footer is written by
// Close, so a file stays valid however many batches it holds.
type parquetWriter struct {
	fw     *pqarrow.FileWriter
	target *arrow.Schema
}

func newParquetWriter(w io.Writer, schema *arrow.Schema, s *Spec, createdBy string) (*parquetWriter, error) {
	props, err := parquetProps(s, createdBy)
	if err != nil {
		return nil, err
	}
	target := parquetSchema(schema)
	opts := []pqarrow.WriterOption{pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()}
	if props.Version() < parquet.V2_6 {
		// Versions before 2.6 have no nanosecond timestamps; pqarrow would
		// truncate them to microseconds. INT96, which Spark, Hive, Impala,
		// DuckDB and pyarrow read as timestamps, keeps the nanoseconds.
		opts = append(opts, pqarrow.WithDeprecatedInt96Timestamps(true))
	}
	aprops := pqarrow.NewArrowWriterProperties(opts...)
	// pqarrow's errors name no column: try each column's type alone first.
	for i, f := range target.Fields() {
		if _, err := pqarrow.ToParquet(arrow.NewSchema([]arrow.Field{f}, nil), props, aprops); err != nil {
			return nil, fmt.Errorf("column %s: type %s cannot be written to parquet files: %w; cast it to a supported type (see the type table in guests/file/README.md)", f.Name, schema.Field(i).Type, err)
		}
	}
	fw, err := pqarrow.NewFileWriter(target, noClose{w}, props, aprops)
	if err != nil {
		return nil, err
	}
	return &parquetWriter{fw: fw, target: target}, nil
}

// noClose hides the file's Close from pqarrow, which would close it.
type noClose struct{ io.Writer }

func (p *parquetWriter) Write(rec arrow.RecordBatch) error {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		c, err := Convert(rec.Column(j), p.target.Field(j).Type)
		if err != nil {
			return fmt.Errorf("column %s: %w", rec.ColumnName(j), err)
		}
		cols[j], err = compactNullLists(c)
		c.Release()
		if err != nil {
			return fmt.Errorf("column %s: %w", rec.ColumnName(j), err)
		}
	}
	out := array.NewRecordBatch(p.target, cols, rec.NumRows())
	defer out.Release()
	return p.fw.Write(out)
}

func (p *parquetWriter) Close() error { return p.fw.Close() }

func readParquet(ctx context.Context, r io.ReaderAt, size int64, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, size), file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readChunk}, mem)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := emitConverted(rr.RecordBatch(), schema, emit); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return err
	}
	return nil
}
