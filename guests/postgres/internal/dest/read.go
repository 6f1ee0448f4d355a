package dest

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// readPageBlocks is how many heap blocks (8 KiB each by default) Read
// copies at a time, so that one pg_copy_to result stays far below the
// host's 256 MiB cap and guest memory stays small.
const readPageBlocks = 2048

// Read emits every row of the table in schema, converting each stored
// column back to the field's Arrow type.
func (d *Destination) Read(table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	if err := d.EndHeld(); err != nil {
		return err
	}
	if err := pgwire.CheckName("table", table); err != nil {
		return err
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	qt := pgwire.Qualified(sch, table)
	return d.inTx(func(tx int64) error {
		// One snapshot for every page.
		if _, err := d.db.Exec(tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return err
		}
		cur, err := d.current(tx, table)
		if err != nil {
			return err
		}
		if !cur.exists {
			return fmt.Errorf("table %s does not exist", qt)
		}
		cols, err := columns(table, schema, d.mapping, cur.types())
		if err != nil {
			return err
		}
		stored := map[string]string{}
		for _, c := range cur.cols {
			stored[c.Name] = c.Type
		}
		var sel []string
		for _, c := range cols {
			typ, ok := stored[c.Stored]
			if !ok {
				return fmt.Errorf("table %s has no column %s", qt, pgwire.Ident(c.Stored))
			}
			s := pgwire.Ident(c.Stored)
			if typ != c.Type.PG {
				s += "::" + c.Type.PG
			}
			sel = append(sel, s)
		}
		query := "SELECT " + strings.Join(sel, ", ") + " FROM " + qt
		pages, err := d.pages(tx, cur)
		if err != nil {
			return err
		}
		storage := pgbinary.StorageSchema(schema)
		types := make([]*pgbinary.Type, len(cols))
		for i, c := range cols {
			types[i] = c.Type
		}
		for _, where := range pages {
			out, err := d.db.CopyTo(tx, "COPY ("+query+where+") TO STDOUT (FORMAT binary)")
			if err != nil {
				return fmt.Errorf("table %s: read: %w", qt, err)
			}
			dec, err := pgbinary.NewDecoder(table, storage, types)
			if err != nil {
				return err
			}
			err = dec.Decode(out, ReadBatchRows, func(rec arrow.RecordBatch) error {
				defer rec.Release()
				arrs := make([]arrow.Array, rec.NumCols())
				for i := range arrs {
					arrs[i] = pgbinary.Retype(rec.Column(i), schema.Field(i).Type)
					defer arrs[i].Release()
				}
				out := array.NewRecordBatch(schema, arrs, rec.NumRows())
				defer out.Release()
				return emit(out)
			})
			dec.Release()
			if err != nil {
				return fmt.Errorf("table %s: read: %w", qt, err)
			}
		}
		return nil
	})
}

// pages splits a table into ranges of heap blocks (ctid ranges, a TID range
// scan since PostgreSQL 14). Partitioned tables and older servers are read
// in one piece.
func (d *Destination) pages(tx int64, cur current) ([]string, error) {
	whole := []string{""}
	if cur.relkind != "r" {
		return whole, nil
	}
	res, err := d.db.Query(tx, "SELECT current_setting('server_version_num')::int >= 140000, pg_relation_size($1::oid) / current_setting('block_size')::int", cur.oid)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) != 1 || *res.Rows[0][0] != "t" {
		return whole, nil
	}
	var blocks int64
	fmt.Sscan(*res.Rows[0][1], &blocks)
	if blocks <= readPageBlocks {
		return whole, nil
	}
	var out []string
	for lo := int64(0); lo < blocks; lo += readPageBlocks {
		if lo+readPageBlocks >= blocks {
			out = append(out, fmt.Sprintf(" WHERE ctid >= '(%d,0)'::tid", lo))
		} else {
			out = append(out, fmt.Sprintf(" WHERE ctid >= '(%d,0)'::tid AND ctid < '(%d,0)'::tid", lo, lo+readPageBlocks))
		}
	}
	return out, nil
}
