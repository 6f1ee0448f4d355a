package sqldest

import (
	"fmt"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
)

// Rebuild replaces the table by one made with the dialect's CreateTable
// from cols (every column of the table, by name, as it should now be), for
// databases that cannot alter keys or drop constraints (SQLite, DuckDB): it
// creates the new table under another name, copies the rows, drops the old
// table and renames the new one, all in tx.
func Rebuild(db DB, tx int64, d Dialect, table string, cols []Column) error {
	tmp := table + "_wasmdest_rebuild"
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = d.Quote(c.Name)
	}
	list := strings.Join(names, ", ")
	stmts := append(d.CreateTable(tmp, cols),
		"INSERT INTO "+d.Quote(tmp)+" ("+list+") SELECT "+list+" FROM "+d.Quote(table),
		"DROP TABLE "+d.Quote(table),
		"ALTER TABLE "+d.Quote(tmp)+" RENAME TO "+d.Quote(table))
	for _, s := range stmts {
		if _, err := db.Exec(tx, s); err != nil {
			return fmt.Errorf("rebuild the table: %s: %w", s, err)
		}
	}
	return nil
}

// CurrentColumns are the columns of cur as Rebuild takes them.
func CurrentColumns(cur []abi.Column) []Column {
	out := make([]Column, len(cur))
	for i, c := range cur {
		out[i] = Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, PK: c.PrimaryKey, Unique: c.Unique}
	}
	return out
}

// MovePKToCQIDByRebuild is Dialect.MovePKToCQID by Rebuild: _cq_id the only
// key, former key columns NOT NULL only where cols (the wanted schema) has
// them so, every other column as it is.
func MovePKToCQIDByRebuild(db DB, tx int64, d Dialect, table string, cur []abi.Column, cols []Column) error {
	wanted := map[string]Column{}
	for _, c := range cols {
		wanted[c.Name] = c
	}
	next := CurrentColumns(cur)
	for i := range next {
		c := &next[i]
		if c.PK && c.Name != abi.ColID {
			w, ok := wanted[c.Name]
			c.NotNull = ok && w.NotNull
		}
		c.PK = c.Name == abi.ColID
		if c.PK {
			c.NotNull = true
		}
	}
	return Rebuild(db, tx, d, table, next)
}
