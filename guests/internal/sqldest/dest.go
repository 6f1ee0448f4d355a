// Package sqldest is a destination on the sql capability (abi.CapSQL) that
// holds everything but the SQL dialect: describe, migrate (create, the safe
// alterations, recreate), write (a bulk load per batch; upserts on the
// primary key with the last of duplicate keys winning), delete-stale and
// read. Each database's guest (guests/sqlite, guests/mysql, guests/duckdb)
// gives it a Dialect: its types, DDL, catalog queries and load statements.
package sqldest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
)

// DB is the sql capability as the guest sees it (abi/ABI.md): tx 0 means
// no transaction. The guest implements it with the SDK's sql_* functions,
// native tests with host/capability/sqldb directly.
type DB interface {
	Exec(tx int64, query string, args ...any) (int64, error)
	// Query returns the rows as Arrow, one column per result column of the
	// types named (abi.SQLType*). The caller releases the reader.
	Query(tx int64, types []string, query string, args ...any) (array.RecordReader, error)
	Begin() (int64, error)
	Commit(tx int64) error
	Rollback(tx int64) error
	// Load bulk-loads records by req's method; tx 0: all or nothing. With
	// req.Batch the records are the running write's batch, which the host
	// loads by reference (the guest sends nothing).
	Load(req abi.SQLLoadRequest, records array.RecordReader) (int64, error)
}

// Dialect is what differs between SQL databases.
type Dialect interface {
	// Name names the database in errors ("SQLite").
	Name() string
	// Init runs once per instance, in init: a dialect may ask the server
	// what it is (MySQL or MariaDB).
	Init(db DB) error
	// Quote quotes an identifier.
	Quote(name string) string
	// Column maps a field to its stored column: Type, Codec and, where
	// needed, ReadExpr (the rest is filled in already). ReadType may be
	// left empty: then it is the host's type of a Native column's Arrow
	// type, and utf8 for the other codecs.
	Column(c *Column) error
	// Current describes the table as the catalog has it, types normalised
	// as Column reports them.
	Current(db DB, tx int64, table string) (exists bool, cols []abi.Column, err error)
	// CreateTable returns the statements that create the table.
	CreateTable(table string, cols []Column) []string
	// AddColumn returns the statements that add a nullable column.
	AddColumn(table string, c Column) []string
	// DropUnique drops the single-column unique constraints of a column.
	DropUnique(db DB, tx int64, table, column string) error
	// MovePKToCQID makes _cq_id the only primary key; former key columns
	// that cols has nullable lose their NOT NULL. cur is the table now.
	MovePKToCQID(db DB, tx int64, table string, cur []abi.Column, cols []Column) error
	// Load returns the bulk load of rows into the table: inserts, or with
	// upsert rows replacing those of the same primary key (the rows have
	// no duplicate keys).
	Load(table string, cols []Column, upsert bool) abi.SQLLoadRequest
	// SyncTimeArg is the argument _cq_sync_time is compared with.
	SyncTimeArg(t time.Time) any
	// TransactionalDDL reports whether DDL can be rolled back.
	TransactionalDDL() bool
}

// TypeKeeper is implemented by dialects that store one Arrow type as
// different column types (MySQL: text as VARCHAR in keys, LONGTEXT
// elsewhere): Keep reports whether a column stored as current may stay so
// where the schema alone would make it wanted. Describe then reports the
// current type as wanted, so that losing a key is no type change.
type TypeKeeper interface {
	Keep(wanted, current string) bool
}

// ReadPageRows is how many rows Read asks for at a time.
const ReadPageRows = 10000

// Destination is the destination of one guest instance.
type Destination struct {
	db DB
	d  Dialect
}

// New returns a destination on db speaking dialect d.
func New(db DB, d Dialect) *Destination { return &Destination{db: db, d: d} }

// Init checks the spec (the sql capability's keys are the host's; a guest
// adds none) and initialises the dialect.
func (dst *Destination) Init(req abi.InitRequest) error {
	if len(req.Spec) > 0 {
		var spec map[string]any
		if err := json.Unmarshal(req.Spec, &spec); err != nil {
			return fmt.Errorf("spec: %w", err)
		}
	}
	if err := dst.d.Init(dst.db); err != nil {
		return fmt.Errorf("%s: %w", dst.d.Name(), err)
	}
	return nil
}

func isTrue(md arrow.Metadata, key string) bool {
	v, ok := md.GetValue(key)
	return ok && v == abi.MetaTrue
}

// Columns maps the fields of schema to their stored columns.
func (dst *Destination) Columns(table string, schema *arrow.Schema) ([]Column, error) {
	if table == "" {
		return nil, errors.New("no table name")
	}
	cols := make([]Column, schema.NumFields())
	var errs []error
	for i, f := range schema.Fields() {
		pk := isTrue(f.Metadata, abi.MetaPrimaryKey)
		cols[i] = Column{Name: f.Name, Field: f, PK: pk, NotNull: !f.Nullable || pk, Unique: isTrue(f.Metadata, abi.MetaUnique)}
		if err := dst.d.Column(&cols[i]); err != nil {
			errs = append(errs, fmt.Errorf("table %q, column %q: %w", table, f.Name, err))
		}
		if cols[i].ReadType == "" {
			cols[i].ReadType = abi.SQLTypeUTF8
			if cols[i].Codec == Native {
				cols[i].ReadType = readTypeOf(f.Type)
			}
		}
	}
	return cols, errors.Join(errs...)
}

func hasPK(cols []Column) bool {
	for _, c := range cols {
		if c.PK {
			return true
		}
	}
	return false
}

// Describe reports the table as it is and as the wanted schema would be stored.
func (dst *Destination) Describe(table string, schema *arrow.Schema) (abi.TableState, error) {
	cols, err := dst.Columns(table, schema)
	if err != nil {
		return abi.TableState{}, err
	}
	st := abi.TableState{Table: table, Current: []abi.Column{}, Wanted: make([]abi.Column, len(cols))}
	for i, c := range cols {
		st.Wanted[i] = abi.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, PrimaryKey: c.PK, Unique: c.Unique}
	}
	exists, cur, err := dst.d.Current(dst.db, 0, table)
	if err != nil {
		return abi.TableState{}, fmt.Errorf("table %q: read the catalog: %w", table, err)
	}
	st.Exists = exists
	if cur != nil {
		st.Current = cur
	}
	if k, ok := dst.d.(TypeKeeper); ok {
		stored := map[string]string{}
		for _, c := range cur {
			stored[c.Name] = c.Type
		}
		for i := range st.Wanted {
			if t, ok := stored[st.Wanted[i].Name]; ok && t != st.Wanted[i].Type && k.Keep(st.Wanted[i].Type, t) {
				st.Wanted[i].Type = t
			}
		}
	}
	return st, nil
}

// inTx runs fn in a transaction, committed when fn succeeds.
func (dst *Destination) inTx(fn func(tx int64) error) error {
	tx, err := dst.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		dst.db.Rollback(tx)
		return err
	}
	return dst.db.Commit(tx)
}

func (dst *Destination) execAll(tx int64, table string, stmts []string) error {
	for _, s := range stmts {
		if _, err := dst.db.Exec(tx, s); err != nil {
			return fmt.Errorf("table %q: %s: %w", table, s, err)
		}
	}
	return nil
}

// Migrate applies the host's plan for one table.
func (dst *Destination) Migrate(req abi.MigrateRequest, schema *arrow.Schema) error {
	cols, err := dst.Columns(req.Table, schema)
	if err != nil {
		return err
	}
	qt := dst.d.Quote(req.Table)
	switch req.Action {
	case abi.MigrateCreate:
		return dst.inTx(func(tx int64) error { return dst.execAll(tx, req.Table, dst.d.CreateTable(req.Table, cols)) })
	case abi.MigrateRecreate:
		return dst.inTx(func(tx int64) error {
			if _, err := dst.db.Exec(tx, "DROP TABLE IF EXISTS "+qt); err != nil {
				return fmt.Errorf("table %q: drop: %w", req.Table, err)
			}
			return dst.execAll(tx, req.Table, dst.d.CreateTable(req.Table, cols))
		})
	case abi.MigrateAlter:
		return dst.inTx(func(tx int64) error { return dst.alter(tx, req, cols) })
	}
	return fmt.Errorf("table %q: unknown migrate action %q", req.Table, req.Action)
}

func (dst *Destination) alter(tx int64, req abi.MigrateRequest, cols []Column) error {
	byName := map[string]Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	exists, cur, err := dst.d.Current(dst.db, tx, req.Table)
	if err != nil {
		return fmt.Errorf("table %q: read the catalog: %w", req.Table, err)
	}
	if !exists {
		return fmt.Errorf("table %q does not exist: nothing to alter", req.Table)
	}
	for _, ch := range req.Changes {
		switch ch.Kind {
		case abi.ChangeRemoveColumn:
			// Kept: its rows keep their values, new rows get NULL.
		case abi.ChangeAddColumn:
			c, ok := byName[ch.Column]
			if !ok {
				return fmt.Errorf("table %q: add_column %q: not in the schema", req.Table, ch.Column)
			}
			c.NotNull, c.PK = false, false
			if err := dst.execAll(tx, req.Table, dst.d.AddColumn(req.Table, c)); err != nil {
				return err
			}
		case abi.ChangeRemoveUnique:
			if err := dst.d.DropUnique(dst.db, tx, req.Table, ch.Column); err != nil {
				return fmt.Errorf("table %q: drop the unique constraint of %q: %w", req.Table, ch.Column, err)
			}
		case abi.ChangeMovePKToCQID:
			if err := dst.d.MovePKToCQID(dst.db, tx, req.Table, cur, cols); err != nil {
				return fmt.Errorf("table %q: move the primary key to %s: %w", req.Table, abi.ColID, err)
			}
		default:
			return fmt.Errorf("table %q: change %s of column %q is not safe; the host sends such changes only with action recreate", req.Table, ch.Kind, ch.Column)
		}
	}
	return nil
}

// Write loads one batch, in one transaction: inserts, or upserts on the
// primary key when the schema has one (the last of duplicate keys wins).
// The guest states the policy (the statement, each column's encoding, the
// key) and the host loads the batch by reference: the rows never go
// through the guest (abi.SQLLoadRequest.Batch).
func (dst *Destination) Write(table string, records array.RecordReader) error {
	cols, err := dst.Columns(table, records.Schema())
	if err != nil {
		return err
	}
	upsert := hasPK(cols)
	req := dst.d.Load(table, cols, upsert)
	req.Batch = true
	req.Encodings = make([]string, len(cols))
	for i, c := range cols {
		req.Encodings[i] = c.Codec.Encoding()
		if upsert && c.PK {
			req.LastOfKeys = append(req.LastOfKeys, i)
		}
	}
	if _, err := dst.db.Load(req, records); err != nil {
		return fmt.Errorf("table %q: load: %w", table, err)
	}
	return nil
}

// DeleteStale deletes the rows of an earlier sync of the same source.
func (dst *Destination) DeleteStale(req abi.DeleteStaleRequest) error {
	t, err := time.Parse(time.RFC3339Nano, req.SyncTime)
	if err != nil {
		return fmt.Errorf("table %q: delete stale: sync_time %q: %w", req.Table, req.SyncTime, err)
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s = ? AND %s < ?", dst.d.Quote(req.Table), dst.d.Quote(abi.ColSourceName), dst.d.Quote(abi.ColSyncTime))
	if _, err := dst.db.Exec(0, q, req.SourceName, dst.d.SyncTimeArg(t.UTC())); err != nil {
		return fmt.Errorf("table %q: delete stale: %w", req.Table, err)
	}
	return nil
}

// Read emits every row of the table in schema, in pages of ReadPageRows,
// all read in one transaction.
func (dst *Destination) Read(table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	cols, err := dst.Columns(table, schema)
	if err != nil {
		return err
	}
	sel := make([]string, len(cols))
	types := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = dst.d.Quote(c.Name)
		if c.ReadExpr != "" {
			sel[i] = fmt.Sprintf(c.ReadExpr, sel[i])
		}
		types[i] = c.ReadType
	}
	query := "SELECT " + strings.Join(sel, ", ") + " FROM " + dst.d.Quote(table)
	return dst.inTx(func(tx int64) error {
		for offset := 0; ; offset += ReadPageRows {
			rdr, err := dst.db.Query(tx, types, fmt.Sprintf("%s LIMIT %d OFFSET %d", query, ReadPageRows, offset))
			if err != nil {
				return fmt.Errorf("table %q: read: %w", table, err)
			}
			n, err := dst.emitPage(rdr, schema, cols, emit)
			rdr.Release()
			if err != nil {
				return fmt.Errorf("table %q: read: %w", table, err)
			}
			if n < ReadPageRows {
				return nil
			}
		}
	})
}

func (dst *Destination) emitPage(rdr array.RecordReader, schema *arrow.Schema, cols []Column, emit func(arrow.RecordBatch) error) (int, error) {
	n := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		arrs := make([]arrow.Array, len(cols))
		release := func() {
			for _, a := range arrs {
				if a != nil {
					a.Release()
				}
			}
		}
		for i := range cols {
			a, err := cols[i].fromStored(rec.Column(i))
			if err != nil {
				release()
				return n, err
			}
			arrs[i] = a
		}
		out := array.NewRecordBatch(schema, arrs, rec.NumRows())
		release()
		n += int(rec.NumRows())
		err := emit(out)
		out.Release()
		if err != nil {
			return n, err
		}
	}
	return n, rdr.Err()
}
