package dest

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// columns maps the fields of schema to their stored columns, with the
// types of mapping m. A column that exists with the other mapping's type
// (existing maps stored names to format_type; nil for none) keeps it: a table
// created under either mapping is written as it is, with no migration.
func columns(table string, schema *arrow.Schema, m pgbinary.Mapping, existing map[string]string) ([]pgwire.Column, error) {
	if err := pgwire.CheckName("table", table); err != nil {
		return nil, err
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	stored, err := pgwire.ColumnNames(table, names)
	if err != nil {
		return nil, err
	}
	cols := make([]pgwire.Column, schema.NumFields())
	var errs []error
	for i, f := range schema.Fields() {
		t, err := pgbinary.TypeWith(f, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %q: %w", table, err))
			continue
		}
		if have, ok := existing[stored[i]]; ok && have != t.PG {
			if alt, err := pgbinary.TypeWith(f, m.Other()); err == nil && alt.PG == have {
				t = alt
			}
		}
		pk := arrowtypes.IsPrimaryKey(f)
		cols[i] = pgwire.Column{Name: f.Name, Stored: stored[i], Type: t, NotNull: !f.Nullable || pk, PK: pk, Unique: arrowtypes.IsUnique(f)}
	}
	return cols, errors.Join(errs...)
}

func hasPK(cols []pgwire.Column) bool {
	for _, c := range cols {
		if c.PK {
			return true
		}
	}
	return false
}

// current is a table as the catalog describes it.
type current struct {
	exists  bool
	oid     string
	relkind string
	cols    []abi.Column // stored names
}

// describeSQL lists a table's columns with their types as format_type prints
// them, NOT NULL, primary key membership and single-column uniqueness
// (unique constraints and unique indexes, not partial, not on expressions).
const describeSQL = `SELECT c.oid, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
  COALESCE(a.attnum = ANY (pk.indkey), false),
  EXISTS (SELECT 1 FROM pg_index u WHERE u.indrelid = c.oid AND u.indisunique AND NOT u.indisprimary
    AND u.indnkeyatts = 1 AND u.indkey[0] = a.attnum AND u.indpred IS NULL AND u.indexprs IS NULL)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
WHERE n.nspname = $1 AND c.relname = $2
ORDER BY a.attnum`

func (d *Destination) current(tx int64, table string) (current, error) {
	schema, err := d.Schema()
	if err != nil {
		return current{}, err
	}
	res, err := d.db.Query(tx, describeSQL, schema, pgwire.Truncate(table))
	if err != nil {
		return current{}, fmt.Errorf("table %q: read the catalog: %w", table, err)
	}
	var cur current
	for _, r := range res.Rows {
		cur.exists, cur.oid, cur.relkind = true, *r[0], *r[1]
		if r[2] == nil {
			continue
		}
		cur.cols = append(cur.cols, abi.Column{Name: *r[2], Type: *r[3], NotNull: *r[4] == "t", PrimaryKey: *r[5] == "t", Unique: *r[6] == "t"})
	}
	if cur.exists && cur.relkind != "r" && cur.relkind != "p" {
		return cur, fmt.Errorf("%s is not a table (pg_class.relkind %q): the destination writes tables only", pgwire.Qualified(schema, table), cur.relkind)
	}
	return cur, nil
}

// Describe reports the table as it is and as the wanted schema would be
// stored. Stored names cut to 63 bytes are reported under the wanted full
// name they match.
func (d *Destination) Describe(table string, schema *arrow.Schema) (abi.TableState, error) {
	if err := pgwire.CheckName("table", table); err != nil {
		return abi.TableState{}, err
	}
	cur, err := d.current(0, table)
	if err != nil {
		return abi.TableState{}, err
	}
	existing := cur.types()
	d.stored[table] = existing
	cols, err := columns(table, schema, d.mapping, existing)
	if err != nil {
		return abi.TableState{}, err
	}
	st := abi.TableState{Table: table, Current: []abi.Column{}, Wanted: make([]abi.Column, len(cols))}
	full := map[string]string{}
	for i, c := range cols {
		st.Wanted[i] = abi.Column{Name: c.Name, Type: c.Type.PG, NotNull: c.NotNull, PrimaryKey: c.PK, Unique: c.Unique}
		full[c.Stored] = c.Name
	}
	st.Exists = cur.exists
	for _, c := range cur.cols {
		if n, ok := full[c.Name]; ok {
			c.Name = n
		}
		st.Current = append(st.Current, c)
	}
	return st, nil
}

// types maps the table's stored column names to their types (nil when the
// table does not exist).
func (c current) types() map[string]string {
	if !c.exists {
		return nil
	}
	m := make(map[string]string, len(c.cols))
	for _, col := range c.cols {
		m[col.Name] = col.Type
	}
	return m
}

// existingTypes returns the stored column types of table when the schema
// has a field whose type the two mappings store differently (else nil: the
// mapping alone decides), looked up once per table and instance.
func (d *Destination) existingTypes(table string, schema *arrow.Schema) (map[string]string, error) {
	if m, ok := d.stored[table]; ok {
		return m, nil
	}
	differ := false
	for _, f := range schema.Fields() {
		a, err1 := pgbinary.TypeWith(f, d.mapping)
		b, err2 := pgbinary.TypeWith(f, d.mapping.Other())
		if err1 == nil && err2 == nil && a.PG != b.PG {
			differ = true
			break
		}
	}
	if !differ {
		return nil, nil
	}
	cur, err := d.current(0, table)
	if err != nil {
		return nil, err
	}
	d.stored[table] = cur.types()
	return d.stored[table], nil
}
