package codec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Arrow types Parquet (through pqarrow) cannot store as they are, and what
// they are written as (parquetType):
//
//   - binary_view, utf8_view: binary, utf8;
//   - decimal32, decimal64: decimal128 of the same precision and scale (Parquet
//     DECIMAL);
//   - dictionaries: their values, decoded (Parquet dictionary-encodes
//     column chunks by itself); pqarrow refuses dictionaries holding a null
//     value and dictionaries of nested types;
//   - lists whose null entries span values: with those entries emptied
//     (compactNullLists).
//
// Reading back converts the other way (Convert).

// convertSpecial handles the conversions of the types above, both ways;
// ok is false when it does not apply.
func convertSpecial(arr arrow.Array, want arrow.DataType) (out arrow.Array, ok bool, err error) {
	got := arr.DataType()
	switch got.ID() {
	case arrow.DICTIONARY:
		if want.ID() != arrow.DICTIONARY {
			d := arr.(*array.Dictionary)
			values, err := compute.TakeArray(context.Background(), d.Dictionary(), d.Indices())
			if err != nil {
				return nil, true, fmt.Errorf("decode dictionary: %w", err)
			}
			defer values.Release()
			out, err := Convert(values, want)
			return out, true, err
		}
	case arrow.BINARY_VIEW, arrow.STRING_VIEW:
		switch want.ID() {
		case arrow.BINARY, arrow.STRING, arrow.LARGE_BINARY, arrow.LARGE_STRING:
			out, err := compute.CastArray(context.Background(), arr, compute.SafeCastOptions(want))
			return out, true, err
		}
	case arrow.DECIMAL32, arrow.DECIMAL64:
		if want.ID() == arrow.DECIMAL128 {
			return widenDecimal(arr, want.(*arrow.Decimal128Type)), true, nil
		}
	}
	switch want.ID() {
	case arrow.DICTIONARY:
		b := array.NewDictionaryBuilder(mem, want.(*arrow.DictionaryType))
		defer b.Release()
		values, err := Convert(arr, want.(*arrow.DictionaryType).ValueType)
		if err != nil {
			return nil, true, err
		}
		defer values.Release()
		if err := b.AppendArray(values); err != nil {
			return nil, true, fmt.Errorf("encode dictionary: %w", err)
		}
		return b.NewArray(), true, nil
	case arrow.BINARY_VIEW, arrow.STRING_VIEW:
		switch got.ID() {
		case arrow.BINARY, arrow.STRING, arrow.LARGE_BINARY, arrow.LARGE_STRING:
			out, err := compute.CastArray(context.Background(), arr, compute.SafeCastOptions(want))
			return out, true, err
		}
	case arrow.DECIMAL32, arrow.DECIMAL64:
		if got.ID() == arrow.DECIMAL128 {
			return narrowDecimal(arr.(*array.Decimal128), want), true, nil
		}
	}
	return nil, false, nil
}

func widenDecimal(arr arrow.Array, want *arrow.Decimal128Type) arrow.Array {
	b := array.NewDecimal128Builder(mem, want)
	defer b.Release()
	b.Reserve(arr.Len())
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		var v int64
		switch a := arr.(type) {
		case *array.Decimal32:
			v = int64(a.Value(i))
		case *array.Decimal64:
			v = int64(a.Value(i))
		}
		b.Append(decimal128.FromI64(v))
	}
	return b.NewArray()
}

func narrowDecimal(arr *array.Decimal128, want arrow.DataType) arrow.Array {
	b := array.NewBuilder(mem, want)
	defer b.Release()
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := int64(arr.Value(i).LowBits()) // within the type's precision
		switch bb := b.(type) {
		case *array.Decimal32Builder:
			bb.Append(decimal.Decimal32(v))
		case *array.Decimal64Builder:
			bb.Append(decimal.Decimal64(v))
		}
	}
	return b.NewArray()
}

// compactNullLists returns arr with every null list entry empty, through
// structs and list elements: pqarrow refuses null entries that span values
// ("lists with non-zero length null components"), which Arrow allows. The
// result must be released.
func compactNullLists(arr arrow.Array) (arrow.Array, error) {
	switch a := arr.(type) {
	case *array.Struct:
		d := a.Data()
		children := make([]arrow.ArrayData, len(d.Children()))
		changed := false
		for i, cd := range d.Children() {
			c := array.MakeFromData(cd)
			nc, err := compactNullLists(c)
			c.Release()
			if err != nil {
				releaseData(children)
				return nil, err
			}
			changed = changed || nc.Data() != cd
			children[i] = nc.Data()
			children[i].Retain()
			nc.Release()
		}
		defer releaseData(children)
		if !changed {
			arr.Retain()
			return arr, nil
		}
		nd := array.NewData(d.DataType(), d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
		defer nd.Release()
		return array.MakeFromData(nd), nil
	case array.ListLike:
		if arr.DataType().ID() == arrow.FIXED_SIZE_LIST {
			break
		}
		src := arr
		if nullSpansValues(a) {
			// Take rebuilds the offsets, giving null entries no values.
			idx := array.NewInt64Builder(mem)
			for i := 0; i < arr.Len(); i++ {
				idx.Append(int64(i))
			}
			ia := idx.NewArray()
			idx.Release()
			taken, err := compute.TakeArray(context.Background(), arr, ia)
			ia.Release()
			if err != nil {
				return nil, fmt.Errorf("empty the null list entries: %w", err)
			}
			defer taken.Release()
			src = taken
		}
		d := src.Data()
		values := array.MakeFromData(d.Children()[0])
		nv, err := compactNullLists(values)
		values.Release()
		if err != nil {
			return nil, err
		}
		defer nv.Release()
		if nv.Data() == d.Children()[0] {
			src.Retain()
			return src, nil
		}
		nd := array.NewData(d.DataType(), d.Len(), d.Buffers(), []arrow.ArrayData{nv.Data()}, d.NullN(), d.Offset())
		defer nd.Release()
		return array.MakeFromData(nd), nil
	}
	arr.Retain()
	return arr, nil
}

// nullSpansValues reports whether a null entry of a list spans values.
func nullSpansValues(a array.ListLike) bool {
	if a.NullN() == 0 {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			if start, end := a.ValueOffsets(i); end > start {
				return true
			}
		}
	}
	return false
}

func releaseData(ds []arrow.ArrayData) {
	for _, d := range ds {
		if d != nil {
			d.Release()
		}
	}
}
