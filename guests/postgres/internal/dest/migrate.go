package dest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
)

// Migrate applies the host's plan for one table.
func (d *Destination) Migrate(req abi.MigrateRequest, schema *arrow.Schema) error {
	if err := d.EndHeld(); err != nil {
		return err
	}
	delete(d.stored, req.Table)
	defer delete(d.stored, req.Table)
	// New columns and tables take the mapping's types.
	cols, err := columns(req.Table, schema, d.mapping, nil)
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
		err := d.inTx(func(tx int64) error { return d.create(tx, req.Table, cols) })
		if err != nil && createRace(err) {
			// Another sync created the table since the host described it.
			// It is there: go on; the host describes it again and checks
			// that it is the table asked for.
			if cur, cerr := d.current(0, req.Table); cerr == nil && cur.exists {
				return nil
			}
		}
		return err
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

// createRace says whether err is CREATE TABLE losing a race with another
// session creating the same table: 42P07 (duplicate_table) when the other
// committed first, 23505 (unique_violation) on the catalog's name index when
// both ran at once.
func createRace(err error) bool {
	var he *abi.HostError
	if !errors.As(err, &he) {
		return false
	}
	switch he.SQLState {
	case "42P07":
		return true
	case "23505":
		return he.Constraint == "pg_type_typname_nsp_index" || he.Constraint == "pg_class_relname_nsp_index"
	}
	return false
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
