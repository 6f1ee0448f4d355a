// Package dialect is the MySQL 8 and MariaDB 10.11 sqldest.Dialect: types
// (see the table in guests/mysql/README.md), DDL, catalog and LOAD DATA
// LOCAL INFILE statements.
package dialect

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/sqldest"
)

// KeyTextLength is the length of text and binary columns in a primary key
// or unique constraint: InnoDB indexes at most 3072 bytes, and a TEXT or
// BLOB column only by a prefix.
const KeyTextLength = 255

// MySQL is the dialect. MariaDB is set by Init from the server's version.
type MySQL struct {
	// MariaDB is true on MariaDB, whose JSON is LONGTEXT (with a check).
	MariaDB bool
	// Version is the server's version string.
	Version string
}

// Name implements sqldest.Dialect.
func (d *MySQL) Name() string {
	if d.MariaDB {
		return "MariaDB"
	}
	return "MySQL"
}

// Init asks the server for its version.
func (d *MySQL) Init(db sqldest.DB) error {
	rdr, err := db.Query(0, []string{abi.SQLTypeUTF8}, "SELECT VERSION()")
	if err != nil {
		return fmt.Errorf("ask the server's version: %w", err)
	}
	defer rdr.Release()
	for rdr.Next() {
		if rec := rdr.RecordBatch(); rec.NumRows() > 0 {
			d.Version = rec.Column(0).(*array.String).Value(0)
		}
	}
	d.MariaDB = strings.Contains(strings.ToLower(d.Version), "mariadb")
	return rdr.Err()
}

// Quote quotes an identifier with backticks.
func (*MySQL) Quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func (d *MySQL) jsonType() string {
	if d.MariaDB {
		return "longtext"
	}
	return "json"
}

var (
	native = sqldest.NativeAs
	text   = sqldest.TextAs
)

// types are the column types; the JSON type is MariaDB's or MySQL's.
func (d *MySQL) types() sqldest.TypeMap {
	json := sqldest.Stored{Type: d.jsonType(), Codec: sqldest.JSON}
	return sqldest.TypeMap{
		Database: d.Name(),
		UUID:     native("binary(16)"), Inet: text("varchar(64)"), MAC: text("varchar(64)"), JSON: json,
		Bool:    native("tinyint(1)"),
		Int:     [4]sqldest.Stored{native("tinyint"), native("smallint"), native("int"), native("bigint")},
		Uint:    [4]sqldest.Stored{native("tinyint unsigned"), native("smallint unsigned"), native("int unsigned"), native("bigint unsigned")},
		Float32: native("float"), Float64: native("double"),
		String: native("longtext"), Binary: native("longblob"),
		Date: native("date"), Time: text("time(6)"),
		Timestamp: native("datetime(6)"),
		Duration:  native("bigint"),
		Decimal: func(t *arrow.Decimal128Type) sqldest.Stored {
			if t.Precision > 65 || t.Scale > 30 {
				return text("varchar(80)")
			}
			return native(fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale))
		},
		Nested: json,
	}
}

// Column maps an Arrow type to a column type (types), with text and binary
// in keys of a bounded length, fixed-size binary at its size and times at
// their unit's precision.
func (d *MySQL) Column(c *sqldest.Column) error {
	types := d.types()
	if err := types.Map(c); err != nil {
		return err
	}
	dt := c.Field.Type
	key := c.PK || c.Unique
	if _, ext := dt.(arrow.ExtensionType); !ext {
		switch t := dt.(type) {
		case *arrow.StringType, *arrow.LargeStringType:
			if key {
				c.Type = fmt.Sprintf("varchar(%d)", KeyTextLength)
			}
		case *arrow.BinaryType, *arrow.LargeBinaryType:
			if key {
				c.Type = fmt.Sprintf("varbinary(%d)", KeyTextLength)
			}
		case *arrow.FixedSizeBinaryType:
			c.Type = fmt.Sprintf("binary(%d)", t.ByteWidth)
		case *arrow.Time32Type:
			c.Type = "time"
			if t.Unit == arrow.Millisecond {
				c.Type = "time(3)"
			}
		}
	}
	if dt.ID() == arrow.FLOAT32 {
		// The text protocol writes a FLOAT with 6 digits ("3.40282e+38");
		// its DOUBLE has them all.
		c.ReadExpr = "CAST(%s AS DOUBLE)"
	}
	return nil
}

// Keep lets a text or binary column that lost its key keep its VARCHAR or
// VARBINARY type (its values fit it), and a key column stored as such keep
// it: only the length differs, not what the values are.
func (*MySQL) Keep(wanted, current string) bool {
	family := func(t string) string {
		switch {
		case t == "longtext" || strings.HasPrefix(t, "varchar("):
			return "text"
		case t == "longblob" || strings.HasPrefix(t, "varbinary("):
			return "binary"
		}
		return ""
	}
	f := family(wanted)
	return f != "" && f == family(current)
}

// intWidth matches the display width MariaDB and MySQL before 8.0.19 write
// after integer types ("int(11)"), which says nothing of the storage.
var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|bigint)\(\d+\)`)

// normalType is a COLUMN_TYPE as Column writes types.
func normalType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "tinyint(1)" {
		return t
	}
	return intWidth.ReplaceAllString(t, "$1")
}

// Current reads the table from information_schema in the connection's database.
func (d *MySQL) Current(db sqldest.DB, tx int64, table string) (bool, []abi.Column, error) {
	cols, err := sqldest.CatalogColumns(db, tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeUTF8},
		`SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS
		 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
		func(rec arrow.RecordBatch, i int) abi.Column {
			s := func(c int) string { return rec.Column(c).(*array.String).Value(i) }
			return abi.Column{Name: s(0), Type: normalType(s(1)), NotNull: s(2) == "NO", PrimaryKey: s(3) == "PRI"}
		}, table)
	if err != nil || len(cols) == 0 {
		return false, nil, err
	}
	uniq, err := d.uniqueIndexes(db, tx, table)
	if err != nil {
		return false, nil, err
	}
	for i := range cols {
		cols[i].Unique = len(uniq[cols[i].Name]) > 0
	}
	return true, cols, nil
}

// uniqueIndexes maps each column with a single-column unique index (not
// the primary key) to those indexes' names.
func (d *MySQL) uniqueIndexes(db sqldest.DB, tx int64, table string) (map[string][]string, error) {
	rdr, err := db.Query(tx, []string{abi.SQLTypeUTF8, abi.SQLTypeUTF8},
		`SELECT INDEX_NAME, MIN(COLUMN_NAME) FROM information_schema.STATISTICS
		 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'
		 GROUP BY INDEX_NAME HAVING COUNT(*) = 1`, table)
	if err != nil {
		return nil, err
	}
	return sqldest.IndexColumns(rdr)
}

func (d *MySQL) columnDDL(name, typ string, notNull bool) string {
	s := d.Quote(name) + " " + typ
	if notNull {
		s += " NOT NULL"
	} else {
		s += " NULL"
	}
	return s
}

// uniqueName names a column's unique index, within MySQL's 64 characters.
func uniqueName(column string) string {
	n := column + "_key"
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// CreateTable creates the table, in utf8mb4 with the binary collation (so
// that keys compare as the source's strings do), with its primary key and
// unique keys.
func (d *MySQL) CreateTable(table string, cols []sqldest.Column) []string {
	var defs, pk []string
	for _, c := range cols {
		defs = append(defs, d.columnDDL(c.Name, c.Type, c.NotNull))
		if c.PK {
			pk = append(pk, d.Quote(c.Name))
		}
	}
	if len(pk) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
	}
	for _, c := range cols {
		if c.Unique && !c.PK {
			defs = append(defs, "UNIQUE KEY "+d.Quote(uniqueName(c.Name))+" ("+d.Quote(c.Name)+")")
		}
	}
	return []string{"CREATE TABLE " + d.Quote(table) + " (" + strings.Join(defs, ", ") + ") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"}
}

// AddColumn adds a nullable column (and its unique key).
func (d *MySQL) AddColumn(table string, c sqldest.Column) []string {
	s := "ALTER TABLE " + d.Quote(table) + " ADD COLUMN " + d.columnDDL(c.Name, c.Type, false)
	if c.Unique {
		s += ", ADD UNIQUE KEY " + d.Quote(uniqueName(c.Name)) + " (" + d.Quote(c.Name) + ")"
	}
	return []string{s}
}

// DropUnique drops the column's single-column unique indexes.
func (d *MySQL) DropUnique(db sqldest.DB, tx int64, table, column string) error {
	uniq, err := d.uniqueIndexes(db, tx, table)
	if err != nil {
		return err
	}
	for _, idx := range uniq[column] {
		if _, err := db.Exec(tx, "ALTER TABLE "+d.Quote(table)+" DROP INDEX "+d.Quote(idx)); err != nil {
			return err
		}
	}
	return nil
}

// MovePKToCQID drops the primary key, makes former key columns that the
// schema has nullable NULL, and makes _cq_id the key, in one ALTER TABLE.
func (d *MySQL) MovePKToCQID(db sqldest.DB, tx int64, table string, cur []abi.Column, cols []sqldest.Column) error {
	wanted := map[string]sqldest.Column{}
	for _, c := range cols {
		wanted[c.Name] = c
	}
	parts := []string{"DROP PRIMARY KEY"}
	for _, c := range cur {
		if !c.PrimaryKey || c.Name == abi.ColID {
			continue
		}
		if w, ok := wanted[c.Name]; !ok || !w.NotNull {
			parts = append(parts, "MODIFY COLUMN "+d.columnDDL(c.Name, c.Type, false))
		}
	}
	parts = append(parts, "ADD PRIMARY KEY ("+d.Quote(abi.ColID)+")")
	_, err := db.Exec(tx, "ALTER TABLE "+d.Quote(table)+" "+strings.Join(parts, ", "))
	return err
}

// Load is a LOAD DATA LOCAL INFILE of the rows in its default text format;
// upserts REPLACE the rows of a key (the rows have no duplicate keys).
func (d *MySQL) Load(table string, cols []sqldest.Column, upsert bool) abi.SQLLoadRequest {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = d.Quote(c.Name)
	}
	verb := ""
	if upsert {
		verb = " REPLACE"
	}
	return abi.SQLLoadRequest{Method: abi.SQLLoadInfile, SQL: "LOAD DATA LOCAL INFILE " + abi.SQLLoadSource + verb +
		" INTO TABLE " + d.Quote(table) + " CHARACTER SET binary" +
		` FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (` + strings.Join(names, ", ") + ")"}
}

// SyncTimeArg is _cq_sync_time as DATETIME(6) text.
func (*MySQL) SyncTimeArg(t time.Time) any { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// TransactionalDDL: MySQL commits DDL at once.
func (*MySQL) TransactionalDDL() bool { return false }
