package pgbinary

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/float16"
	json "github.com/goccy/go-json"
)

// Under MappingCloudQuery, the types the CloudQuery PostgreSQL destination
// stores as text (durations, intervals, float16, structs, maps) are written
// as it writes them: arrow-go's ValueStr of the value, NUL bytes dropped.
//
//	duration          "<n><unit>", e.g. "1500ms" (the number in the type's unit)
//	month_interval    "<months>"
//	day_time_interval {"days":1,"milliseconds":2}
//	month_day_nano    {"days":1,"months":2,"nanoseconds":3}
//	float16           the shortest decimal form, e.g. "1.5", "NaN", "+Inf"
//	struct            a JSON object of the fields, keys sorted (see cqValue)
//	map               a JSON array of {"key":k,"value":v}
//
// Inside structs and maps values take arrow-go's GetOneForMarshal forms,
// with CloudQuery's extension types as their text: decimals are strings
// ("12.5", "1e-05": big.Float's 'g' format with the type's precision),
// timestamps RFC 3339 strings (zoned types) or "2006-01-02 15:04:05.999999999",
// durations "<n><unit>" strings, dates "2006-01-02", times "15:04:05.000",
// binary base64, uuid/inet/mac strings, json the value itself.

// cqTextEncoder returns the encoder of a value of t stored as text in
// CloudQuery's form.
func cqTextEncoder(t *Type, arr arrow.Array) (valueEncoder, error) {
	switch t.Kind {
	case KindStruct, KindMap:
		return func(dst []byte, i int) ([]byte, error) {
			v, err := cqValue(t, arr, i)
			if err != nil {
				return dst, err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return dst, fmt.Errorf("CloudQuery's text form: %w (type_mapping: rich stores it as jsonb)", err)
			}
			return appendText(dst, string(b))
		}, nil
	case KindFloat16, KindDuration, KindMonthInterval, KindDayTimeInterval, KindMonthDayNanoInterval:
		return func(dst []byte, i int) ([]byte, error) { return appendText(dst, arr.ValueStr(i)) }, nil
	}
	return nil, fmt.Errorf("%w as text: %s", ErrUnsupported, t)
}

// cqValue returns the value at i of arr (of type t) as arrow-go's
// GetOneForMarshal returns it, with CloudQuery's extension types as the
// CloudQuery SDK returns them: what its ValueStr marshals.
func cqValue(t *Type, arr arrow.Array, i int) (any, error) {
	arr = storage(arr)
	if arr.IsNull(i) {
		return nil, nil
	}
	switch t.Kind {
	case KindStruct:
		a := arr.(*array.Struct)
		m := make(map[string]any, len(t.Fields))
		for k, ft := range t.Fields {
			v, err := cqValue(ft, a.Field(k), i)
			if err != nil {
				return nil, fmt.Errorf("struct field %q: %w", t.Names[k], err)
			}
			m[t.Names[k]] = v
		}
		return m, nil
	case KindList:
		a, ok := arr.(array.ListLike)
		if !ok {
			return nil, fmt.Errorf("%T is not a list array", arr)
		}
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			v, err := cqValue(t.Elem, a.ListValues(), int(j))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case KindMap:
		a := arr.(*array.Map)
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			k, err := cqValue(t.Key, a.Keys(), int(j))
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			v, err := cqValue(t.Value, a.Items(), int(j))
			if err != nil {
				return nil, fmt.Errorf("map value: %w", err)
			}
			out = append(out, map[string]any{"key": k, "value": v})
		}
		return out, nil
	case KindUUID:
		b := arr.(*array.FixedSizeBinary).Value(i)
		var u [36]byte
		hex.Encode(u[0:8], b[0:4])
		u[8] = '-'
		hex.Encode(u[9:13], b[4:6])
		u[13] = '-'
		hex.Encode(u[14:18], b[6:8])
		u[18] = '-'
		hex.Encode(u[19:23], b[8:10])
		u[23] = '-'
		hex.Encode(u[24:], b[10:])
		return string(u[:]), nil
	case KindJSON:
		v := bytesOf(arr)(i)
		return json.RawMessage(append([]byte(nil), v...)), nil
	case KindInet:
		return string(bytesOf(arr)(i)), nil
	case KindMAC:
		hw, err := ParseMAC(bytesOf(arr)(i))
		if err != nil {
			return nil, err
		}
		return hw.String(), nil
	case KindFloat32, KindFloat64, KindFloat16:
		var f float64
		switch a := arr.(type) {
		case *array.Float16:
			f = float64(a.Value(i).Float32())
		case *array.Float32:
			f = float64(a.Value(i))
		case *array.Float64:
			f = a.Value(i)
		}
		// JSON has no NaN or infinities: CloudQuery's encoder fails on
		// them (its ValueStr panics); they are written as the rich
		// JSON forms' strings, which read back.
		switch {
		case math.IsNaN(f):
			return "NaN", nil
		case math.IsInf(f, 1):
			return "Infinity", nil
		case math.IsInf(f, -1):
			return "-Infinity", nil
		}
	}
	return arr.GetOneForMarshal(i), nil
}

// cqTextDecoder reads the text CloudQuery's form of t back into b.
func cqTextDecoder(t *Type, b array.Builder) (valueDecoder, error) {
	switch t.Kind {
	case KindFloat16:
		bb := b.(*array.Float16Builder)
		return func(v []byte) error {
			f, err := strconv.ParseFloat(string(v), 32)
			if err != nil {
				return fmt.Errorf("want a float16, got %.40q", v)
			}
			bb.Append(float16.New(float32(f)))
			return nil
		}, nil
	case KindDuration:
		bb := b.(*array.DurationBuilder)
		unit := bb.Type().(*arrow.DurationType).Unit
		return func(v []byte) error {
			d, err := parseCQDuration(string(v), unit)
			if err != nil {
				return err
			}
			bb.Append(d)
			return nil
		}, nil
	case KindMonthInterval, KindDayTimeInterval, KindMonthDayNanoInterval, KindStruct, KindMap:
		j, err := jsonDecoderFor(t, b)
		if err != nil {
			return nil, err
		}
		return func(v []byte) error { return j(v) }, nil
	}
	return nil, fmt.Errorf("%w as text: %s", ErrUnsupported, t)
}

// parseCQDuration reads "<n><unit>" (arrow-go's form of a duration) as a
// duration in unit.
func parseCQDuration(s string, unit arrow.TimeUnit) (arrow.Duration, error) {
	end := len(s)
	for end > 0 && (s[end-1] < '0' || s[end-1] > '9') {
		end--
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a duration like \"1500ms\", got %.40q", s)
	}
	var from arrow.TimeUnit
	switch strings.TrimSpace(s[end:]) {
	case "s":
		from = arrow.Second
	case "ms":
		from = arrow.Millisecond
	case "us":
		from = arrow.Microsecond
	case "ns":
		from = arrow.Nanosecond
	case "":
		from = unit
	default:
		return 0, fmt.Errorf("want a duration like \"1500ms\", got %.40q", s)
	}
	if from == unit {
		return arrow.Duration(n), nil
	}
	fm, um := int64(from.Multiplier()), int64(unit.Multiplier())
	if fm > um {
		k := fm / um
		if n > math.MaxInt64/k || n < math.MinInt64/k {
			return 0, errors.New("duration " + s + " overflows " + unit.String())
		}
		return arrow.Duration(n * k), nil
	}
	k := um / fm
	if n%k != 0 {
		return 0, fmt.Errorf("duration %s is not a whole number of %s", s, unit)
	}
	return arrow.Duration(n / k), nil
}
