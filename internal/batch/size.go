package batch

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RecordSize returns the in-memory size of rec's Arrow buffers in bytes: the
// sum over all columns, children and dictionaries included, of the buffer
// bytes that rec's rows cover.
//
// For a whole record this is what util.TotalRecordSize returns (the
// CloudQuery SDK's measure) except for padding: a validity bitmap counts the
// bytes its rows' bits need, not the few spare bytes a builder may have
// rounded it up to. For a slice it is very different: slices share
// their parent's buffers and util.TotalRecordSize counts those whole, so a
// one-row slice of a 1 GB record would weigh 1 GB. RecordSize counts only
// the covered part: validity bitmaps and fixed-width values by row count,
// offsets by row count + 1, variable-length data between the first and last
// offset, and nested children over the range their parent rows cover.
// A dictionary counts whole in the size of a record (a slice included), but
// when the Batcher cuts a record, each part counts the share of it that its
// rows are of the record's, so that a big dictionary does not make every
// part weigh all of it. List views, dense unions and run-end encoded arrays
// are counted the same rough way: whole buffers, shared by rows.
func RecordSize(rec arrow.RecordBatch) int64 {
	return sliceSize(rec, 0, rec.NumRows())
}

// sliceSize is RecordSize of rec rows [off, off+n) without making the slice.
func sliceSize(rec arrow.RecordBatch, off, n int64) int64 {
	var sum int64
	for _, col := range rec.Columns() {
		d := col.Data()
		sum += dataSize(d, int64(d.Offset())+off, n)
	}
	return sum
}

func bufLen(bufs []*memory.Buffer, i int) int64 {
	if i >= len(bufs) || bufs[i] == nil {
		return 0
	}
	return int64(bufs[i].Len())
}

// capped returns want bytes of buffer i, never more than the buffer has.
func capped(bufs []*memory.Buffer, i int, want int64) int64 {
	return min(max(want, 0), bufLen(bufs, i))
}

func bitmapBytes(n int64) int64 { return (n + 7) / 8 }

// wholeSize is the size of every buffer under d, as util.TotalArraySize
// counts it (without its de-duplication of shared buffers).
func wholeSize(d arrow.ArrayData) int64 {
	var sum int64
	for _, b := range d.Buffers() {
		if b != nil {
			sum += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		sum += wholeSize(c)
	}
	if dict := dictionary(d); dict != nil {
		sum += wholeSize(dict)
	}
	return sum
}

// offsets returns the offsets at index lo and hi of an int32 or int64
// offsets buffer, and false when they are outside the buffer.
func offsets(buf *memory.Buffer, wide bool, lo, hi int64) (int64, int64, bool) {
	if buf == nil || lo < 0 || hi < lo {
		return 0, 0, false
	}
	b := buf.Bytes()
	if wide {
		v := arrow.Int64Traits.CastFromBytes(b)
		if hi >= int64(len(v)) {
			return 0, 0, false
		}
		return v[lo], v[hi], true
	}
	v := arrow.Int32Traits.CastFromBytes(b)
	if hi >= int64(len(v)) {
		return 0, 0, false
	}
	return int64(v[lo]), int64(v[hi]), true
}

// dataSize is the size of rows [start, start+n) of d, where start is an
// index into d's buffers (d.Offset() already added).
func dataSize(d arrow.ArrayData, start, n int64) int64 {
	if n <= 0 {
		return 0
	}
	dt := d.DataType()
	for {
		ext, ok := dt.(arrow.ExtensionType)
		if !ok {
			break
		}
		dt = ext.StorageType()
	}
	bufs := d.Buffers()
	validity := capped(bufs, 0, bitmapBytes(n))

	switch dt.ID() {
	case arrow.NULL:
		return 0
	case arrow.BOOL:
		return validity + capped(bufs, 1, bitmapBytes(n))
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		wide := dt.ID() == arrow.LARGE_STRING || dt.ID() == arrow.LARGE_BINARY
		w := int64(4)
		if wide {
			w = 8
		}
		lo, hi, ok := offsets(bufOrNil(bufs, 1), wide, start, start+n)
		if !ok {
			return wholeSize(d)
		}
		return validity + capped(bufs, 1, (n+1)*w) + capped(bufs, 2, hi-lo)
	case arrow.BINARY_VIEW, arrow.STRING_VIEW:
		size := validity + capped(bufs, 1, n*int64(arrow.ViewHeaderSizeBytes))
		if vb := bufOrNil(bufs, 1); vb != nil {
			views := arrow.ViewHeaderTraits.CastFromBytes(vb.Bytes())
			if start+n > int64(len(views)) {
				return wholeSize(d)
			}
			for _, v := range views[start : start+n] {
				if !v.IsInline() {
					size += int64(v.Len())
				}
			}
		}
		return size
	case arrow.LIST, arrow.MAP, arrow.LARGE_LIST:
		wide := dt.ID() == arrow.LARGE_LIST
		w := int64(4)
		if wide {
			w = 8
		}
		lo, hi, ok := offsets(bufOrNil(bufs, 1), wide, start, start+n)
		children := d.Children()
		if !ok || len(children) != 1 {
			return wholeSize(d)
		}
		c := children[0]
		return validity + capped(bufs, 1, (n+1)*w) + dataSize(c, int64(c.Offset())+lo, hi-lo)
	case arrow.FIXED_SIZE_LIST:
		children := d.Children()
		k := int64(dt.(*arrow.FixedSizeListType).Len())
		if len(children) != 1 {
			return wholeSize(d)
		}
		c := children[0]
		return validity + dataSize(c, int64(c.Offset())+start*k, n*k)
	case arrow.STRUCT:
		size := validity
		for _, c := range d.Children() {
			size += dataSize(c, int64(c.Offset())+start, n)
		}
		return size
	case arrow.SPARSE_UNION:
		size := capped(bufs, 1, n)
		for _, c := range d.Children() {
			size += dataSize(c, int64(c.Offset())+start, n)
		}
		return size
	case arrow.DICTIONARY:
		idx := dt.(*arrow.DictionaryType).IndexType.(arrow.FixedWidthDataType)
		size := validity + capped(bufs, 1, n*int64(idx.BitWidth()/8))
		if dict := dictionary(d); dict != nil {
			size += share(wholeSize(dict), n, int64(d.Len()))
		}
		return size
	}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && fw.BitWidth() >= 8 && len(d.Children()) == 0 {
		return validity + capped(bufs, 1, n*int64(fw.BitWidth()/8))
	}
	// List views, dense unions, run-end encoded and anything newer.
	return share(wholeSize(d), n, int64(d.Len()))
}

// share is the part of size that n of total rows take, rounded up.
func share(size, n, total int64) int64 {
	if total <= 0 || n >= total {
		return size
	}
	return size/total*n + (size%total*n+total-1)/total
}

// dictionary returns d's dictionary or nil; arrow-go returns a typed nil
// *array.Data for "none".
func dictionary(d arrow.ArrayData) arrow.ArrayData {
	dict := d.Dictionary()
	if dict == nil {
		return nil
	}
	if ad, ok := dict.(*array.Data); ok && ad == nil {
		return nil
	}
	return dict
}

func bufOrNil(bufs []*memory.Buffer, i int) *memory.Buffer {
	if i < len(bufs) {
		return bufs[i]
	}
	return nil
}
