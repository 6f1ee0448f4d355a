package pgbinary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// valueDecoder appends the value whose binary form is v (never NULL) to its
// builder.
type valueDecoder func(v []byte) error

// Decoder turns a PostgreSQL binary COPY stream (COPY ... TO STDOUT (FORMAT
// binary)) back into Arrow records of the types the columns were written
// from.
type Decoder struct {
	table  string
	schema *arrow.Schema
	types  []*Type
	b      *array.RecordBuilder
	decs   []valueDecoder
	rows   int64
}

// NewDecoder returns a decoder of rows of schema (storage types: see
// StorageSchema), stored as types.
func NewDecoder(table string, schema *arrow.Schema, types []*Type) (*Decoder, error) {
	d := &Decoder{table: table, schema: schema, types: types, b: array.NewRecordBuilder(memory.DefaultAllocator, schema)}
	for i, t := range types {
		dec, err := decoderFor(t, d.b.Field(i))
		if err != nil {
			d.b.Release()
			return nil, fmt.Errorf("table %q, column %q: %w", table, schema.Field(i).Name, err)
		}
		d.decs = append(d.decs, dec)
	}
	return d, nil
}

// Release frees the decoder's builders.
func (d *Decoder) Release() { d.b.Release() }

// Rows returns the rows decoded so far.
func (d *Decoder) Rows() int64 { return d.rows }

// Decode reads one whole COPY stream and calls emit with records of at most
// batchRows rows; emit owns each record.
func (d *Decoder) Decode(data []byte, batchRows int, emit func(arrow.RecordBatch) error) error {
	if !bytes.HasPrefix(data, copyHeader[:11]) || len(data) < 19 {
		return errors.New("COPY output is not in PostgreSQL's binary format")
	}
	ext := int(binary.BigEndian.Uint32(data[15:]))
	p := 19 + ext
	if p > len(data) {
		return errors.New("COPY output: bad header")
	}
	pending := 0
	for {
		if p+2 > len(data) {
			return errors.New("COPY output ends without its trailer")
		}
		n := int(int16(binary.BigEndian.Uint16(data[p:])))
		p += 2
		if n == -1 {
			break
		}
		if n != len(d.decs) {
			return fmt.Errorf("COPY output has %d columns, want %d", n, len(d.decs))
		}
		for c, dec := range d.decs {
			if p+4 > len(data) {
				return errors.New("COPY output: truncated row")
			}
			l := int(int32(binary.BigEndian.Uint32(data[p:])))
			p += 4
			if l < 0 {
				d.b.Field(c).AppendNull()
				continue
			}
			if p+l > len(data) {
				return errors.New("COPY output: truncated value")
			}
			if err := dec(data[p : p+l]); err != nil {
				return &RowError{Table: d.table, Column: d.schema.Field(c).Name, Row: d.rows, Err: err}
			}
			p += l
		}
		d.rows++
		if pending++; pending == batchRows {
			if err := emit(d.b.NewRecordBatch()); err != nil {
				return err
			}
			pending = 0
		}
	}
	if pending > 0 {
		return emit(d.b.NewRecordBatch())
	}
	return nil
}

func int2(v []byte) (int64, error) {
	if len(v) != 2 {
		return 0, errors.New("smallint: bad length")
	}
	return int64(int16(binary.BigEndian.Uint16(v))), nil
}

func int4(v []byte) (int64, error) {
	if len(v) != 4 {
		return 0, errors.New("integer: bad length")
	}
	return int64(int32(binary.BigEndian.Uint32(v))), nil
}

func int8v(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, errors.New("bigint: bad length")
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// rangeErr is the error for a stored value that the wanted Arrow type
// cannot hold.
func rangeErr(v any, t arrow.DataType) error {
	return fmt.Errorf("stored value %v does not fit in %s", v, t)
}

type (
	stringAppender interface{ Append(string) }
	bytesAppender  interface{ Append([]byte) }
)

// appendBytesTo appends v to a string or binary builder.
func appendBytesTo(b array.Builder, v []byte) error {
	switch b := b.(type) {
	case stringAppender:
		b.Append(string(v))
	case *array.FixedSizeBinaryBuilder:
		if w := b.Type().(*arrow.FixedSizeBinaryType).ByteWidth; len(v) != w {
			return fmt.Errorf("stored value has %d bytes, %s holds %d", len(v), b.Type(), w)
		}
		b.Append(v)
	case bytesAppender:
		b.Append(v)
	default:
		return fmt.Errorf("cannot append bytes to %T", b)
	}
	return nil
}

// intDecoder reads a PostgreSQL integer of the width of get into an Arrow
// integer builder, checking its range.
func intDecoder(b array.Builder, get func([]byte) (int64, error)) (valueDecoder, error) {
	appendInt := func(lo, hi int64, app func(int64)) valueDecoder {
		return func(v []byte) error {
			x, err := get(v)
			if err != nil {
				return err
			}
			if x < lo || x > hi {
				return rangeErr(x, b.Type())
			}
			app(x)
			return nil
		}
	}
	switch b := b.(type) {
	case *array.Int8Builder:
		return appendInt(math.MinInt8, math.MaxInt8, func(x int64) { b.Append(int8(x)) }), nil
	case *array.Int16Builder:
		return appendInt(math.MinInt16, math.MaxInt16, func(x int64) { b.Append(int16(x)) }), nil
	case *array.Int32Builder:
		return appendInt(math.MinInt32, math.MaxInt32, func(x int64) { b.Append(int32(x)) }), nil
	case *array.Int64Builder:
		return appendInt(math.MinInt64, math.MaxInt64, b.Append), nil
	case *array.Uint8Builder:
		return appendInt(0, math.MaxUint8, func(x int64) { b.Append(uint8(x)) }), nil
	case *array.Uint16Builder:
		return appendInt(0, math.MaxUint16, func(x int64) { b.Append(uint16(x)) }), nil
	case *array.Uint32Builder:
		return appendInt(0, math.MaxUint32, func(x int64) { b.Append(uint32(x)) }), nil
	}
	return nil, fmt.Errorf("cannot read integers into %T", b)
}

// decoderFor returns the decoder of t's PostgreSQL binary values into b.
func decoderFor(t *Type, b array.Builder) (valueDecoder, error) {
	if t.AsText {
		return cqTextDecoder(t, b)
	}
	if t.AsJSON {
		j, err := jsonDecoderFor(t, b)
		if err != nil {
			return nil, err
		}
		return func(v []byte) error {
			if len(v) == 0 || v[0] != 1 {
				return errors.New("jsonb: unknown format version")
			}
			return j(v[1:])
		}, nil
	}
	if t.Array {
		return arrayDecoder(t, b)
	}
	switch t.Kind {
	case KindBool:
		bb := b.(*array.BooleanBuilder)
		return func(v []byte) error {
			if len(v) != 1 {
				return errors.New("boolean: bad length")
			}
			bb.Append(v[0] != 0)
			return nil
		}, nil
	case KindInt8, KindInt16, KindUint8:
		return intDecoder(b, int2)
	case KindInt32, KindUint16:
		return intDecoder(b, int4)
	case KindInt64, KindUint32:
		return intDecoder(b, int8v)
	case KindUint64:
		bb := b.(*array.Uint64Builder)
		return func(v []byte) error {
			n, err := parseNumeric(v)
			if err != nil {
				return err
			}
			d, err := n.unscaled(0)
			if err != nil {
				return err
			}
			x, err := strconv.ParseUint(string(d), 10, 64)
			if err != nil || n.neg && x != 0 {
				return rangeErr(n, bb.Type())
			}
			bb.Append(x)
			return nil
		}, nil
	case KindFloat16, KindFloat32:
		return func(v []byte) error {
			if len(v) != 4 {
				return errors.New("real: bad length")
			}
			f := math.Float32frombits(binary.BigEndian.Uint32(v))
			if bb, ok := b.(*array.Float16Builder); ok {
				bb.Append(float16.New(f))
			} else {
				b.(*array.Float32Builder).Append(f)
			}
			return nil
		}, nil
	case KindFloat64:
		bb := b.(*array.Float64Builder)
		return func(v []byte) error {
			if len(v) != 8 {
				return errors.New("double precision: bad length")
			}
			bb.Append(math.Float64frombits(binary.BigEndian.Uint64(v)))
			return nil
		}, nil
	case KindDecimal:
		app, err := decimalAppender(b)
		if err != nil {
			return nil, err
		}
		return func(v []byte) error {
			n, err := parseNumeric(v)
			if err != nil {
				return err
			}
			return app(n)
		}, nil
	case KindString, KindBinary, KindFixedBinary, KindUUID:
		return func(v []byte) error { return appendBytesTo(b, v) }, nil
	case KindJSON:
		return func(v []byte) error {
			if len(v) == 0 || v[0] != 1 {
				return errors.New("jsonb: unknown format version")
			}
			return appendBytesTo(b, v[1:])
		}, nil
	case KindMAC:
		// CloudQuery's encoding: the raw bytes.
		return func(v []byte) error {
			if len(v) != 6 {
				return errors.New("macaddr: bad length")
			}
			return appendBytesTo(b, v)
		}, nil
	case KindInet:
		return func(v []byte) error {
			s, err := inetText(v)
			if err != nil {
				return err
			}
			return appendBytesTo(b, []byte(s))
		}, nil
	case KindDate32, KindDate64:
		return func(v []byte) error {
			d, err := int4(v)
			if err != nil {
				return err
			}
			if d == math.MinInt32 || d == math.MaxInt32 {
				return errors.New("date infinity has no Arrow form")
			}
			return appendDays(b, d+pgEpochDays)
		}, nil
	case KindTime32, KindTime64:
		return func(v []byte) error {
			us, err := int8v(v)
			if err != nil {
				return err
			}
			return appendTimeOfDay(b, us)
		}, nil
	case KindTimestamp:
		bb := b.(*array.TimestampBuilder)
		exp := timeExp(bb.Type().(*arrow.TimestampType).Unit)
		return func(v []byte) error {
			us, err := int8v(v)
			if err != nil {
				return err
			}
			if us == math.MinInt64 || us == math.MaxInt64 {
				return errors.New("timestamp infinity has no Arrow form")
			}
			x, ok := fromMicros(us+pgEpochMicros, exp)
			if !ok {
				return rangeErr(us, bb.Type())
			}
			bb.Append(arrow.Timestamp(x))
			return nil
		}, nil
	case KindDuration, KindMonthInterval, KindDayTimeInterval, KindMonthDayNanoInterval:
		return func(v []byte) error {
			us, days, months, err := parseInterval(v)
			if err != nil {
				return err
			}
			return appendInterval2(b, us, days, months)
		}, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnsupported, t)
}

// appendDays appends a date given in days since 1970.
func appendDays(b array.Builder, days int64) error {
	switch b := b.(type) {
	case *array.Date32Builder:
		b.Append(arrow.Date32(days))
	case *array.Date64Builder:
		b.Append(arrow.Date64(days * 86400000))
	default:
		return fmt.Errorf("cannot read dates into %T", b)
	}
	return nil
}

// appendTimeOfDay appends a time of day given in microseconds.
func appendTimeOfDay(b array.Builder, us int64) error {
	switch b := b.(type) {
	case *array.Time32Builder:
		x, _ := fromMicros(us, timeExp(b.Type().(*arrow.Time32Type).Unit))
		b.Append(arrow.Time32(x))
	case *array.Time64Builder:
		x, _ := fromMicros(us, timeExp(b.Type().(*arrow.Time64Type).Unit))
		b.Append(arrow.Time64(x))
	default:
		return fmt.Errorf("cannot read times into %T", b)
	}
	return nil
}

// appendInterval2 appends an interval's parts to a duration or interval builder.
func appendInterval2(b array.Builder, us int64, days, months int32) error {
	switch b := b.(type) {
	case *array.DurationBuilder:
		if months != 0 {
			return fmt.Errorf("interval of %d months has no fixed length for %s", months, b.Type())
		}
		total := us + int64(days)*microsPerDay
		x, ok := fromMicros(total, timeExp(b.Type().(*arrow.DurationType).Unit))
		if !ok {
			return rangeErr(total, b.Type())
		}
		b.Append(arrow.Duration(x))
	case *array.MonthIntervalBuilder:
		if us != 0 || days != 0 {
			return fmt.Errorf("interval with days or time does not fit in %s", b.Type())
		}
		b.Append(arrow.MonthInterval(months))
	case *array.DayTimeIntervalBuilder:
		if months != 0 {
			return fmt.Errorf("interval with months does not fit in %s", b.Type())
		}
		ms := floorDiv(us, 1000)
		if ms < math.MinInt32 || ms > math.MaxInt32 {
			return rangeErr(us, b.Type())
		}
		b.Append(arrow.DayTimeInterval{Days: days, Milliseconds: int32(ms)})
	case *array.MonthDayNanoIntervalBuilder:
		ns, ok := fromMicros(us, 9)
		if !ok {
			return rangeErr(us, b.Type())
		}
		b.Append(arrow.MonthDayNanoInterval{Months: months, Days: days, Nanoseconds: ns})
	default:
		return fmt.Errorf("cannot read intervals into %T", b)
	}
	return nil
}

// decimalAppender returns a function appending a numeric to a decimal
// builder of any width, at the builder's scale and within its precision.
func decimalAppender(b array.Builder) (func(numeric) error, error) {
	dt, ok := b.Type().(arrow.DecimalType)
	if !ok {
		return nil, fmt.Errorf("cannot read decimals into %T", b)
	}
	prec, scale := dt.GetPrecision(), dt.GetScale()
	return func(n numeric) error {
		d, err := n.unscaled(scale)
		if err != nil {
			return err
		}
		for len(d) > 1 && d[0] == '0' {
			d = d[1:]
		}
		if len(d) > int(prec) {
			return rangeErr(n, dt)
		}
		switch b := b.(type) {
		case *array.Decimal32Builder:
			x, _ := strconv.ParseInt(string(d), 10, 64)
			if n.neg {
				x = -x
			}
			b.Append(decimal.Decimal32(x))
		case *array.Decimal64Builder:
			x, _ := strconv.ParseInt(string(d), 10, 64)
			if n.neg {
				x = -x
			}
			b.Append(decimal.Decimal64(x))
		case *array.Decimal128Builder:
			b.Append(decimal128.FromBigInt(bigOf(n.neg, d)))
		case *array.Decimal256Builder:
			b.Append(decimal256.FromBigInt(bigOf(n.neg, d)))
		default:
			return fmt.Errorf("cannot read decimals into %T", b)
		}
		return nil
	}, nil
}

// arrayDecoder reads a one-dimensional PostgreSQL array into a list builder.
func arrayDecoder(t *Type, b array.Builder) (valueDecoder, error) {
	lb, ok := b.(array.ListLikeBuilder)
	if !ok {
		return nil, fmt.Errorf("cannot read arrays into %T", b)
	}
	vb := lb.ValueBuilder()
	elem, err := decoderFor(t.Elem, vb)
	if err != nil {
		return nil, err
	}
	fixed := -1
	if fl, ok := t.Arrow.(*arrow.FixedSizeListType); ok {
		fixed = int(fl.Len())
	}
	return func(v []byte) error {
		if len(v) < 12 {
			return errors.New("array: short value")
		}
		ndim := int(int32(binary.BigEndian.Uint32(v)))
		if oid := binary.BigEndian.Uint32(v[8:]); oid != t.OID {
			return fmt.Errorf("array of type OID %d, want %d (%s)", oid, t.OID, t.PG)
		}
		n := 0
		p := 12
		switch ndim {
		case 0:
		case 1:
			if len(v) < 20 {
				return errors.New("array: short value")
			}
			n = int(int32(binary.BigEndian.Uint32(v[12:])))
			p = 20
		default:
			return fmt.Errorf("array of %d dimensions; a list has one", ndim)
		}
		if fixed >= 0 && n != fixed {
			return fmt.Errorf("array of %d elements does not fit in %s", n, t.Arrow)
		}
		lb.Append(true)
		for j := 0; j < n; j++ {
			if p+4 > len(v) {
				return errors.New("array: truncated")
			}
			l := int(int32(binary.BigEndian.Uint32(v[p:])))
			p += 4
			if l < 0 {
				vb.AppendNull()
				continue
			}
			if p+l > len(v) {
				return errors.New("array: truncated element")
			}
			if err := elem(v[p : p+l]); err != nil {
				return fmt.Errorf("array element %d: %w", j, err)
			}
			p += l
		}
		return nil
	}, nil
}
