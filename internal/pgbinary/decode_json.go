package pgbinary

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/float16"
)

// jsonDecoder appends the value of one JSON document (which may be null).
type jsonDecoder func(raw []byte) error

var jsonNull = []byte("null")

// jsonDecoderFor reads values in the JSON forms of json.go back into b.
func jsonDecoderFor(t *Type, b array.Builder) (jsonDecoder, error) {
	dec, err := jsonValueDecoder(t, b)
	if err != nil {
		return nil, err
	}
	return func(raw []byte) error {
		raw = bytes.TrimSpace(raw)
		if bytes.Equal(raw, jsonNull) {
			b.AppendNull()
			return nil
		}
		return dec(raw)
	}, nil
}

func jsonString(raw []byte) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a JSON string, got %.40s", raw)
	}
	return s, nil
}

func jsonInt(raw []byte) (int64, error) {
	x, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %.40s", raw)
	}
	return x, nil
}

// jsonObject returns the members of a JSON object in document order.
func jsonObject(raw []byte) (keys []string, vals []json.RawMessage, err error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("want a JSON object, got %.40s", raw)
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, tok.(string)), append(vals, v)
	}
	return keys, vals, nil
}

func jsonArray(raw []byte) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("want a JSON array, got %.40s", raw)
	}
	return items, nil
}

// parseDecimalText parses a JSON number as a numeric.
func parseDecimalText(s string) (numeric, error) {
	var n numeric
	bad := func() (numeric, error) { return numeric{}, fmt.Errorf("want a number, got %.40q", s) }
	if strings.HasPrefix(s, "-") {
		n.neg, s = true, s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 100000 || e < -100000 {
			return bad()
		}
		exp, s = e, s[:i]
	}
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" || strings.Trim(ip+fp, "0123456789") != "" {
		return bad()
	}
	n.digits, n.frac = []byte(ip+fp), len(fp)-exp
	if n.frac < 0 {
		n.digits = append(n.digits, bytes.Repeat([]byte{'0'}, -n.frac)...)
		n.frac = 0
	}
	return n, nil
}

// timestampLayouts are the forms of timestamps in JSON: the rich ones and
// arrow-go's (CloudQuery's), which has offsets with seconds for zones of
// local mean time.
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00:00", "2006-01-02 15:04:05.999999999Z07:00:00"}

func jsonValueDecoder(t *Type, b array.Builder) (jsonDecoder, error) {
	switch t.Kind {
	case KindBool:
		bb := b.(*array.BooleanBuilder)
		return func(raw []byte) error {
			var v bool
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("want true or false, got %.40s", raw)
			}
			bb.Append(v)
			return nil
		}, nil
	case KindInt8, KindInt16, KindInt32, KindInt64, KindUint8, KindUint16, KindUint32:
		dec, err := intDecoder(b, func(v []byte) (int64, error) { return jsonInt(v) })
		return jsonDecoder(dec), err
	case KindUint64:
		bb := b.(*array.Uint64Builder)
		return func(raw []byte) error {
			x, err := strconv.ParseUint(string(raw), 10, 64)
			if err != nil {
				return fmt.Errorf("want an unsigned integer, got %.40s", raw)
			}
			bb.Append(x)
			return nil
		}, nil
	case KindFloat16, KindFloat32, KindFloat64:
		bits := 64
		if t.Kind != KindFloat64 {
			bits = 32
		}
		return func(raw []byte) error {
			var f float64
			switch string(raw) {
			case `"NaN"`:
				f = math.NaN()
			case `"Infinity"`:
				f = math.Inf(1)
			case `"-Infinity"`:
				f = math.Inf(-1)
			default:
				var err error
				if f, err = strconv.ParseFloat(string(raw), bits); err != nil {
					return fmt.Errorf("want a number, got %.40s", raw)
				}
			}
			switch bb := b.(type) {
			case *array.Float64Builder:
				bb.Append(f)
			case *array.Float32Builder:
				bb.Append(float32(f))
			case *array.Float16Builder:
				bb.Append(float16.New(float32(f)))
			}
			return nil
		}, nil
	case KindDecimal:
		app, err := decimalAppender(b)
		if err != nil {
			return nil, err
		}
		return func(raw []byte) error {
			if len(raw) > 0 && raw[0] == '"' {
				// CloudQuery's form: a string ("12.5", "1e-05").
				s, err := jsonString(raw)
				if err != nil {
					return err
				}
				raw = []byte(s)
			}
			n, err := parseDecimalText(string(raw))
			if err != nil {
				return err
			}
			return app(n)
		}, nil
	case KindString, KindInet:
		return func(raw []byte) error {
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			return appendBytesTo(b, []byte(s))
		}, nil
	case KindMAC:
		// CloudQuery's encoding: the raw bytes.
		return func(raw []byte) error {
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			hw, err := net.ParseMAC(s)
			if err != nil {
				return fmt.Errorf("mac: %w", err)
			}
			return appendBytesTo(b, hw)
		}, nil
	case KindBinary, KindFixedBinary:
		return func(raw []byte) error {
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			v, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return fmt.Errorf("want base64, got %.40q", s)
			}
			return appendBytesTo(b, v)
		}, nil
	case KindUUID:
		return func(raw []byte) error {
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			v, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
			if err != nil || len(v) != 16 {
				return fmt.Errorf("want a UUID, got %.40q", s)
			}
			return appendBytesTo(b, v)
		}, nil
	case KindJSON:
		return func(raw []byte) error { return appendBytesTo(b, raw) }, nil
	case KindDate32, KindDate64:
		return func(raw []byte) error {
			if days, err := jsonInt(raw); err == nil {
				return appendDays(b, days)
			}
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			tm, err := time.Parse("2006-01-02", s)
			if err != nil {
				return fmt.Errorf("want a date, got %.40q", s)
			}
			return appendDays(b, floorDiv(tm.Unix(), 86400))
		}, nil
	case KindTime32, KindTime64:
		return func(raw []byte) error {
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			tm, err := time.Parse("15:04:05.999999999", s)
			if err != nil {
				return fmt.Errorf("want a time of day, got %.40q", s)
			}
			ns := int64(tm.Hour()*3600+tm.Minute()*60+tm.Second())*1e9 + int64(tm.Nanosecond())
			switch b := b.(type) {
			case *array.Time32Builder:
				b.Append(arrow.Time32(ns / int64(b.Type().(*arrow.Time32Type).Unit.Multiplier())))
			case *array.Time64Builder:
				b.Append(arrow.Time64(ns / int64(b.Type().(*arrow.Time64Type).Unit.Multiplier())))
			}
			return nil
		}, nil
	case KindTimestamp:
		bb := b.(*array.TimestampBuilder)
		unit := bb.Type().(*arrow.TimestampType).Unit
		return func(raw []byte) error {
			if x, err := jsonInt(raw); err == nil {
				bb.Append(arrow.Timestamp(x))
				return nil
			}
			s, err := jsonString(raw)
			if err != nil {
				return err
			}
			if x, err := strconv.ParseInt(s, 10, 64); err == nil {
				// CloudQuery's form outside years 0-9999: the number
				// in the unit, as a string.
				bb.Append(arrow.Timestamp(x))
				return nil
			}
			for _, l := range timestampLayouts {
				if tm, err := time.Parse(l, s); err == nil {
					ts, err := arrow.TimestampFromTime(tm, unit)
					if err != nil {
						return err
					}
					bb.Append(ts)
					return nil
				}
			}
			return fmt.Errorf("want a timestamp, got %.40q", s)
		}, nil
	case KindDuration:
		bb := b.(*array.DurationBuilder)
		unit := bb.Type().(*arrow.DurationType).Unit
		return func(raw []byte) error {
			if len(raw) > 0 && raw[0] == '"' {
				// CloudQuery's form: "1500ms".
				s, err := jsonString(raw)
				if err != nil {
					return err
				}
				d, err := parseCQDuration(s, unit)
				if err != nil {
					return err
				}
				bb.Append(d)
				return nil
			}
			x, err := jsonInt(raw)
			if err != nil {
				return err
			}
			bb.Append(arrow.Duration(x))
			return nil
		}, nil
	case KindMonthInterval:
		bb := b.(*array.MonthIntervalBuilder)
		return func(raw []byte) error {
			if len(raw) > 0 && raw[0] == '{' {
				// CloudQuery's form inside structs: {"months": n}.
				var v struct {
					Months *int32 `json:"months"`
				}
				if err := json.Unmarshal(raw, &v); err != nil || v.Months == nil {
					return fmt.Errorf("want {\"months\":..}, got %.40s", raw)
				}
				bb.Append(arrow.MonthInterval(*v.Months))
				return nil
			}
			x, err := jsonInt(raw)
			if err != nil || x < math.MinInt32 || x > math.MaxInt32 {
				return fmt.Errorf("want a number of months, got %.40s", raw)
			}
			bb.Append(arrow.MonthInterval(x))
			return nil
		}, nil
	case KindDayTimeInterval:
		bb := b.(*array.DayTimeIntervalBuilder)
		return func(raw []byte) error {
			var v arrow.DayTimeInterval
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("want {\"days\":..,\"milliseconds\":..}, got %.40s", raw)
			}
			bb.Append(v)
			return nil
		}, nil
	case KindMonthDayNanoInterval:
		bb := b.(*array.MonthDayNanoIntervalBuilder)
		return func(raw []byte) error {
			var v arrow.MonthDayNanoInterval
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("want {\"months\":..,\"days\":..,\"nanoseconds\":..}, got %.40s", raw)
			}
			bb.Append(v)
			return nil
		}, nil
	case KindList:
		lb, ok := b.(array.ListLikeBuilder)
		if !ok {
			return nil, fmt.Errorf("cannot read lists into %T", b)
		}
		elem, err := jsonDecoderFor(t.Elem, lb.ValueBuilder())
		if err != nil {
			return nil, err
		}
		fixed := -1
		if fl, ok := t.Arrow.(*arrow.FixedSizeListType); ok {
			fixed = int(fl.Len())
		}
		return func(raw []byte) error {
			items, err := jsonArray(raw)
			if err != nil {
				return err
			}
			if fixed >= 0 && len(items) != fixed {
				return fmt.Errorf("%d elements do not fit in %s", len(items), t.Arrow)
			}
			lb.Append(true)
			for j, it := range items {
				if err := elem(it); err != nil {
					return fmt.Errorf("list element %d: %w", j, err)
				}
			}
			return nil
		}, nil
	case KindStruct:
		sb, ok := b.(*array.StructBuilder)
		if !ok {
			return nil, fmt.Errorf("cannot read structs into %T", b)
		}
		fields := make([]jsonDecoder, len(t.Fields))
		index := make(map[string]int, len(t.Fields))
		for k, ft := range t.Fields {
			var err error
			if fields[k], err = jsonDecoderFor(ft, sb.FieldBuilder(k)); err != nil {
				return nil, fmt.Errorf("struct field %q: %w", t.Names[k], err)
			}
			index[strings.ReplaceAll(t.Names[k], "\x00", "")] = k
		}
		return func(raw []byte) error {
			keys, vals, err := jsonObject(raw)
			if err != nil {
				return err
			}
			got := make([]json.RawMessage, len(fields))
			for i, k := range keys {
				if f, ok := index[k]; ok {
					got[f] = vals[i]
				}
			}
			sb.Append(true)
			for k, dec := range fields {
				v := got[k]
				if v == nil {
					v = jsonNull
				}
				if err := dec(v); err != nil {
					return fmt.Errorf("struct field %q: %w", t.Names[k], err)
				}
			}
			return nil
		}, nil
	case KindMap:
		mb, ok := b.(*array.MapBuilder)
		if !ok {
			return nil, fmt.Errorf("cannot read maps into %T", b)
		}
		key, err := jsonDecoderFor(t.Key, mb.KeyBuilder())
		if err != nil {
			return nil, err
		}
		val, err := jsonDecoderFor(t.Value, mb.ItemBuilder())
		if err != nil {
			return nil, err
		}
		pairs := mapPairsDecoder(mb, key, val)
		if t.Key.Kind == KindString {
			return func(raw []byte) error {
				if len(raw) > 0 && raw[0] == '[' {
					return pairs(raw) // CloudQuery's form
				}
				keys, vals, err := jsonObject(raw)
				if err != nil {
					return err
				}
				mb.Append(true)
				for i, k := range keys {
					kj, _ := json.Marshal(k)
					if err := key(kj); err != nil {
						return err
					}
					if err := val(vals[i]); err != nil {
						return fmt.Errorf("map value of key %q: %w", k, err)
					}
				}
				return nil
			}, nil
		}
		return pairs, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnsupported, t)
}

// mapPairsDecoder reads a map written as an array of {"key": k, "value": v}.
func mapPairsDecoder(mb *array.MapBuilder, key, val jsonDecoder) jsonDecoder {
	return func(raw []byte) error {
		items, err := jsonArray(raw)
		if err != nil {
			return err
		}
		mb.Append(true)
		for _, it := range items {
			var kv struct{ Key, Value json.RawMessage }
			if err := json.Unmarshal(it, &kv); err != nil || kv.Key == nil {
				return fmt.Errorf("want {\"key\":..,\"value\":..}, got %.40s", it)
			}
			if kv.Value == nil {
				kv.Value = jsonNull
			}
			if err := key(kv.Key); err != nil {
				return fmt.Errorf("map key: %w", err)
			}
			if err := val(kv.Value); err != nil {
				return fmt.Errorf("map value: %w", err)
			}
		}
		return nil
	}
}
