package codec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"

	// arrow-go's builders unmarshal with goccy/go-json's Decoder.
	"github.com/goccy/go-json"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

var mem = memory.DefaultAllocator

// Convert returns arr as an array of type want. It is how records become
// what a format stores (see parquetType) and how what a reader returns
// becomes the original types again. It handles, recursively through
// structs and lists:
//
//   - extension types and their storage, either way;
//   - binary and utf8 (and their large forms), which share a layout;
//   - int64 and duration, int32 and month_interval;
//   - day_time and month_day_nano intervals and structs of their parts;
//   - unit changes of time32, time64, timestamps, dates and durations;
//   - text (utf8) in a value's JSON Lines form, for any type;
//   - views, decimal32/64 and dictionaries, and their plain forms (widen.go).
//
// The result must be released.
func Convert(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	got := arr.DataType()
	if arrow.TypeEqual(got, want) {
		arr.Retain()
		return arr, nil
	}
	// "mac" holds raw address bytes (CloudQuery's encoding): its text is
	// net.HardwareAddr's, both ways.
	if m, ok := arr.(*arrowtypes.MACArray); ok && (want.ID() == arrow.STRING || want.ID() == arrow.LARGE_STRING) {
		return macToText(m, want), nil
	}
	if arrowtypes.IsMAC(want) && (got.ID() == arrow.STRING || got.ID() == arrow.LARGE_STRING) {
		return textToMAC(arr, want)
	}
	if ext, ok := arr.(array.ExtensionArray); ok {
		return Convert(ext.Storage(), want)
	}
	if wext, ok := want.(arrow.ExtensionType); ok {
		st, err := Convert(arr, wext.StorageType())
		if err != nil {
			return nil, err
		}
		defer st.Release()
		return array.NewExtensionArrayWithStorage(wext, st), nil
	}
	if sameLayout(got, want) {
		return retype(arr, want), nil
	}
	if out, ok, err := convertSpecial(arr, want); ok {
		return out, err
	}
	switch want.ID() {
	case arrow.STRUCT:
		switch got.ID() {
		case arrow.STRUCT:
			return convertStruct(arr.(*array.Struct), want.(*arrow.StructType))
		case arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO:
			return intervalToStruct(arr, want.(*arrow.StructType))
		}
	case arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO:
		if got.ID() == arrow.STRUCT {
			return structToInterval(arr.(*array.Struct), want)
		}
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		if got.ID() == want.ID() {
			return convertList(arr, want)
		}
	case arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.DURATION:
		if _, ok := temporal(got); ok {
			return convertTemporal(arr, want)
		}
	}
	if got.ID() == arrow.STRING || got.ID() == arrow.LARGE_STRING {
		return parseText(arr, want)
	}
	return nil, fmt.Errorf("cannot convert %s to %s", got, want)
}

func macToText(m *arrowtypes.MACArray, want arrow.DataType) arrow.Array {
	b := array.NewBuilder(mem, want)
	defer b.Release()
	for i := 0; i < m.Len(); i++ {
		if m.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch sb := b.(type) {
		case *array.StringBuilder:
			sb.Append(m.Value(i))
		case *array.LargeStringBuilder:
			sb.Append(m.Value(i))
		}
	}
	return b.NewArray()
}

func textToMAC(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	b := array.NewBuilder(mem, want)
	defer b.Release()
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		if err := b.AppendValueFromString(arr.ValueStr(i)); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// sameLayout reports whether arrays of got can be read as want unchanged.
func sameLayout(got, want arrow.DataType) bool {
	pair := func(a, b arrow.Type) bool {
		g, w := got.ID(), want.ID()
		return (g == a && w == b) || (g == b && w == a)
	}
	switch {
	case pair(arrow.BINARY, arrow.STRING), pair(arrow.LARGE_BINARY, arrow.LARGE_STRING):
		return true
	case pair(arrow.INT64, arrow.DURATION), pair(arrow.INT32, arrow.INTERVAL_MONTHS):
		return true
	case got.ID() == arrow.FIXED_SIZE_BINARY && want.ID() == arrow.FIXED_SIZE_BINARY:
		return got.(*arrow.FixedSizeBinaryType).ByteWidth == want.(*arrow.FixedSizeBinaryType).ByteWidth
	}
	return false
}

// retype returns arr's buffers as an array of dt, which has the same layout.
func retype(arr arrow.Array, dt arrow.DataType) arrow.Array {
	d := arr.Data()
	nd := array.NewData(dt, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

func convertStruct(arr *array.Struct, want *arrow.StructType) (arrow.Array, error) {
	d := arr.Data()
	got := arr.DataType().(*arrow.StructType)
	children := make([]arrow.ArrayData, want.NumFields())
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range want.Fields() {
		j, ok := got.FieldIdx(f.Name)
		if !ok && i < got.NumFields() && got.NumFields() == want.NumFields() {
			j, ok = i, true
		}
		var child arrow.Array
		if ok {
			// The unsliced child: the struct's offset applies to it.
			src := array.MakeFromData(d.Children()[j])
			c, err := Convert(src, f.Type)
			src.Release()
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			child = c
		} else {
			child = array.MakeArrayOfNull(mem, f.Type, d.Offset()+d.Len())
		}
		children[i] = child.Data()
		children[i].Retain()
		child.Release()
	}
	nd := array.NewData(want, d.Len(), d.Buffers()[:1], children, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

func convertList(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	d := arr.Data()
	src := array.MakeFromData(d.Children()[0])
	defer src.Release()
	child, err := Convert(src, want.(arrow.ListLikeType).Elem())
	if err != nil {
		return nil, fmt.Errorf("list element: %w", err)
	}
	defer child.Release()
	nd := array.NewData(want, d.Len(), d.Buffers(), []arrow.ArrayData{child.Data()}, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

// The parts of intervals, as struct fields (parquetType) and JSON keys.
var (
	dayTimeStruct = arrow.StructOf(
		arrow.Field{Name: "days", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "milliseconds", Type: arrow.PrimitiveTypes.Int32})
	monthDayNanoStruct = arrow.StructOf(
		arrow.Field{Name: "months", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "days", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "nanoseconds", Type: arrow.PrimitiveTypes.Int64})
)

func intervalToStruct(arr arrow.Array, want *arrow.StructType) (arrow.Array, error) {
	b := array.NewStructBuilder(mem, want)
	defer b.Release()
	ints := func(k int) func(int64) {
		switch fb := b.FieldBuilder(k).(type) {
		case *array.Int32Builder:
			return func(v int64) { fb.Append(int32(v)) }
		case *array.Int64Builder:
			return fb.Append
		}
		return nil
	}
	if want.NumFields() != 2 && want.NumFields() != 3 {
		return nil, fmt.Errorf("cannot convert %s to %s", arr.DataType(), want)
	}
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(true)
		var parts []int64
		switch a := arr.(type) {
		case *array.DayTimeInterval:
			v := a.Value(i)
			parts = []int64{int64(v.Days), int64(v.Milliseconds)}
		case *array.MonthDayNanoInterval:
			v := a.Value(i)
			parts = []int64{int64(v.Months), int64(v.Days), v.Nanoseconds}
		}
		if len(parts) != want.NumFields() {
			return nil, fmt.Errorf("cannot convert %s to %s", arr.DataType(), want)
		}
		for k, p := range parts {
			app := ints(k)
			if app == nil {
				return nil, fmt.Errorf("cannot convert %s to %s", arr.DataType(), want)
			}
			app(p)
		}
	}
	return b.NewArray(), nil
}

func structToInterval(arr *array.Struct, want arrow.DataType) (arrow.Array, error) {
	st := arr.DataType().(*arrow.StructType)
	part := func(name string) (func(int) int64, error) {
		k, ok := st.FieldIdx(name)
		if !ok {
			return nil, fmt.Errorf("cannot convert %s to %s: no field %q", st, want, name)
		}
		switch c := arr.Field(k).(type) {
		case *array.Int32:
			return func(i int) int64 { return int64(c.Value(i)) }, nil
		case *array.Int64:
			return c.Value, nil
		}
		return nil, fmt.Errorf("cannot convert %s to %s: field %q is not an integer", st, want, name)
	}
	switch want.ID() {
	case arrow.INTERVAL_DAY_TIME:
		days, err1 := part("days")
		ms, err2 := part("milliseconds")
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w%w", err1, err2)
		}
		b := array.NewDayTimeIntervalBuilder(mem)
		defer b.Release()
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.DayTimeInterval{Days: int32(days(i)), Milliseconds: int32(ms(i))})
		}
		return b.NewArray(), nil
	default:
		months, err1 := part("months")
		days, err2 := part("days")
		ns, err3 := part("nanoseconds")
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%w%w%w", err1, err2, err3)
		}
		b := array.NewMonthDayNanoIntervalBuilder(mem)
		defer b.Release()
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.MonthDayNanoInterval{Months: int32(months(i)), Days: int32(days(i)), Nanoseconds: ns(i)})
		}
		return b.NewArray(), nil
	}
}

// temporal returns the nanoseconds per unit of a temporal type (days for
// dates count as 86400e9).
func temporal(dt arrow.DataType) (int64, bool) {
	switch t := dt.(type) {
	case *arrow.Time32Type:
		return int64(t.Unit.Multiplier()), true
	case *arrow.Time64Type:
		return int64(t.Unit.Multiplier()), true
	case *arrow.TimestampType:
		return int64(t.Unit.Multiplier()), true
	case *arrow.DurationType:
		return int64(t.Unit.Multiplier()), true
	case *arrow.Date32Type:
		return 86400e9, true
	case *arrow.Date64Type:
		return 1e6, true
	}
	return 0, false
}

// convertTemporal changes the unit of a temporal array. Converting to a
// coarser unit truncates toward zero.
func convertTemporal(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	from, _ := temporal(arr.DataType())
	to, _ := temporal(want)
	conv := func(v int64) int64 {
		if from >= to {
			return v * (from / to)
		}
		return v / (to / from)
	}
	var value func(int) int64
	switch a := arr.(type) {
	case *array.Time32:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Time64:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Timestamp:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Duration:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date32:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date64:
		value = func(i int) int64 { return int64(a.Value(i)) }
	default:
		return nil, fmt.Errorf("cannot convert %s to %s", arr.DataType(), want)
	}
	b := array.NewBuilder(mem, want)
	defer b.Release()
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := conv(value(i))
		switch bb := b.(type) {
		case *array.Time32Builder:
			bb.Append(arrow.Time32(v))
		case *array.Time64Builder:
			bb.Append(arrow.Time64(v))
		case *array.TimestampBuilder:
			bb.Append(arrow.Timestamp(v))
		case *array.DurationBuilder:
			bb.Append(arrow.Duration(v))
		case *array.Date32Builder:
			bb.Append(arrow.Date32(v))
		case *array.Date64Builder:
			bb.Append(arrow.Date64(v))
		}
	}
	return b.NewArray(), nil
}

// parseText turns text cells in a value's JSON Lines form (strings without
// their quotes) into an array of want. This is how CSV cells of types the
// CSV reader cannot parse (times, durations, intervals, structs) come back.
func parseText(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	str := func(i int) string { return arr.(interface{ Value(int) string }).Value(i) }
	if d, ok := want.(*arrow.DurationType); ok {
		b := array.NewDurationBuilder(mem, d)
		defer b.Release()
		for i := 0; i < arr.Len(); i++ {
			if arr.IsNull(i) {
				b.AppendNull()
				continue
			}
			v, err := ParseDuration(str(i), d.Unit)
			if err != nil {
				return nil, err
			}
			b.Append(v)
		}
		return b.NewArray(), nil
	}
	twin := jsonTwin(want)
	b := array.NewBuilder(mem, twin)
	defer b.Release()
	quote := jsonStringForm(want)
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		text := str(i)
		if quote {
			q, _ := json.Marshal(text)
			text = string(q)
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := b.UnmarshalOne(dec); err != nil {
			return nil, fmt.Errorf("%.60q is not a %s: %w", str(i), want, err)
		}
	}
	tw := b.NewArray()
	defer tw.Release()
	return Convert(tw, want)
}

// ParseDuration parses a duration in its JSON Lines and CSV form: an integer
// followed by its unit ("1500ms"), converted to unit (truncating toward
// zero when the unit is coarser). A bare integer is taken in unit.
func ParseDuration(s string, unit arrow.TimeUnit) (arrow.Duration, error) {
	num := strings.TrimRight(s, "abcdefghijklmnopqrstuvwxyzµ")
	from := unit
	if suffix := s[len(num):]; suffix != "" {
		found := false
		for _, u := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
			if suffix == u.String() || (u == arrow.Microsecond && suffix == "µs") {
				from, found = u, true
			}
		}
		if !found {
			return 0, fmt.Errorf("%q is not a duration like \"15%s\": unknown unit %q", s, unit, suffix)
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like \"15%s\"", s, unit)
	}
	f, t := int64(from.Multiplier()), int64(unit.Multiplier())
	if f >= t {
		return arrow.Duration(v * (f / t)), nil
	}
	return arrow.Duration(v / (t / f)), nil
}

// jsonStringForm reports whether values of dt are JSON strings in JSON
// Lines (so their CSV cells are that string, unquoted).
func jsonStringForm(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRUCT, arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.MAP,
		arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO,
		arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.NULL:
		return false
	case arrow.EXTENSION:
		return !arrowtypes.IsJSON(dt)
	}
	return true
}

// listTwin is a list type of dt's kind (list, large list, fixed-size list)
// whose element type is twin of dt's, and true; false when dt is no list.
func listTwin(dt arrow.DataType, twin func(arrow.DataType) arrow.DataType) (arrow.DataType, bool) {
	switch t := dt.(type) {
	case *arrow.ListType:
		f := t.ElemField()
		f.Type = twin(f.Type)
		return arrow.ListOfField(f), true
	case *arrow.LargeListType:
		f := t.ElemField()
		f.Type = twin(f.Type)
		return arrow.LargeListOfField(f), true
	case *arrow.FixedSizeListType:
		f := t.ElemField()
		f.Type = twin(f.Type)
		return arrow.FixedSizeListOfField(t.Len(), f), true
	}
	return nil, false
}

// jsonTwin returns the type arrow-go's JSON reader reads dt's JSON Lines
// form into: dt itself, except where the builder of dt cannot unmarshal its
// own JSON form (CloudQuery's extension types take base64 of their storage)
// or where it is lossy (durations beyond ±292 years).
func jsonTwin(dt arrow.DataType) arrow.DataType {
	switch t := dt.(type) {
	case arrow.ExtensionType:
		switch {
		case arrowtypes.IsUUID(dt):
			return extensions.NewUUIDType()
		case arrowtypes.IsJSON(dt):
			return rawJSONType{}.of()
		case arrowtypes.IsInet(dt), arrowtypes.IsMAC(dt):
			return stringLike(t.StorageType())
		}
		return dt
	case *arrow.DurationType:
		return arrow.BinaryTypes.String
	case *arrow.StructType:
		fs := make([]arrow.Field, t.NumFields())
		for i, f := range t.Fields() {
			f.Type = jsonTwin(f.Type)
			fs[i] = f
		}
		return arrow.StructOf(fs...)
	}
	if l, ok := listTwin(dt, jsonTwin); ok {
		return l
	}
	return dt
}

// stringLike returns the utf8 type with dt's offset width.
func stringLike(dt arrow.DataType) arrow.DataType {
	switch dt.ID() {
	case arrow.LARGE_BINARY, arrow.LARGE_STRING:
		return arrow.BinaryTypes.LargeString
	}
	return arrow.BinaryTypes.String
}

// rawJSONType is an extension type for reading JSON documents embedded in
// JSON Lines with arrow-go's JSON reader: its builder keeps each value's raw
// text, where a utf8 builder would take only JSON strings.
type rawJSONType struct{ arrow.ExtensionBase }

func (rawJSONType) of() *rawJSONType {
	return &rawJSONType{arrow.ExtensionBase{Storage: arrow.BinaryTypes.String}}
}

func (*rawJSONType) ArrayType() reflect.Type { return reflect.TypeOf(rawJSONArray{}) }
func (*rawJSONType) ExtensionName() string   { return "wasmdest.file.raw_json" }
func (*rawJSONType) Serialize() string       { return "" }
func (t *rawJSONType) Deserialize(arrow.DataType, string) (arrow.ExtensionType, error) {
	return t.of(), nil
}
func (t *rawJSONType) ExtensionEquals(o arrow.ExtensionType) bool {
	return o.ExtensionName() == t.ExtensionName()
}
func (t *rawJSONType) NewBuilder(mem memory.Allocator) array.Builder {
	return &rawJSONBuilder{array.NewExtensionBuilder(mem, t)}
}

type rawJSONArray struct{ array.ExtensionArrayBase }

type rawJSONBuilder struct{ *array.ExtensionBuilder }

func (b *rawJSONBuilder) UnmarshalOne(dec *json.Decoder) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if string(raw) == "null" {
		b.AppendNull()
		return nil
	}
	b.Builder.(*array.StringBuilder).Append(string(raw))
	return nil
}

func (b *rawJSONBuilder) Unmarshal(dec *json.Decoder) error {
	for dec.More() {
		if err := b.UnmarshalOne(dec); err != nil {
			return err
		}
	}
	return nil
}

func (b *rawJSONBuilder) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if delim, ok := t.(json.Delim); !ok || delim != '[' {
		return fmt.Errorf("raw json builder must unpack from a json array, found %s", t)
	}
	return b.Unmarshal(dec)
}
