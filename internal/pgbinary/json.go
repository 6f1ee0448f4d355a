package pgbinary

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/wasmdest/wasmdest/internal/jsonstring"
)

// Structs, maps and lists of lists are stored as jsonb documents. Their
// values take these JSON forms (DecodeJSON reads them back exactly):
//
//	bool, integers            true/false, numbers (uint64 exact: jsonb keeps numerics)
//	floats                    numbers; NaN, Infinity, -Infinity as strings
//	decimals                  numbers with the type's scale, e.g. 12.3400
//	strings                   strings (NUL bytes dropped; invalid UTF-8 is an error)
//	binary, fixed_size_binary base64 strings (standard alphabet, padded)
//	date32, date64            "2006-01-02" (years 1-9999; other dates: days since 1970)
//	time32, time64            "15:04:05", with 3, 6 or 9 decimals for ms, us, ns
//	timestamps                "2006-01-02T15:04:05.000000Z" (Z only with a time zone;
//	                          decimals by unit; years 1-9999, other times: the number in the unit)
//	durations                 numbers in the type's unit
//	month_interval            number of months
//	day_time_interval         {"days": d, "milliseconds": ms}
//	month_day_nano_interval   {"months": m, "days": d, "nanoseconds": ns}
//	uuid, inet, mac           strings; json: the JSON value itself
//	lists                     arrays
//	structs                   objects, one key per field
//	maps                      objects when keys are strings (a key twice is an error),
//	                          else arrays of {"key": k, "value": v}

// jsonEncoderFor returns an encoder appending the JSON form of arr's value
// at i (null for a null).
func jsonEncoderFor(t *Type, arr arrow.Array) (valueEncoder, error) {
	arr = storage(arr)
	enc, err := jsonValueEncoder(t, arr)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return append(dst, "null"...), nil
		}
		return enc(dst, i)
	}, nil
}

func jsonValueEncoder(t *Type, arr arrow.Array) (valueEncoder, error) {
	switch t.Kind {
	case KindBool:
		a := arr.(*array.Boolean)
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendBool(dst, a.Value(i)), nil }, nil
	case KindInt8, KindInt16, KindInt32, KindInt64, KindUint8, KindUint16, KindUint32, KindUint64:
		return func(dst []byte, i int) ([]byte, error) { return append(dst, arr.ValueStr(i)...), nil }, nil
	case KindFloat16:
		a := arr.(*array.Float16)
		return func(dst []byte, i int) ([]byte, error) {
			return appendJSONFloat(dst, float64(a.Value(i).Float32()), 32), nil
		}, nil
	case KindFloat32:
		a := arr.(*array.Float32)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONFloat(dst, float64(a.Value(i)), 32), nil }, nil
	case KindFloat64:
		a := arr.(*array.Float64)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONFloat(dst, a.Value(i), 64), nil }, nil
	case KindDecimal:
		// The numeric encoder knows every decimal width; format its digits.
		num, err := decimalEncoder(arr)
		if err != nil {
			return nil, err
		}
		var buf []byte
		return func(dst []byte, i int) ([]byte, error) {
			buf, _ = num(buf[:0], i)
			n, err := parseNumeric(buf)
			if err != nil {
				return dst, err
			}
			return append(dst, n.String()...), nil
		}, nil
	case KindString:
		a := arr.(stringValues)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONString(dst, a.Value(i)) }, nil
	case KindBinary, KindFixedBinary:
		a := arr.(bytesValues)
		return func(dst []byte, i int) ([]byte, error) {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, a.Value(i))
			return append(dst, '"'), nil
		}, nil
	case KindDate32:
		a := arr.(*array.Date32)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONDate(dst, int64(a.Value(i))), nil }, nil
	case KindDate64:
		a := arr.(*array.Date64)
		return func(dst []byte, i int) ([]byte, error) {
			return appendJSONDate(dst, floorDiv(int64(a.Value(i)), 86400000)), nil
		}, nil
	case KindTime32, KindTime64:
		var unit arrow.TimeUnit
		var val func(int) int64
		if a, ok := arr.(*array.Time32); ok {
			unit, val = t.Arrow.(*arrow.Time32Type).Unit, func(i int) int64 { return int64(a.Value(i)) }
		} else {
			a := arr.(*array.Time64)
			unit, val = t.Arrow.(*arrow.Time64Type).Unit, func(i int) int64 { return int64(a.Value(i)) }
		}
		return func(dst []byte, i int) ([]byte, error) {
			v := val(i)
			if v < 0 || v > 86400*int64(math.Pow10(timeExp(unit))) {
				return dst, fmt.Errorf("time of day %d is %w", v, errOutOfRange)
			}
			tm := time.Unix(0, 0).UTC().Add(time.Duration(v) * unit.Multiplier())
			dst = append(dst, '"')
			dst = tm.AppendFormat(dst, "15:04:05"+fracLayout[unit])
			return append(dst, '"'), nil
		}, nil
	case KindTimestamp:
		a := arr.(*array.Timestamp)
		tt := t.Arrow.(*arrow.TimestampType)
		layout := "2006-01-02T15:04:05" + fracLayout[tt.Unit]
		if tt.TimeZone != "" {
			layout += "Z07:00"
		}
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			tm := v.ToTime(tt.Unit)
			if y := tm.Year(); y < 1 || y > 9999 {
				return strconv.AppendInt(dst, int64(v), 10), nil
			}
			dst = append(dst, '"')
			dst = tm.AppendFormat(dst, layout)
			return append(dst, '"'), nil
		}, nil
	case KindDuration:
		a := arr.(*array.Duration)
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }, nil
	case KindMonthInterval:
		a := arr.(*array.MonthInterval)
		return func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }, nil
	case KindDayTimeInterval:
		a := arr.(*array.DayTimeInterval)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			return fmt.Appendf(dst, `{"days":%d,"milliseconds":%d}`, v.Days, v.Milliseconds), nil
		}, nil
	case KindMonthDayNanoInterval:
		a := arr.(*array.MonthDayNanoInterval)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			return fmt.Appendf(dst, `{"months":%d,"days":%d,"nanoseconds":%d}`, v.Months, v.Days, v.Nanoseconds), nil
		}, nil
	case KindUUID:
		a := arr.(*array.FixedSizeBinary)
		return func(dst []byte, i int) ([]byte, error) {
			return append(appendUUID(append(dst, '"'), a.Value(i)), '"'), nil
		}, nil
	case KindJSON:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) { return SanitizeJSON(dst, val(i)) }, nil
	case KindInet:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) { return appendJSONString(dst, string(val(i))) }, nil
	case KindMAC:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) {
			hw, err := ParseMAC(val(i))
			if err != nil {
				return dst, err
			}
			return appendJSONString(dst, hw.String())
		}, nil
	case KindList:
		list, ok := arr.(array.ListLike)
		if !ok {
			return nil, fmt.Errorf("%T is not a list array", arr)
		}
		elem, err := jsonEncoderFor(t.Elem, list.ListValues())
		if err != nil {
			return nil, err
		}
		return func(dst []byte, i int) ([]byte, error) {
			start, end := list.ValueOffsets(i)
			dst = append(dst, '[')
			var err error
			for j := start; j < end; j++ {
				if j > start {
					dst = append(dst, ',')
				}
				if dst, err = elem(dst, int(j)); err != nil {
					return dst, fmt.Errorf("list element %d: %w", j-start, err)
				}
			}
			return append(dst, ']'), nil
		}, nil
	case KindStruct:
		st := arr.(*array.Struct)
		fields := make([]valueEncoder, len(t.Fields))
		keys := make([][]byte, len(t.Fields))
		for k, ft := range t.Fields {
			var err error
			if fields[k], err = jsonEncoderFor(ft, st.Field(k)); err != nil {
				return nil, fmt.Errorf("struct field %q: %w", t.Names[k], err)
			}
			if keys[k], err = appendJSONString(nil, t.Names[k]); err != nil {
				return nil, fmt.Errorf("struct field %q: %w", t.Names[k], err)
			}
		}
		return func(dst []byte, i int) ([]byte, error) {
			dst = append(dst, '{')
			var err error
			for k, enc := range fields {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = append(append(dst, keys[k]...), ':')
				if dst, err = enc(dst, i); err != nil {
					return dst, fmt.Errorf("struct field %q: %w", t.Names[k], err)
				}
			}
			return append(dst, '}'), nil
		}, nil
	case KindMap:
		m := arr.(*array.Map)
		keyArr := storage(m.Keys())
		key, err := jsonEncoderFor(t.Key, keyArr)
		if err != nil {
			return nil, err
		}
		val, err := jsonEncoderFor(t.Value, m.Items())
		if err != nil {
			return nil, err
		}
		if t.Key.Kind == KindString {
			seen := map[string]bool{}
			return func(dst []byte, i int) ([]byte, error) {
				start, end := m.ValueOffsets(i)
				clear(seen)
				dst = append(dst, '{')
				var err error
				for j := int(start); j < int(end); j++ {
					if j > int(start) {
						dst = append(dst, ',')
					}
					at := len(dst)
					if dst, err = key(dst, j); err != nil {
						return dst, fmt.Errorf("map key: %w", err)
					}
					k := string(dst[at:])
					if seen[k] {
						return dst, fmt.Errorf("map has the key %s twice; a JSON object holds a key once", k)
					}
					seen[k] = true
					if dst, err = val(append(dst, ':'), j); err != nil {
						return dst, fmt.Errorf("map value of key %s: %w", k, err)
					}
				}
				return append(dst, '}'), nil
			}, nil
		}
		return func(dst []byte, i int) ([]byte, error) {
			start, end := m.ValueOffsets(i)
			dst = append(dst, '[')
			var err error
			for j := int(start); j < int(end); j++ {
				if j > int(start) {
					dst = append(dst, ',')
				}
				if dst, err = key(append(dst, `{"key":`...), j); err != nil {
					return dst, fmt.Errorf("map key: %w", err)
				}
				if dst, err = val(append(dst, `,"value":`...), j); err != nil {
					return dst, fmt.Errorf("map value: %w", err)
				}
				dst = append(dst, '}')
			}
			return append(dst, ']'), nil
		}, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnsupported, t)
}

var fracLayout = map[arrow.TimeUnit]string{arrow.Second: "", arrow.Millisecond: ".000", arrow.Microsecond: ".000000", arrow.Nanosecond: ".000000000"}

func appendJSONFloat(dst []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits)
}

func appendJSONDate(dst []byte, days int64) []byte {
	tm := time.Unix(days*86400, 0).UTC()
	if y := tm.Year(); y < 1 || y > 9999 || days > 1<<40 || days < -(1<<40) {
		return strconv.AppendInt(dst, days, 10)
	}
	dst = append(dst, '"')
	dst = tm.AppendFormat(dst, "2006-01-02")
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

func appendUUID(dst, b []byte) []byte {
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// appendJSONString appends s as a JSON string. NUL characters are dropped
// (jsonb cannot hold them); invalid UTF-8 is an error.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	if out, bad := jsonstring.AppendStrict(dst, s); bad < 0 {
		return out, nil
	}
	return dst, invalidUTF8(s)
}

// maxJSONDepth bounds the nesting of JSON values the guest accepts.
const maxJSONDepth = 10000

// SanitizeJSON checks that src is one valid JSON value that jsonb can hold
// and appends it to dst without the NUL characters in its strings (the
// \u0000 escape and raw NUL bytes), which jsonb refuses, as the CloudQuery
// destination drops them. Everything else is copied as it is. Invalid JSON,
// invalid UTF-8 and unpaired UTF-16 surrogate escapes (which jsonb also
// refuses) are errors naming the byte offset.
func SanitizeJSON(dst, src []byte) ([]byte, error) {
	s := jsonScanner{src: src, dst: dst}
	s.ws()
	if s.pos == len(src) {
		return dst, errors.New("invalid JSON: empty value")
	}
	if err := s.value(0); err != nil {
		return dst, err
	}
	s.ws()
	if s.pos != len(src) {
		return dst, s.errorf("unexpected %q after the value", src[s.pos])
	}
	return append(s.dst, src[s.last:]...), nil
}

type jsonScanner struct {
	src  []byte
	pos  int
	dst  []byte
	last int // src[last:pos] is still to be copied to dst
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// drop leaves src[from:to] out of the output.
func (s *jsonScanner) drop(from, to int) {
	s.dst = append(s.dst, s.src[s.last:from]...)
	s.last = to
}

// The scanner's loops work on local copies of src and pos: Go's wasm code
// keeps locals in registers but reloads struct fields at every use.

func (s *jsonScanner) ws() {
	src, pos := s.src, s.pos
	for pos < len(src) && (src[pos] == ' ' || src[pos] == '\n' || src[pos] == '\t' || src[pos] == '\r') {
		pos++
	}
	s.pos = pos
}

// plainByte marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *jsonScanner) value(depth int) error {
	if depth > maxJSONDepth {
		return s.errorf("nested more than %d levels", maxJSONDepth)
	}
	if s.pos >= len(s.src) {
		return s.errorf("unexpected end")
	}
	switch c := s.src[s.pos]; {
	case c == '{':
		s.pos++
		s.ws()
		if s.pos < len(s.src) && s.src[s.pos] == '}' {
			s.pos++
			return nil
		}
		for {
			s.ws()
			if s.pos >= len(s.src) || s.src[s.pos] != '"' {
				return s.errorf("expected an object key")
			}
			if err := s.string(); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.src) || s.src[s.pos] != ':' {
				return s.errorf("expected ':'")
			}
			s.pos++
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.src) {
				return s.errorf("unexpected end in an object")
			}
			switch s.src[s.pos] {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return nil
			default:
				return s.errorf("expected ',' or '}'")
			}
		}
	case c == '[':
		s.pos++
		s.ws()
		if s.pos < len(s.src) && s.src[s.pos] == ']' {
			s.pos++
			return nil
		}
		for {
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.src) {
				return s.errorf("unexpected end in an array")
			}
			switch s.src[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.errorf("expected ',' or ']'")
			}
		}
	case c == '"':
		return s.string()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.errorf("unexpected %q", s.src[s.pos])
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.src)-s.pos < len(lit) || string(s.src[s.pos:s.pos+len(lit)]) != lit {
		return s.errorf("expected %s", lit)
	}
	s.pos += len(lit)
	return nil
}

func (s *jsonScanner) digits() int {
	src, pos := s.src, s.pos
	for pos < len(src) && src[pos] >= '0' && src[pos] <= '9' {
		pos++
	}
	n := pos - s.pos
	s.pos = pos
	return n
}

func (s *jsonScanner) number() error {
	if s.src[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.src) && s.src[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return s.errorf("expected a digit")
	}
	if s.pos < len(s.src) && s.src[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.errorf("expected a digit after '.'")
		}
	}
	if s.pos < len(s.src) && (s.src[s.pos] == 'e' || s.src[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.src) && (s.src[s.pos] == '+' || s.src[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.errorf("expected a digit in the exponent")
		}
	}
	return nil
}

func hexVal(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// string scans a string starting at its opening quote.
func (s *jsonScanner) string() error {
	s.pos++
	for {
		src, pos := s.src, s.pos
		for pos < len(src) && plainByte[src[pos]] {
			pos++
		}
		s.pos = pos
		if pos >= len(src) {
			break
		}
		switch c := src[pos]; {
		case c == '"':
			s.pos++
			return nil
		case c == 0:
			s.drop(s.pos, s.pos+1)
			s.pos++
		case c < 0x20:
			return s.errorf("control character %#x in a string", c)
		case c == '\\':
			if s.pos+1 >= len(s.src) {
				return s.errorf("unexpected end in an escape")
			}
			switch s.src[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				r, ok := s.unicodeEscape(s.pos)
				if !ok {
					return s.errorf(`bad \u escape`)
				}
				switch {
				case r == 0:
					s.drop(s.pos, s.pos+6)
					s.pos += 6
				case r >= 0xD800 && r < 0xDC00:
					lo, ok := s.unicodeEscape(s.pos + 6)
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						return s.errorf(`UTF-16 high surrogate \u%04x is not followed by a low surrogate`, r)
					}
					s.pos += 12
				case r >= 0xDC00 && r < 0xE000:
					return s.errorf(`UTF-16 low surrogate \u%04x without a high surrogate`, r)
				default:
					s.pos += 6
				}
			default:
				return s.errorf("bad escape \\%c", s.src[s.pos+1])
			}
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.src[s.pos:])
			if r == utf8.RuneError && n == 1 {
				return s.errorf("invalid UTF-8 in a string")
			}
			s.pos += n
		}
	}
	return s.errorf("unexpected end in a string")
}

// unicodeEscape reads \uXXXX at at.
func (s *jsonScanner) unicodeEscape(at int) (rune, bool) {
	if at+6 > len(s.src) || s.src[at] != '\\' || s.src[at+1] != 'u' {
		return 0, false
	}
	return hexVal(s.src[at+2 : at+6])
}
