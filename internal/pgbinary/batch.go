package pgbinary

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
)

// TypeFor returns how the values of field f are stored as the PostgreSQL
// type pg, named as format_type() prints it: the type TypeWith gives f under
// either Mapping whose PG is pg. Under the two mappings equal names mean
// equal encodings, so the name alone says which one the guest chose. Any
// other pair is an error naming the column.
func TypeFor(f arrow.Field, pg string) (*Type, error) {
	rich, err := TypeWith(f, MappingRich)
	if err != nil {
		return nil, err
	}
	if rich.PG == pg {
		return rich, nil
	}
	cq, err := TypeWith(f, MappingCloudQuery)
	if err != nil {
		return nil, err
	}
	if cq.PG == pg {
		return cq, nil
	}
	want := rich.PG
	if cq.PG != rich.PG {
		want += " or " + cq.PG
	}
	return nil, fmt.Errorf("column %q: %s cannot be encoded as PostgreSQL type %q (it is stored as %s)", f.Name, rich, pg, want)
}

// Batch encodes record batches as the binary COPY data of a batch COPY
// (abi.PgRequest.Batch): the COPY's columns are record columns picked and
// typed by abi.PgCopyColumn, then an ordinal column if asked for.
type Batch struct {
	schema *arrow.Schema // the COPY's columns, picked from the records'
	fields []int
	enc    *Encoder
}

// NewBatch checks a batch COPY's columns against the records' schema and
// returns its encoder. Errors name the column and say what is wrong.
func NewBatch(schema *arrow.Schema, cols []abi.PgCopyColumn, keys []int, ordinal bool) (*Batch, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("no columns: a batch COPY names each of its columns (field and type)")
	}
	b := &Batch{}
	fields := make([]arrow.Field, len(cols))
	types := make([]*Type, len(cols))
	for i, c := range cols {
		if c.Field < 0 || c.Field >= schema.NumFields() {
			return nil, fmt.Errorf("columns[%d]: field %d is not a column of the records, which have %d", i, c.Field, schema.NumFields())
		}
		f := schema.Field(c.Field)
		t, err := TypeFor(f, c.Type)
		if err != nil {
			return nil, fmt.Errorf("columns[%d]: %w", i, err)
		}
		fields[i], types[i] = f, t
		b.fields = append(b.fields, c.Field)
	}
	seen := map[int]bool{}
	for _, k := range keys {
		if k < 0 || k >= len(cols) || seen[k] {
			return nil, fmt.Errorf("keys: %d is not the index of a column (0 to %d) named once", k, len(cols)-1)
		}
		seen[k] = true
	}
	md := schema.Metadata()
	b.schema = arrow.NewSchema(fields, &md)
	b.enc = NewEncoder(fields, types, keys, ordinal)
	return b, nil
}

// Header appends the COPY stream's header.
func (b *Batch) Header(dst []byte) []byte { return b.enc.Header(dst) }

// Trailer appends the COPY stream's end marker.
func (b *Batch) Trailer(dst []byte) []byte { return b.enc.Trailer(dst) }

// Encode appends the rows of rec to dst as Encoder.Encode does, with the
// COPY's columns picked from rec's.
func (b *Batch) Encode(rec arrow.RecordBatch, dst []byte, chunk int, flush func([]byte) ([]byte, error)) ([]byte, error) {
	if int(rec.NumCols()) != len(b.schema.Fields()) || !sameFields(rec, b.fields) {
		cols := make([]arrow.Array, len(b.fields))
		for i, f := range b.fields {
			if f >= int(rec.NumCols()) {
				return dst, fmt.Errorf("record has %d columns, the batch's schema more", rec.NumCols())
			}
			cols[i] = rec.Column(f)
		}
		rec = array.NewRecordBatch(b.schema, cols, rec.NumRows())
		defer rec.Release()
	}
	return b.enc.Encode(rec, dst, chunk, flush)
}

// sameFields reports whether fields picks every column of rec in order.
func sameFields(rec arrow.RecordBatch, fields []int) bool {
	for i, f := range fields {
		if f != i {
			return false
		}
	}
	return len(fields) == int(rec.NumCols())
}

// Rows returns how many rows were encoded.
func (b *Batch) Rows() int64 { return b.enc.Rows() }

// Duplicates reports whether two rows may have had the same key
// (Encoder.Duplicates).
func (b *Batch) Duplicates() bool { return b.enc.Duplicates() }
