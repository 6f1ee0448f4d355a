// Package cqddl writes the DDL CloudQuery's own PostgreSQL destination
// (v8) issues for a table, from its documented mapping (pgarrow.ArrowToPg10
// and createTableIfNotExist; copied into guests/postgres/README.md) and
// independently of the guest's: tests create tables as CloudQuery would and
// check that the guest takes them over without a migration.
package cqddl

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// PgType is the column type CloudQuery's PostgreSQL destination declares
// for an Arrow type.
func PgType(dt arrow.DataType) string {
	switch {
	case arrowtypes.IsUUID(dt):
		return "uuid"
	case arrowtypes.IsJSON(dt):
		return "jsonb"
	case arrowtypes.IsMAC(dt):
		return "macaddr"
	case arrowtypes.IsInet(dt):
		return "inet"
	}
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return "boolean"
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Uint8Type:
		return "smallint"
	case *arrow.Int32Type, *arrow.Uint16Type:
		return "int"
	case *arrow.Int64Type, *arrow.Uint32Type:
		return "bigint"
	case *arrow.Uint64Type:
		return "numeric(20,0)"
	case *arrow.Float32Type:
		return "real"
	case *arrow.Float64Type:
		return "double precision"
	case arrow.DecimalType:
		return fmt.Sprintf("numeric(%d,%d)", t.GetPrecision(), t.GetScale())
	case *arrow.StringType:
		return "text"
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "bytea"
	case *arrow.TimestampType:
		return "timestamp without time zone"
	case *arrow.Time32Type, *arrow.Time64Type:
		return "time without time zone"
	case *arrow.Date32Type, *arrow.Date64Type:
		return "date"
	case *arrow.ListType:
		return PgType(t.Elem()) + "[]"
	case *arrow.LargeListType:
		return PgType(t.Elem()) + "[]"
	case *arrow.FixedSizeListType:
		return PgType(t.Elem()) + "[]"
	}
	return "text" // maps, structs, durations, intervals, float16, large_utf8, ...
}

// CreateTable is the CREATE TABLE CloudQuery's PostgreSQL destination
// issues for s (its createTableIfNotExist, overwrite modes).
func CreateTable(s *arrow.Schema) string {
	table := schema.TableName(s)
	var defs, pk []string
	for _, f := range s.Fields() {
		d := `"` + f.Name + `" ` + PgType(f.Type)
		if arrowtypes.IsUnique(f) {
			d += " UNIQUE"
		}
		if !f.Nullable || arrowtypes.IsPrimaryKey(f) {
			d += " NOT NULL"
		}
		defs = append(defs, d)
		if arrowtypes.IsPrimaryKey(f) {
			pk = append(pk, `"`+f.Name+`"`)
		}
	}
	sql := `CREATE TABLE IF NOT EXISTS "` + table + `" (` + strings.Join(defs, ",")
	if len(pk) > 0 {
		sql += `, CONSTRAINT "` + table + `_cqpk" PRIMARY KEY (` + strings.Join(pk, ",") + ")"
	}
	return sql + ")"
}
