package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// CloudQuery table definitions as `cloudquery tables --format json` writes
// them (the plugin SDK's docs generator, file __tables.json): an array of
//
//	{"name": "t", "title": ..., "description": ...,
//	 "columns": [{"name": "id", "type": "int64", "is_primary_key": true,
//	              "is_incremental_key": true}, ...],
//	 "relations": [<tables of the same form>]}
//
// A column's type is the Arrow type as arrow-go's DataType.String prints it
// ("int64", "utf8", "timestamp[us, tz=UTC]", "list<item: utf8, nullable>",
// "struct<a: int64 nullable>", "decimal(19, 10)", ...); CloudQuery's
// extension types are "uuid", "json", "inet" and "mac" (also accepted as
// "extension<uuid>" and so on). Besides the generator's keys a column may
// say "primary_key", "incremental_key", "not_null" and "unique".

// cqTable is one table of a CloudQuery table definition file.
type cqTable struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Columns     []cqColumn `json:"columns"`
	Relations   []cqTable  `json:"relations"`
}

// cqColumn is one column of a cqTable.
type cqColumn struct {
	Name             string `json:"name"`
	Type             string `json:"type"`
	IsPrimaryKey     bool   `json:"is_primary_key"`
	PrimaryKey       bool   `json:"primary_key"`
	IsIncrementalKey bool   `json:"is_incremental_key"`
	IncrementalKey   bool   `json:"incremental_key"`
	NotNull          bool   `json:"not_null"`
	Unique           bool   `json:"unique"`
}

// IsCloudQueryTables reports whether data looks like a CloudQuery table
// definition (JSON) rather than an Arrow IPC file or stream.
func IsCloudQueryTables(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '[' || t[0] == '{')
}

// ParseCloudQueryTables returns the schemas of the tables (relations
// included) of a CloudQuery table definition: one JSON table or an array
// of them. CloudQuery's internal columns (_cq_id, _cq_parent_id,
// _cq_source_name, _cq_sync_time, _cq_sync_group_id) are left out: the host
// adds them. name names the file in errors.
func ParseCloudQueryTables(name string, data []byte) ([]*arrow.Schema, error) {
	// Keys beyond these (title, future ones) are ignored.
	var tables []cqTable
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(t) > 0 && t[0] == '{' {
		var one cqTable
		if err := json.Unmarshal(t, &one); err != nil {
			return nil, fmt.Errorf("%s: not a CloudQuery table definition (JSON as `cloudquery tables --format json` writes it): %w", name, err)
		}
		tables = []cqTable{one}
	} else if err := json.Unmarshal(t, &tables); err != nil {
		return nil, fmt.Errorf("%s: not a CloudQuery table definition (a JSON array of tables as `cloudquery tables --format json` writes it): %w", name, err)
	}
	var out []*arrow.Schema
	var walk func(ts []cqTable) error
	walk = func(ts []cqTable) error {
		for _, tb := range ts {
			sc, err := tb.schema()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, sc)
			if err := walk(tb.Relations); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(tables); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the CloudQuery table definition has no tables", name)
	}
	return out, nil
}

// internalColumns are CloudQuery's columns the host adds itself.
var internalColumns = map[string]bool{
	abi.ColID: true, abi.ColParentID: true, abi.ColSourceName: true, abi.ColSyncTime: true, abi.ColSyncGroupID: true,
}

func (tb cqTable) schema() (*arrow.Schema, error) {
	if tb.Name == "" {
		return nil, errors.New("a table has no \"name\"")
	}
	var fields []arrow.Field
	seen := map[string]bool{}
	for i, c := range tb.Columns {
		if c.Name == "" {
			return nil, fmt.Errorf("table %q: column %d has no \"name\"", tb.Name, i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("table %q: column %q is given twice", tb.Name, c.Name)
		}
		seen[c.Name] = true
		if internalColumns[c.Name] {
			continue
		}
		dt, err := ParseArrowType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("table %q, column %q: %w", tb.Name, c.Name, err)
		}
		pk := c.IsPrimaryKey || c.PrimaryKey
		var keys, vals []string
		add := func(on bool, key string) {
			if on {
				keys, vals = append(keys, key), append(vals, abi.MetaTrue)
			}
		}
		add(pk, abi.MetaPrimaryKey)
		add(c.Unique, abi.MetaUnique)
		add(c.IsIncrementalKey || c.IncrementalKey, abi.MetaIncremental)
		fields = append(fields, arrow.Field{Name: c.Name, Type: dt, Nullable: !(pk || c.NotNull), Metadata: arrow.NewMetadata(keys, vals)})
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("table %q has no columns (besides CloudQuery's internal ones)", tb.Name)
	}
	keys, vals := []string{abi.MetaTableName}, []string{tb.Name}
	if tb.Description != "" {
		keys, vals = append(keys, abi.MetaTableDesc), append(vals, tb.Description)
	}
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &md), nil
}

// ParseArrowType parses an Arrow type as arrow-go's DataType.String prints
// it, with CloudQuery's extension types named "uuid", "json", "inet" and
// "mac" (or "extension<uuid>", ...).
func ParseArrowType(s string) (arrow.DataType, error) {
	p := &typeParser{s: s}
	dt, err := p.typ()
	if err == nil {
		p.ws()
		if p.pos != len(p.s) {
			err = p.errorf("unexpected %q", p.s[p.pos:])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("type %q: %w (types are written as Arrow prints them: int64, utf8, timestamp[us, tz=UTC], decimal(19, 10), list<item: utf8, nullable>, struct<a: int64 nullable>, uuid, json, inet, mac, ...)", s, err)
	}
	return dt, nil
}

type typeParser struct {
	s   string
	pos int
}

func (p *typeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.pos + 1}, args...)...)
}

func (p *typeParser) ws() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

// word reads a name: letters, digits, '_' and '.'.
func (p *typeParser) word() string {
	p.ws()
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *typeParser) eat(lit string) bool {
	p.ws()
	if strings.HasPrefix(p.s[p.pos:], lit) {
		p.pos += len(lit)
		return true
	}
	return false
}

func (p *typeParser) expect(lit string) error {
	if !p.eat(lit) {
		return p.errorf("want %q", lit)
	}
	return nil
}

func (p *typeParser) int() (int, error) {
	p.ws()
	start := p.pos
	for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.pos == start && p.s[p.pos] == '-') {
		p.pos++
	}
	n, err := strconv.Atoi(p.s[start:p.pos])
	if err != nil {
		return 0, p.errorf("want a number")
	}
	return n, nil
}

func (p *typeParser) unit() (arrow.TimeUnit, error) {
	switch w := p.word(); w {
	case "s":
		return arrow.Second, nil
	case "ms":
		return arrow.Millisecond, nil
	case "us":
		return arrow.Microsecond, nil
	case "ns":
		return arrow.Nanosecond, nil
	default:
		return 0, p.errorf("time unit %q is not s, ms, us or ns", w)
	}
}

var simpleTypes = map[string]arrow.DataType{
	"null": arrow.Null, "bool": arrow.FixedWidthTypes.Boolean,
	"int8": arrow.PrimitiveTypes.Int8, "int16": arrow.PrimitiveTypes.Int16, "int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
	"uint8": arrow.PrimitiveTypes.Uint8, "uint16": arrow.PrimitiveTypes.Uint16, "uint32": arrow.PrimitiveTypes.Uint32, "uint64": arrow.PrimitiveTypes.Uint64,
	"float16": arrow.FixedWidthTypes.Float16, "float32": arrow.PrimitiveTypes.Float32, "float64": arrow.PrimitiveTypes.Float64,
	"utf8": arrow.BinaryTypes.String, "large_utf8": arrow.BinaryTypes.LargeString, "utf8_view": arrow.BinaryTypes.StringView,
	"binary": arrow.BinaryTypes.Binary, "large_binary": arrow.BinaryTypes.LargeBinary, "binary_view": arrow.BinaryTypes.BinaryView,
	"date32": arrow.FixedWidthTypes.Date32, "date64": arrow.FixedWidthTypes.Date64,
	"month_interval": arrow.FixedWidthTypes.MonthInterval, "day_time_interval": arrow.FixedWidthTypes.DayTimeInterval,
	"month_day_nano_interval": arrow.FixedWidthTypes.MonthDayNanoInterval,
}

func extensionType(name string) arrow.DataType {
	switch name {
	case abi.ExtUUID, abi.ExtCanonicalUUID:
		return arrowtypes.NewUUIDType()
	case abi.ExtJSON, abi.ExtCanonicalJSON:
		return arrowtypes.NewJSONType()
	case abi.ExtInet:
		return arrowtypes.NewInetType()
	case abi.ExtMAC:
		return arrowtypes.NewMACType()
	}
	return nil
}

func (p *typeParser) typ() (arrow.DataType, error) {
	at := p.pos
	w := p.word()
	if dt, ok := simpleTypes[w]; ok {
		return dt, nil
	}
	if dt := extensionType(w); dt != nil {
		return dt, nil
	}
	switch w {
	case "extension":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		name := p.word()
		dt := extensionType(name)
		if dt == nil {
			return nil, p.errorf("extension type %q is not uuid, json, inet or mac", name)
		}
		return dt, p.expect(">")
	case "timestamp", "time32", "time64", "duration":
		if err := p.expect("["); err != nil {
			return nil, err
		}
		u, err := p.unit()
		if err != nil {
			return nil, err
		}
		tz := ""
		if w == "timestamp" && p.eat(",") {
			if err := p.expect("tz="); err != nil {
				return nil, err
			}
			end := strings.IndexByte(p.s[p.pos:], ']')
			if end < 0 {
				return nil, p.errorf("want \"]\"")
			}
			tz = strings.TrimSpace(p.s[p.pos : p.pos+end])
			p.pos += end
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		switch w {
		case "timestamp":
			return &arrow.TimestampType{Unit: u, TimeZone: tz}, nil
		case "duration":
			return &arrow.DurationType{Unit: u}, nil
		case "time32":
			if u != arrow.Second && u != arrow.Millisecond {
				return nil, p.errorf("time32 takes s or ms")
			}
			return &arrow.Time32Type{Unit: u}, nil
		default:
			if u != arrow.Microsecond && u != arrow.Nanosecond {
				return nil, p.errorf("time64 takes us or ns")
			}
			return &arrow.Time64Type{Unit: u}, nil
		}
	case "decimal", "decimal128", "decimal256", "decimal32", "decimal64":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		prec, err := p.int()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		scale, err := p.int()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		id := arrow.DECIMAL128
		switch w {
		case "decimal256":
			id = arrow.DECIMAL256
		case "decimal32":
			id = arrow.DECIMAL32
		case "decimal64":
			id = arrow.DECIMAL64
		}
		dt, err := arrow.NewDecimalType(id, int32(prec), int32(scale))
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		return dt, nil
	case "fixed_size_binary":
		if err := p.expect("["); err != nil {
			return nil, err
		}
		n, err := p.int()
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, p.errorf("fixed_size_binary needs a width of at least 1")
		}
		return &arrow.FixedSizeBinaryType{ByteWidth: n}, p.expect("]")
	case "list", "large_list", "fixed_size_list":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		name := p.word()
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		elem, err := p.typ()
		if err != nil {
			return nil, err
		}
		nullable := p.eat(", nullable")
		if err := p.expect(">"); err != nil {
			return nil, err
		}
		f := arrow.Field{Name: name, Type: elem, Nullable: nullable}
		switch w {
		case "list":
			return arrow.ListOfField(f), nil
		case "large_list":
			return arrow.LargeListOfField(f), nil
		default:
			if err := p.expect("["); err != nil {
				return nil, err
			}
			n, err := p.int()
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, p.errorf("fixed_size_list needs a length of at least 0")
			}
			return arrow.FixedSizeListOfField(int32(n), f), p.expect("]")
		}
	case "struct":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		var fields []arrow.Field
		for !p.eat(">") {
			if len(fields) > 0 {
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
			name := p.word()
			if name == "" {
				return nil, p.errorf("want a struct field name")
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			ft, err := p.typ()
			if err != nil {
				return nil, err
			}
			nullable := p.eat("nullable")
			fields = append(fields, arrow.Field{Name: name, Type: ft, Nullable: nullable})
		}
		return arrow.StructOf(fields...), nil
	case "map":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		k, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		v, err := p.typ()
		if err != nil {
			return nil, err
		}
		sorted := p.eat(", keys_sorted")
		itemsNullable := true
		if !p.eat(", items_nullable") && p.eat(", items_non_nullable") {
			itemsNullable = false
		}
		if err := p.expect(">"); err != nil {
			return nil, err
		}
		m := arrow.MapOfWithMetadata(k, arrow.Metadata{}, v, arrow.Metadata{})
		if !itemsNullable {
			m = arrow.MapOfFields(arrow.Field{Name: "key", Type: k}, arrow.Field{Name: "value", Type: v, Nullable: false})
		}
		m.KeysSorted = sorted
		return m, nil
	}
	p.pos = at
	return nil, p.errorf("unknown type %q", w)
}
