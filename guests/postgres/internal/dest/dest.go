// Package dest is the PostgreSQL destination: Describe, Migrate, Write,
// DeleteStale and Read over an abstract database connection (DB), which the
// guest implements with the host's pg_* functions and tests implement with
// pgx directly.
package dest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
)

// DB is the postgres capability as the guest sees it (abi/ABI.md section 3):
// tx 0 means no transaction; args are strings, numbers, booleans or nil.
type DB interface {
	Exec(tx int64, sql string, args ...any) (int64, error)
	Query(tx int64, sql string, args ...any) (*abi.PgQueryResult, error)
	Begin() (int64, error)
	Commit(tx int64) error
	Rollback(tx int64) error
	CopyFrom(tx int64, sql string) error
	CopyData(p []byte) error
	CopyEnd() (int64, error)
	CopyTo(tx int64, sql string) ([]byte, error)
}

// Spec is the nested spec the guest receives (connection_string, a secret,
// stays with the host; batching settings are the host's).
type Spec struct {
	// Schema is the PostgreSQL schema of the tables; "" means the
	// connection's current_schema() (its search_path). It is created, if
	// missing, when the first table is created.
	Schema string `json:"schema"`
	// CreatePerformanceIndexes adds an index on (_cq_source_name,
	// _cq_sync_time) to the tables, for delete-stale.
	CreatePerformanceIndexes bool `json:"create_performance_indexes"`
}

// CopyChunk is how much binary COPY data the guest encodes before handing
// it to the host.
const CopyChunk = 256 << 10

// ReadBatchRows is the most rows of one record Read emits.
const ReadBatchRows = 10000

// Destination is the PostgreSQL destination of one guest instance.
type Destination struct {
	db     DB
	spec   Spec
	schema string // resolved on first use
	// indexed remembers tables whose performance index exists.
	indexed map[string]bool
	buf     []byte
}

// New returns a destination on db.
func New(db DB) *Destination { return &Destination{db: db, indexed: map[string]bool{}} }

// Init reads the spec.
func (d *Destination) Init(req abi.InitRequest) error {
	if len(req.Spec) > 0 {
		if err := json.Unmarshal(req.Spec, &d.spec); err != nil {
			return fmt.Errorf("spec: %w", err)
		}
	}
	if d.spec.Schema != "" {
		if err := pgwire.CheckName("spec: schema", d.spec.Schema); err != nil {
			return err
		}
	}
	return nil
}

// Schema returns the schema the tables live in.
func (d *Destination) Schema() (string, error) {
	if d.schema != "" {
		return d.schema, nil
	}
	if d.spec.Schema != "" {
		d.schema = pgwire.Truncate(d.spec.Schema)
		return d.schema, nil
	}
	res, err := d.db.Query(0, "SELECT current_schema()")
	if err != nil {
		return "", fmt.Errorf("find the current schema: %w", err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] == nil {
		return "", errors.New("the connection has no current schema: its search_path names no schema that exists; fix search_path in the connection string, create the schema, or set the spec's schema")
	}
	d.schema = *res.Rows[0][0]
	return d.schema, nil
}

func isTrue(md arrow.Metadata, key string) bool {
	v, ok := md.GetValue(key)
	return ok && v == abi.MetaTrue
}

// columns maps the fields of schema to their stored columns.
func columns(table string, schema *arrow.Schema) ([]pgwire.Column, error) {
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
		t, err := pgwire.TypeOf(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %q: %w", table, err))
			continue
		}
		pk := isTrue(f.Metadata, abi.MetaPrimaryKey)
		cols[i] = pgwire.Column{Name: f.Name, Stored: stored[i], Type: t, NotNull: !f.Nullable || pk, PK: pk, Unique: isTrue(f.Metadata, abi.MetaUnique)}
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
	cols, err := columns(table, schema)
	if err != nil {
		return abi.TableState{}, err
	}
	st := abi.TableState{Table: table, Current: []abi.Column{}, Wanted: make([]abi.Column, len(cols))}
	full := map[string]string{}
	for i, c := range cols {
		st.Wanted[i] = abi.Column{Name: c.Name, Type: c.Type.PG, NotNull: c.NotNull, PrimaryKey: c.PK, Unique: c.Unique}
		full[c.Stored] = c.Name
	}
	cur, err := d.current(0, table)
	if err != nil {
		return abi.TableState{}, err
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

// inTx runs fn in a transaction, committed when fn succeeds and rolled back
// otherwise.
func (d *Destination) inTx(fn func(tx int64) error) error {
	tx, err := d.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		d.db.Rollback(tx)
		return err
	}
	return d.db.Commit(tx)
}

// Migrate applies the host's plan for one table.
func (d *Destination) Migrate(req abi.MigrateRequest, schema *arrow.Schema) error {
	cols, err := columns(req.Table, schema)
	if err != nil {
		return err
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	qt := pgwire.Qualified(sch, req.Table)
	switch req.Action {
	case abi.MigrateCreate:
		return d.inTx(func(tx int64) error { return d.create(tx, req.Table, cols) })
	case abi.MigrateRecreate:
		return d.inTx(func(tx int64) error {
			cur, err := d.current(tx, req.Table)
			if err != nil {
				return err
			}
			if cur.exists {
				if err := d.checkDependents(tx, qt, cur.oid); err != nil {
					return err
				}
				if _, err := d.db.Exec(tx, "DROP TABLE "+qt); err != nil {
					return fmt.Errorf("table %s: drop: %w", qt, err)
				}
			}
			return d.create(tx, req.Table, cols)
		})
	case abi.MigrateAlter:
		return d.inTx(func(tx int64) error { return d.alter(tx, req, cols) })
	}
	return fmt.Errorf("table %q: unknown migrate action %q", req.Table, req.Action)
}

// create makes the table, its schema if missing, and its performance index.
func (d *Destination) create(tx int64, table string, cols []pgwire.Column) error {
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	if d.spec.Schema != "" {
		// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
		// the schema exists: look first.
		res, err := d.db.Query(tx, "SELECT 1 FROM pg_namespace WHERE nspname = $1", sch)
		if err != nil {
			return fmt.Errorf("schema %s: %w", pgwire.Ident(sch), err)
		}
		if len(res.Rows) == 0 {
			if _, err := d.db.Exec(tx, "CREATE SCHEMA IF NOT EXISTS "+pgwire.Ident(sch)); err != nil {
				return fmt.Errorf("create schema %s: %w", pgwire.Ident(sch), err)
			}
		}
	}
	qt := pgwire.Qualified(sch, table)
	if _, err := d.db.Exec(tx, pgwire.CreateTable(sch, table, cols)); err != nil {
		return fmt.Errorf("create table %s: %w", qt, err)
	}
	if d.spec.CreatePerformanceIndexes {
		return d.performanceIndex(tx, table, cols)
	}
	return nil
}

// performanceIndex creates the index on (_cq_source_name, _cq_sync_time)
// when the table has both columns.
func (d *Destination) performanceIndex(tx int64, table string, cols []pgwire.Column) error {
	var have int
	for _, c := range cols {
		if c.Name == abi.ColSourceName || c.Name == abi.ColSyncTime {
			have++
		}
	}
	if have < 2 {
		return nil
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	sql := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s)", pgwire.Ident(pgwire.PerformanceIndex(table)),
		pgwire.Qualified(sch, table), pgwire.Ident(abi.ColSourceName), pgwire.Ident(abi.ColSyncTime))
	if _, err := d.db.Exec(tx, sql); err != nil {
		return fmt.Errorf("table %q: create performance index: %w", table, err)
	}
	d.indexed[table] = true
	return nil
}

// dependentsSQL finds what would stop a DROP TABLE without CASCADE: views
// and materialized views reading the table, and foreign keys of other
// tables referencing it.
const dependentsSQL = `SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, v.oid::regclass::text
FROM pg_depend dep
JOIN pg_rewrite r ON r.oid = dep.objid AND dep.classid = 'pg_rewrite'::regclass
JOIN pg_class v ON v.oid = r.ev_class
WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = $1::oid AND v.oid <> $1::oid
UNION ALL
SELECT 'foreign key ' || quote_ident(con.conname) || ' of table', con.conrelid::regclass::text
FROM pg_constraint con
WHERE con.contype = 'f' AND con.confrelid = $1::oid AND con.conrelid <> $1::oid
ORDER BY 2`

// checkDependents refuses to recreate a table other objects depend on.
// Dropping them (CASCADE) would silently lose the user's views and keys;
// recreating them after could change their owners, grants and meaning.
func (d *Destination) checkDependents(tx int64, qt, oid string) error {
	res, err := d.db.Query(tx, dependentsSQL, oid)
	if err != nil {
		return fmt.Errorf("table %s: find dependent objects: %w", qt, err)
	}
	if len(res.Rows) == 0 {
		return nil
	}
	var deps []string
	for _, r := range res.Rows {
		deps = append(deps, *r[0]+" "+*r[1])
	}
	return fmt.Errorf("table %s cannot be recreated (migrate_mode forced): other objects depend on it: %s. "+
		"The destination never drops them: drop them yourself (or migrate the table by hand), run the sync, then recreate them; nothing was changed",
		qt, strings.Join(deps, ", "))
}

// alter applies the safe changes of an alter plan.
func (d *Destination) alter(tx int64, req abi.MigrateRequest, cols []pgwire.Column) error {
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	qt := pgwire.Qualified(sch, req.Table)
	byName := map[string]pgwire.Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	exec := func(sql string) error {
		if _, err := d.db.Exec(tx, sql); err != nil {
			return fmt.Errorf("table %s: %s: %w", qt, sql, err)
		}
		return nil
	}
	cur, err := d.current(tx, req.Table)
	if err != nil {
		return err
	}
	if !cur.exists {
		return fmt.Errorf("table %s does not exist: nothing to alter", qt)
	}
	for _, ch := range req.Changes {
		switch ch.Kind {
		case abi.ChangeRemoveColumn:
			// Kept: its rows keep their values, new rows get NULL.
		case abi.ChangeAddColumn:
			c, ok := byName[ch.Column]
			if !ok {
				return fmt.Errorf("table %s: add_column %q: not in the schema", qt, ch.Column)
			}
			c.NotNull, c.PK = false, false
			sql := "ALTER TABLE " + qt + " ADD COLUMN " + pgwire.ColumnDDL(c)
			if c.Unique {
				sql += " UNIQUE" // a new column is all NULL: nothing can violate it
			}
			if err := exec(sql); err != nil {
				return err
			}
		case abi.ChangeRemoveUnique:
			if err := d.dropUnique(tx, qt, cur.oid, pgwire.Truncate(ch.Column)); err != nil {
				return err
			}
		case abi.ChangeMovePKToCQID:
			if err := d.movePKToCQID(tx, qt, req.Table, cur, byName); err != nil {
				return err
			}
		default:
			return fmt.Errorf("table %s: change %s of column %q is not safe; the host sends such changes only with action recreate", qt, ch.Kind, ch.Column)
		}
	}
	return nil
}

// dropUnique drops the single-column unique constraints and unique indexes
// of a column.
func (d *Destination) dropUnique(tx int64, qt, oid, column string) error {
	res, err := d.db.Query(tx, `SELECT con.conname IS NOT NULL, COALESCE(con.conname, ic.relname), ns.nspname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace ns ON ns.oid = ic.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = $1::oid AND a.attname = $2 AND i.indisunique AND NOT i.indisprimary
  AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL`, oid, column)
	if err != nil {
		return fmt.Errorf("table %s: find unique constraints of %q: %w", qt, column, err)
	}
	for _, r := range res.Rows {
		sql := "DROP INDEX " + pgwire.Qualified(*r[2], *r[1])
		if *r[0] == "t" {
			sql = "ALTER TABLE " + qt + " DROP CONSTRAINT " + pgwire.Ident(*r[1])
		}
		if _, err := d.db.Exec(tx, sql); err != nil {
			return fmt.Errorf("table %s: %s: %w", qt, sql, err)
		}
	}
	return nil
}

// movePKToCQID makes _cq_id the only primary key column. Former key columns
// the schema has nullable lose their NOT NULL.
func (d *Destination) movePKToCQID(tx int64, qt, table string, cur current, byName map[string]pgwire.Column) error {
	res, err := d.db.Query(tx, "SELECT conname FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'p'", cur.oid)
	if err != nil {
		return fmt.Errorf("table %s: find the primary key: %w", qt, err)
	}
	var stmts []string
	for _, r := range res.Rows {
		stmts = append(stmts, "ALTER TABLE "+qt+" DROP CONSTRAINT "+pgwire.Ident(*r[0]))
	}
	for _, c := range cur.cols {
		if !c.PrimaryKey {
			continue
		}
		for _, w := range byName {
			if w.Stored == c.Name && !w.NotNull && !w.PK {
				stmts = append(stmts, "ALTER TABLE "+qt+" ALTER COLUMN "+pgwire.Ident(c.Name)+" DROP NOT NULL")
			}
		}
	}
	stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)", qt,
		pgwire.Ident(pgwire.PKConstraint(table)), pgwire.Ident(abi.ColID)))
	for _, s := range stmts {
		if _, err := d.db.Exec(tx, s); err != nil {
			return fmt.Errorf("table %s: move the primary key to %s: %s: %w", qt, abi.ColID, s, err)
		}
	}
	return nil
}

// Write writes one batch: a binary COPY into the table (inserts), or, when
// the schema has a primary key, in one transaction a COPY into a staging
// table and an INSERT ... SELECT of its rows, ON CONFLICT DO UPDATE when some
// keys exist (upserts, the last of duplicate keys winning; see pgwire.Upsert).
func (d *Destination) Write(table string, records array.RecordReader) error {
	schema := records.Schema()
	cols, err := columns(table, schema)
	if err != nil {
		return err
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	qt := pgwire.Qualified(sch, table)
	if !hasPK(cols) {
		_, err := d.copy(0, table, qt, cols, records, "")
		return err
	}
	stage, ordinal := pgwire.StageTable(sch, table, cols)
	return d.inTx(func(tx int64) error {
		if _, err := d.db.Exec(tx, pgwire.CreateStage(stage, ordinal, cols)); err != nil {
			return fmt.Errorf("table %s: staging table: %w", qt, err)
		}
		n, err := d.copy(tx, table, pgwire.Ident(stage), cols, records, ordinal)
		if err != nil || n == 0 {
			return err
		}
		insert, upsert := pgwire.Upsert(qt, stage, ordinal, cols)
		_, err = d.db.Exec(tx, insert)
		var he *abi.HostError
		if errors.As(err, &he) && he.SQLState == pgwire.UniqueViolation {
			_, err = d.db.Exec(tx, upsert) // some keys exist
		}
		if err != nil {
			return fmt.Errorf("table %s: upsert: %w", qt, err)
		}
		return nil
	})
}

// copy streams records into target with a binary COPY and returns the rows
// copied. With ordinal, every row also gets its index in that column.
func (d *Destination) copy(tx int64, table, target string, cols []pgwire.Column, records array.RecordReader, ordinal string) (int64, error) {
	var fields []arrow.Field
	var types []*pgwire.Type
	var pk []int
	for i, c := range cols {
		fields = append(fields, records.Schema().Field(i))
		types = append(types, c.Type)
		if c.PK {
			pk = append(pk, i)
		}
	}
	var extra []string
	if ordinal != "" {
		extra = append(extra, ordinal)
	}
	if err := d.db.CopyFrom(tx, pgwire.CopyFrom(target, cols, extra...)); err != nil {
		return 0, copyError(table, cols, err)
	}
	enc := pgwire.NewEncoder(table, fields, types, pk, ordinal != "")
	flush := func(b []byte) ([]byte, error) {
		if err := d.db.CopyData(b); err != nil {
			return b[:0], copyError(table, cols, err)
		}
		return b[:0], nil
	}
	buf := enc.Header(d.buf[:0])
	var err error
	for records.Next() {
		if buf, err = enc.Encode(records.RecordBatch(), buf, CopyChunk, flush); err != nil {
			// The COPY stays unfinished: the host aborts it when the
			// operation returns, so nothing of the batch is written.
			return 0, err
		}
	}
	if err := records.Err(); err != nil {
		return 0, fmt.Errorf("table %q: read the batch: %w", table, err)
	}
	buf = enc.Trailer(buf)
	if _, err := flush(buf); err != nil {
		return 0, err
	}
	d.buf = buf[:0]
	n, err := d.db.CopyEnd()
	if err != nil {
		return 0, copyError(table, cols, err)
	}
	return n, nil
}

// copyWhere is the context PostgreSQL gives a value a COPY refused: the row
// ("line", counting from 1) and the column.
var copyWhere = regexp.MustCompile(`(?m)^COPY [^\n]*, line (\d+), column ([^:\n]+)`)

// copyError describes an error of a COPY: about one value (which the server
// checks: JSON syntax, for one) as a RowError naming the table, the column
// (as the schema names it) and the row of the batch; else naming the table.
func copyError(table string, cols []pgwire.Column, err error) error {
	var he *abi.HostError
	var m []string
	// Only data exceptions (class 22) and integrity violations (23) are
	// about the value: a server shutting down names the COPY's line too.
	if errors.As(err, &he) && (strings.HasPrefix(he.SQLState, "22") || strings.HasPrefix(he.SQLState, "23")) {
		m = copyWhere.FindStringSubmatch(he.Where)
	}
	if m == nil {
		return fmt.Errorf("table %q: copy: %w", table, err)
	}
	row, _ := strconv.ParseInt(m[1], 10, 64)
	column := strings.Trim(m[2], `"`)
	for _, c := range cols {
		if c.Stored == column {
			column = c.Name
		}
	}
	return &pgwire.RowError{Table: table, Column: column, Row: row - 1, Err: err}
}

// DeleteStale deletes the rows of an earlier sync of the same source.
func (d *Destination) DeleteStale(req abi.DeleteStaleRequest) error {
	t, err := time.Parse(time.RFC3339Nano, req.SyncTime)
	if err != nil {
		return fmt.Errorf("table %q: delete stale: sync_time %q: %w", req.Table, req.SyncTime, err)
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	if d.spec.CreatePerformanceIndexes && !d.indexed[req.Table] {
		cur, err := d.current(0, req.Table)
		if err != nil {
			return err
		}
		var cols []pgwire.Column
		for _, c := range cur.cols {
			cols = append(cols, pgwire.Column{Name: c.Name})
		}
		if err := d.performanceIndex(0, req.Table, cols); err != nil {
			return err
		}
	}
	// _cq_sync_time holds UTC wall time (timestamp without time zone).
	_, err = d.db.Exec(0, fmt.Sprintf("DELETE FROM %s WHERE %s = $1 AND %s < $2", pgwire.Qualified(sch, req.Table),
		pgwire.Ident(abi.ColSourceName), pgwire.Ident(abi.ColSyncTime)),
		req.SourceName, t.UTC().Format("2006-01-02 15:04:05.999999"))
	if err != nil {
		return fmt.Errorf("table %q: delete stale: %w", req.Table, err)
	}
	return nil
}

// readPageBlocks is how many heap blocks (8 KiB each by default) Read
// copies at a time, so that one pg_copy_to result stays far below the
// host's 256 MiB cap and guest memory stays small.
const readPageBlocks = 2048

// Read emits every row of the table in schema, converting each stored
// column back to the field's Arrow type.
func (d *Destination) Read(table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	cols, err := columns(table, schema)
	if err != nil {
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
		storage := pgwire.StorageSchema(schema)
		types := make([]*pgwire.Type, len(cols))
		for i, c := range cols {
			types[i] = c.Type
		}
		for _, where := range pages {
			out, err := d.db.CopyTo(tx, "COPY ("+query+where+") TO STDOUT (FORMAT binary)")
			if err != nil {
				return fmt.Errorf("table %s: read: %w", qt, err)
			}
			dec, err := pgwire.NewDecoder(table, storage, types)
			if err != nil {
				return err
			}
			err = dec.Decode(out, ReadBatchRows, func(rec arrow.RecordBatch) error {
				defer rec.Release()
				arrs := make([]arrow.Array, rec.NumCols())
				for i := range arrs {
					arrs[i] = pgwire.Retype(rec.Column(i), schema.Field(i).Type)
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
