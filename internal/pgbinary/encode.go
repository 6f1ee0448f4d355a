package pgbinary

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// copyHeader starts every binary COPY stream: signature, flags, header
// extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// RowError is an error about one value of a batch. Its message names the
// table (when known), the column and the row, so that a user can find the
// value.
type RowError struct {
	// Table is the table's name, or "" where it is not known (the host
	// encodes a batch for a COPY whose table is the guest's business).
	Table  string
	Column string
	// Row is the row's 0-based index in the batch (all records of one write).
	Row int64
	// Key describes the row's primary key values, if the table has one.
	Key string
	Err error
}

func (e *RowError) Error() string {
	s := fmt.Sprintf("column %q, row %d of the batch", e.Column, e.Row+1)
	if e.Table != "" {
		s = fmt.Sprintf("table %q, %s", e.Table, s)
	}
	if e.Key != "" {
		s += " (" + e.Key + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *RowError) Unwrap() error { return e.Err }

// valueEncoder appends the binary form of the non-null value at index i.
type valueEncoder func(dst []byte, i int) ([]byte, error)

// storage returns the storage array of an extension array, else a.
func storage(a arrow.Array) arrow.Array {
	if e, ok := a.(array.ExtensionArray); ok {
		return e.Storage()
	}
	return a
}

// Encoder writes Arrow records as a PostgreSQL binary COPY stream.
type Encoder struct {
	names   []string
	types   []*Type
	pk      []int
	ordinal bool
	rows    int64
	encs    []valueEncoder
	// keys holds a hash of every row's encoded key, when the encoder looks
	// for duplicate keys (it was given key columns); dup is set when a
	// hash comes twice.
	keys map[uint64]struct{}
	seed maphash.Seed
	dup  bool
	// pkAt[c] is column c's position in pk, or -1.
	pkAt  []int
	spans []int
}

// NewEncoder returns an encoder of records whose columns are fields, stored
// as types. pk lists the key columns' indexes: their values describe a row
// in error messages, and the encoder notes whether two rows have the same
// key (Duplicates). With ordinal, every row gets one more column, a bigint
// counting the rows from 0 (a staging table's order, so that the last of
// duplicate keys wins).
func NewEncoder(fields []arrow.Field, types []*Type, pk []int, ordinal bool) *Encoder {
	e := &Encoder{types: types, pk: pk, ordinal: ordinal}
	for _, f := range fields {
		e.names = append(e.names, f.Name)
	}
	if len(pk) > 0 {
		e.keys, e.seed = map[uint64]struct{}{}, maphash.MakeSeed()
		e.pkAt = make([]int, len(types))
		for c := range e.pkAt {
			e.pkAt[c] = -1
		}
		for i, c := range pk {
			e.pkAt[c] = i
		}
		e.spans = make([]int, 2*len(pk))
		for _, c := range pk {
			if !byteEqual(types[c]) {
				e.dup = true // equal keys may be encoded differently: assume some are
			}
		}
	}
	return e
}

// byteEqual reports whether two values of t that PostgreSQL finds equal
// always have the same binary COPY encoding, so that equal encoded keys are
// exactly equal keys. Not so for floats (0 and -0, NaNs), intervals (1 month
// and 30 days), jsonb (key order, spaces), inet, structs and maps (jsonb).
func byteEqual(t *Type) bool {
	if t.AsText {
		return false // float16 text: "-0" and "0"
	}
	switch t.Kind {
	case KindBool, KindInt8, KindInt16, KindInt32, KindInt64, KindUint8, KindUint16, KindUint32, KindUint64,
		KindDecimal, KindString, KindBinary, KindFixedBinary, KindDate32, KindDate64, KindTime32, KindTime64,
		KindTimestamp, KindDuration, KindUUID, KindMAC:
		return true
	case KindList:
		return byteEqual(t.Elem)
	}
	return false
}

// Rows returns how many rows were encoded.
func (e *Encoder) Rows() int64 { return e.rows }

// Duplicates reports whether two of the rows encoded so far may have the
// same key: always true when they do, and, with odds of about rows²/2⁶⁵ (one
// in 3·10¹¹ for 10,000 rows), when two different keys' hashes collide. Only
// an encoder made with key columns looks.
func (e *Encoder) Duplicates() bool { return e.dup }

// noteKey hashes the primary key fields of the row just encoded into dst,
// whose spans (start and end of each key field, length prefix included, so
// that the concatenation is unambiguous) are in e.spans.
func (e *Encoder) noteKey(dst []byte) {
	var h maphash.Hash
	h.SetSeed(e.seed)
	for i := 0; i < len(e.spans); i += 2 {
		h.Write(dst[e.spans[i]:e.spans[i+1]])
	}
	k := h.Sum64()
	if _, ok := e.keys[k]; ok {
		e.dup = true
		return
	}
	e.keys[k] = struct{}{}
}

// Header appends the COPY stream's header.
func (e *Encoder) Header(dst []byte) []byte { return append(dst, copyHeader...) }

// Trailer appends the COPY stream's end marker.
func (e *Encoder) Trailer(dst []byte) []byte { return append(dst, 0xff, 0xff) }

// Encode appends the rows of rec to dst, calling flush with dst whenever it
// holds at least chunk bytes (after a whole row) and going on with the empty
// slice flush returns. Errors are *RowError.
func (e *Encoder) Encode(rec arrow.RecordBatch, dst []byte, chunk int, flush func([]byte) ([]byte, error)) ([]byte, error) {
	if int(rec.NumCols()) != len(e.types) {
		return dst, fmt.Errorf("record has %d columns, the encoder %d", rec.NumCols(), len(e.types))
	}
	e.encs = e.encs[:0]
	cols := make([]arrow.Array, len(e.types))
	plans := make([]plan, len(e.types))
	for c, t := range e.types {
		cols[c] = storage(rec.Column(c))
		enc, err := encoderFor(t, cols[c])
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", e.names[c], err)
		}
		e.encs = append(e.encs, enc)
		plans[c] = planFor(t, cols[c])
	}
	nfields := len(e.types)
	if e.ordinal {
		nfields++
	}
	n := int(rec.NumRows())
	var err error
	var ok bool
	for i := 0; i < n; i++ {
		dst = binary.BigEndian.AppendUint16(dst, uint16(nfields))
		for c := range plans {
			p := &plans[c]
			at := len(dst)
			if e.keys != nil && e.pkAt[c] >= 0 {
				e.spans[2*e.pkAt[c]] = at
			}
			if p.nulls && cols[c].IsNull(i) {
				dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
			} else if dst, ok = p.appendFast(dst, i); !ok {
				dst = append(dst, 0, 0, 0, 0)
				if dst, err = e.encs[c](dst, i); err != nil {
					return dst[:at], &RowError{Column: e.names[c], Row: e.rows, Key: e.key(cols, i), Err: err}
				}
				binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
			}
			if e.keys != nil && e.pkAt[c] >= 0 {
				e.spans[2*e.pkAt[c]+1] = len(dst)
			}
		}
		if e.keys != nil {
			e.noteKey(dst)
		}
		if e.ordinal {
			dst = binary.BigEndian.AppendUint32(dst, 8)
			dst = binary.BigEndian.AppendUint64(dst, uint64(e.rows))
		}
		e.rows++
		if len(dst) >= chunk {
			if dst, err = flush(dst); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// fastKind names the column types Encode writes without a call per value.
type fastKind uint8

const (
	fastNone fastKind = iota
	fastInt64
	fastInt32
	fastFloat64
	fastBool
	fastTimestampMicros // falls back to the encoder when out of range
	fastUUID
	fastString // falls back to the encoder unless plain ASCII
)

// plan is how Encode writes one column of one record.
type plan struct {
	nulls bool // the column has nulls: check validity per value
	fast  fastKind
	i64   []int64
	i32   []int32
	f64   []float64
	bools *array.Boolean
	fsb   *array.FixedSizeBinary
	str   *array.String
}

// appendFast appends the length and binary form of value i when the
// column's type has a fast path and the value takes it; ok is false when the
// column's encoder must do it.
func (p *plan) appendFast(dst []byte, i int) (out []byte, ok bool) {
	switch p.fast {
	case fastInt64:
		v := uint64(p.i64[i])
		return append(dst, 0, 0, 0, 8, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	case fastInt32:
		v := uint32(p.i32[i])
		return append(dst, 0, 0, 0, 4, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	case fastFloat64:
		v := math.Float64bits(p.f64[i])
		return append(dst, 0, 0, 0, 8, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	case fastBool:
		if p.bools.Value(i) {
			return append(dst, 0, 0, 0, 1, 1), true
		}
		return append(dst, 0, 0, 0, 1, 0), true
	case fastTimestampMicros:
		// Compared before subtracting, which could overflow.
		if raw := p.i64[i]; raw >= minTimestamp+pgEpochMicros && raw-pgEpochMicros < endTimestamp {
			v := uint64(raw - pgEpochMicros)
			return append(dst, 0, 0, 0, 8, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
		}
	case fastUUID:
		return append(append(dst, 0, 0, 0, 16), p.fsb.Value(i)...), true
	case fastString:
		if v := p.str.Value(i); textIsPlain(v) {
			n := len(v)
			return append(append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)), v...), true
		}
	}
	return dst, false
}

func planFor(t *Type, a arrow.Array) plan {
	p := plan{nulls: a.NullN() > 0}
	switch t.Kind {
	case KindInt64:
		p.fast, p.i64 = fastInt64, a.(*array.Int64).Int64Values()
	case KindInt32:
		p.fast, p.i32 = fastInt32, a.(*array.Int32).Int32Values()
	case KindFloat64:
		p.fast, p.f64 = fastFloat64, a.(*array.Float64).Float64Values()
	case KindBool:
		p.fast, p.bools = fastBool, a.(*array.Boolean)
	case KindTimestamp:
		if t.Arrow.(*arrow.TimestampType).Unit == arrow.Microsecond {
			vals := a.(*array.Timestamp).TimestampValues()
			p.fast, p.i64 = fastTimestampMicros, *(*[]int64)(unsafe.Pointer(&vals))
		}
	case KindUUID:
		p.fast, p.fsb = fastUUID, a.(*array.FixedSizeBinary)
	case KindString:
		if s, ok := a.(*array.String); ok {
			p.fast, p.str = fastString, s
		}
	}
	return p
}

// key describes the primary key values of row i, for error messages.
func (e *Encoder) key(cols []arrow.Array, i int) string {
	var parts []string
	for _, c := range e.pk {
		v := cols[c].ValueStr(i)
		if len(v) > 100 {
			v = v[:100] + "..."
		}
		parts = append(parts, e.names[c]+"="+strconv.Quote(v))
	}
	return strings.Join(parts, ", ")
}

// Interfaces shared by the array types of one kind.
type (
	stringValues interface{ Value(int) string }
	bytesValues  interface{ Value(int) []byte }
)

// bytesOf returns the accessor of the values of a binary-like array,
// resolved once rather than per value.
func bytesOf(a arrow.Array) func(int) []byte {
	switch a := a.(type) {
	case bytesValues:
		return a.Value
	case stringValues:
		return func(i int) []byte { return []byte(a.Value(i)) }
	}
	return func(int) []byte { return nil }
}

func be16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }
func be32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func be64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

func timeExp(u arrow.TimeUnit) int { return [...]int{0, 3, 6, 9}[u] }

// encoderFor returns the binary encoder of arr's values as t's PostgreSQL type.
func encoderFor(t *Type, arr arrow.Array) (valueEncoder, error) {
	arr = storage(arr)
	if t.AsText {
		return cqTextEncoder(t, arr)
	}
	if t.AsJSON {
		j, err := jsonEncoderFor(t, arr)
		if err != nil {
			return nil, err
		}
		return func(dst []byte, i int) ([]byte, error) {
			return j(append(dst, 1), i) // jsonb format version 1, then text
		}, nil
	}
	if t.Array {
		return arrayEncoder(t, arr)
	}
	switch t.Kind {
	case KindBool:
		a := arr.(*array.Boolean)
		return func(dst []byte, i int) ([]byte, error) {
			if a.Value(i) {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}, nil
	case KindInt8:
		a := arr.(*array.Int8)
		return func(dst []byte, i int) ([]byte, error) { return be16(dst, int16(a.Value(i))), nil }, nil
	case KindInt16:
		a := arr.(*array.Int16)
		return func(dst []byte, i int) ([]byte, error) { return be16(dst, a.Value(i)), nil }, nil
	case KindInt32:
		a := arr.(*array.Int32)
		return func(dst []byte, i int) ([]byte, error) { return be32(dst, a.Value(i)), nil }, nil
	case KindInt64:
		a := arr.(*array.Int64)
		return func(dst []byte, i int) ([]byte, error) { return be64(dst, a.Value(i)), nil }, nil
	case KindUint8:
		a := arr.(*array.Uint8)
		return func(dst []byte, i int) ([]byte, error) { return be16(dst, int16(a.Value(i))), nil }, nil
	case KindUint16:
		a := arr.(*array.Uint16)
		return func(dst []byte, i int) ([]byte, error) { return be32(dst, int32(a.Value(i))), nil }, nil
	case KindUint32:
		a := arr.(*array.Uint32)
		return func(dst []byte, i int) ([]byte, error) { return be64(dst, int64(a.Value(i))), nil }, nil
	case KindUint64:
		a := arr.(*array.Uint64)
		var digits []byte
		return func(dst []byte, i int) ([]byte, error) {
			digits = strconv.AppendUint(digits[:0], a.Value(i), 10)
			return appendNumeric(dst, false, digits, 0), nil
		}, nil
	case KindFloat16:
		a := arr.(*array.Float16)
		return func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(a.Value(i).Float32())), nil
		}, nil
	case KindFloat32:
		a := arr.(*array.Float32)
		return func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(a.Value(i))), nil
		}, nil
	case KindFloat64:
		a := arr.(*array.Float64)
		return func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint64(dst, math.Float64bits(a.Value(i))), nil
		}, nil
	case KindDecimal:
		return decimalEncoder(arr)
	case KindString:
		a, ok := arr.(stringValues)
		if !ok {
			return nil, fmt.Errorf("%T is not a string array", arr)
		}
		return func(dst []byte, i int) ([]byte, error) { return appendText(dst, a.Value(i)) }, nil
	case KindBinary, KindFixedBinary:
		a, ok := arr.(bytesValues)
		if !ok {
			return nil, fmt.Errorf("%T is not a binary array", arr)
		}
		return func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }, nil
	case KindDate32:
		a := arr.(*array.Date32)
		return func(dst []byte, i int) ([]byte, error) {
			d, err := pgDate(int64(a.Value(i)))
			return be32(dst, d), err
		}, nil
	case KindDate64:
		a := arr.(*array.Date64)
		return func(dst []byte, i int) ([]byte, error) {
			// A date64 is a whole day in milliseconds; a time of day in
			// it is dropped, as date does.
			d, err := pgDate(floorDiv(int64(a.Value(i)), 86400000))
			return be32(dst, d), err
		}, nil
	case KindTime32:
		a := arr.(*array.Time32)
		exp := timeExp(t.Arrow.(*arrow.Time32Type).Unit)
		return func(dst []byte, i int) ([]byte, error) { return appendTime(dst, int64(a.Value(i)), exp) }, nil
	case KindTime64:
		a := arr.(*array.Time64)
		exp := timeExp(t.Arrow.(*arrow.Time64Type).Unit)
		return func(dst []byte, i int) ([]byte, error) { return appendTime(dst, int64(a.Value(i)), exp) }, nil
	case KindTimestamp:
		a := arr.(*array.Timestamp)
		exp := timeExp(t.Arrow.(*arrow.TimestampType).Unit)
		return func(dst []byte, i int) ([]byte, error) {
			us, err := timestampMicros(int64(a.Value(i)), exp)
			return be64(dst, us), err
		}, nil
	case KindDuration:
		a := arr.(*array.Duration)
		exp := timeExp(t.Arrow.(*arrow.DurationType).Unit)
		return func(dst []byte, i int) ([]byte, error) {
			us, ok := toMicros(int64(a.Value(i)), exp)
			if !ok {
				return dst, fmt.Errorf("duration %d is %w", a.Value(i), errOutOfRange)
			}
			return appendInterval(dst, us, 0, 0), nil
		}, nil
	case KindMonthInterval:
		a := arr.(*array.MonthInterval)
		return func(dst []byte, i int) ([]byte, error) { return appendInterval(dst, 0, 0, int32(a.Value(i))), nil }, nil
	case KindDayTimeInterval:
		a := arr.(*array.DayTimeInterval)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			return appendInterval(dst, int64(v.Milliseconds)*1000, v.Days, 0), nil
		}, nil
	case KindMonthDayNanoInterval:
		a := arr.(*array.MonthDayNanoInterval)
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			return appendInterval(dst, floorDiv(v.Nanoseconds, 1000), v.Days, v.Months), nil
		}, nil
	case KindUUID:
		a := arr.(*array.FixedSizeBinary)
		return func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }, nil
	case KindJSON:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) {
			v := val(i)
			if jsonIsPlain(v) {
				// The server checks the syntax; nothing to drop here.
				return append(append(dst, 1), v...), nil
			}
			return SanitizeJSON(append(dst, 1), v)
		}, nil
	case KindInet:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) { return appendInet(dst, string(val(i))) }, nil
	case KindMAC:
		val := bytesOf(arr)
		return func(dst []byte, i int) ([]byte, error) { return appendMAC(dst, string(val(i))) }, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnsupported, t)
}

func appendTime(dst []byte, v int64, exp int) ([]byte, error) {
	us, ok := toMicros(v, exp)
	if !ok || us < 0 || us > microsPerDay {
		return dst, fmt.Errorf("time of day %d (10^-%d s) is %w (00:00:00 to 24:00:00)", v, exp, errOutOfRange)
	}
	return be64(dst, us), nil
}

// appendText appends a text value: NUL bytes, which PostgreSQL's text cannot
// hold, are dropped (as the CloudQuery destination does); invalid UTF-8 is
// an error rather than corrupted text.
func appendText(dst []byte, s string) ([]byte, error) {
	plain, hasNUL := scanText(s)
	if plain {
		return append(dst, s...), nil
	}
	if !utf8.ValidString(s) {
		return dst, invalidUTF8(s)
	}
	if !hasNUL {
		return append(dst, s...), nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] != 0 {
			dst = append(dst, s[i])
		}
	}
	return dst, nil
}

// jsonIsPlain reports whether JSON text v can go to the server as it is:
// ASCII, without NUL and without backslashes (no escape can be \u0000).
// Its syntax is then the server's to check, which it does for every jsonb
// value, naming the row in its error. Anything else is scanned in full.
func jsonIsPlain(v []byte) bool {
	const lo, hi, bs = 0x0101010101010101, 0x8080808080808080, 0x5c5c5c5c5c5c5c5c
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := binary.LittleEndian.Uint64(v[i:])
		x := w ^ bs // a zero byte where v has a backslash
		if w&hi != 0 || (w-lo)&^w&hi != 0 || (x-lo)&^x&hi != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// textIsPlain reports whether s is ASCII without NUL: text that needs no
// change and no further check.
func textIsPlain(s string) bool {
	plain, _ := scanText(s)
	return plain
}

// scanText looks at s eight bytes at a time: plain means ASCII without NUL,
// the common case, which needs nothing more; else hasNUL says whether it
// holds a NUL byte. One pass, for a guest without vector instructions.
func scanText(s string) (plain, hasNUL bool) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	plain = true
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&hi != 0 {
			plain = false
		}
		if (w-lo)&^w&hi != 0 && strings.IndexByte(s[i:i+8], 0) >= 0 {
			return false, true
		}
	}
	for ; i < len(s); i++ {
		switch {
		case s[i] == 0:
			return false, true
		case s[i] >= utf8.RuneSelf:
			plain = false
		}
	}
	return plain, false
}

func invalidUTF8(s string) error {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	end := min(i+8, len(s))
	return fmt.Errorf("text is not valid UTF-8 (byte %d of %d: % x); PostgreSQL stores UTF-8 text only, so fix the source or send it as binary", i, len(s), s[i:end])
}

// decimalEncoder encodes any Arrow decimal as numeric.
func decimalEncoder(arr arrow.Array) (valueEncoder, error) {
	scale := arr.DataType().(arrow.DecimalType).GetScale()
	var digits []byte
	small := func(dst []byte, v int64) []byte {
		neg := v < 0
		u := uint64(v)
		if neg {
			u = -u
		}
		digits = strconv.AppendUint(digits[:0], u, 10)
		return appendNumeric(dst, neg, digits, scale)
	}
	switch a := arr.(type) {
	case *array.Decimal32:
		return func(dst []byte, i int) ([]byte, error) { return small(dst, int64(a.Value(i))), nil }, nil
	case *array.Decimal64:
		return func(dst []byte, i int) ([]byte, error) { return small(dst, int64(a.Value(i))), nil }, nil
	case *array.Decimal128:
		return func(dst []byte, i int) ([]byte, error) {
			v := a.Value(i)
			if v.HighBits() == 0 && v.LowBits() < 1<<63 || v.HighBits() == -1 && v.LowBits() >= 1<<63 {
				return small(dst, int64(v.LowBits())), nil
			}
			b := v.BigInt()
			digits = b.Append(digits[:0], 10)
			neg := digits[0] == '-'
			if neg {
				digits = digits[1:]
			}
			return appendNumeric(dst, neg, digits, scale), nil
		}, nil
	case *array.Decimal256:
		return func(dst []byte, i int) ([]byte, error) {
			b := a.Value(i).BigInt()
			digits = b.Append(digits[:0], 10)
			neg := digits[0] == '-'
			if neg {
				digits = digits[1:]
			}
			return appendNumeric(dst, neg, digits, scale), nil
		}, nil
	}
	return nil, fmt.Errorf("%T is not a decimal array", arr)
}

// arrayEncoder encodes a list as a one-dimensional PostgreSQL array.
func arrayEncoder(t *Type, arr arrow.Array) (valueEncoder, error) {
	list, ok := arr.(array.ListLike)
	if !ok {
		return nil, fmt.Errorf("%T is not a list array", arr)
	}
	values := storage(list.ListValues())
	elem, err := encoderFor(t.Elem, values)
	if err != nil {
		return nil, err
	}
	anyNull := values.NullN() > 0
	ep := planFor(t.Elem, values)
	oid := t.OID
	return func(dst []byte, i int) ([]byte, error) {
		start, end := list.ValueOffsets(i)
		if start == end {
			dst = be32(dst, 0) // no dimensions
			dst = be32(dst, 0)
			return be32(dst, int32(t.OID)), nil
		}
		hasNull := int32(0)
		for j := start; anyNull && j < end; j++ {
			if values.IsNull(int(j)) {
				hasNull = 1
				break
			}
		}
		n := uint32(end - start)
		// One dimension, the null flag, the element type, the length, lower bound 1.
		dst = append(dst, 0, 0, 0, 1, 0, 0, 0, byte(hasNull), byte(oid>>24), byte(oid>>16), byte(oid>>8), byte(oid),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 0, 0, 0, 1)
		var err error
		for j := int(start); j < int(end); j++ {
			if hasNull != 0 && values.IsNull(j) {
				dst = be32(dst, -1)
				continue
			}
			var ok bool
			if dst, ok = ep.appendFast(dst, j); ok {
				continue
			}
			at := len(dst)
			dst = append(dst, 0, 0, 0, 0)
			if dst, err = elem(dst, j); err != nil {
				return dst, fmt.Errorf("list element %d: %w", j-int(start), err)
			}
			binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
		}
		return dst, nil
	}, nil
}
