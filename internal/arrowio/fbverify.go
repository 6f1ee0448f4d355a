package arrowio

import (
	"encoding/binary"
	"fmt"
)

// This file checks the FlatBuffers metadata of Arrow IPC messages and file
// footers before arrow-go decodes them. arrow-go trusts that metadata: a
// vector length read from 4 hostile bytes sizes a make() (a few bytes can ask
// for tens of GiB, which is a fatal out-of-memory, not a recoverable panic),
// and a schema whose fields share children (FlatBuffers offsets may point
// at the same table many times) expands exponentially. The checks follow the
// Arrow format files Message.fbs, Schema.fbs and File.fbs; vtable slot n of a
// table is at byte 4+2n of its vtable.

const maxNesting = 64 // as arrow-go's kMaxNestingDepth

// Message header types (MessageHeader union of Message.fbs).
const (
	headerSchema     = 1
	headerDictionary = 2
	headerRecord     = 3
)

func headerName(t int) string {
	switch t {
	case headerSchema:
		return "schema"
	case headerDictionary:
		return "dictionary batch"
	case headerRecord:
		return "record batch"
	case 4:
		return "tensor"
	case 5:
		return "sparse tensor"
	}
	return fmt.Sprintf("message of unknown type %d", t)
}

type fbuf struct {
	b      []byte
	visits int
	max    int
}

type fbTable struct {
	pos, vt, vtLen, size int64
	what                 string
}

func newFB(b []byte) *fbuf { return &fbuf{b: b, max: len(b)/4 + 8} }

func (f *fbuf) in(p, n int64) bool {
	return p >= 0 && n >= 0 && p <= int64(len(f.b)) && n <= int64(len(f.b))-p
}

func (f *fbuf) u16(p int64) int64 { return int64(binary.LittleEndian.Uint16(f.b[p:])) }
func (f *fbuf) u32(p int64) int64 { return int64(binary.LittleEndian.Uint32(f.b[p:])) }
func (f *fbuf) i64(p int64) int64 { return int64(binary.LittleEndian.Uint64(f.b[p:])) }

func (f *fbuf) table(pos int64, what string) (fbTable, error) {
	f.visits++
	if f.visits > f.max {
		return fbTable{}, fmt.Errorf("%s: the metadata reaches more tables (%d) than %d bytes can hold: it reuses tables to expand exponentially", what, f.visits, len(f.b))
	}
	if !f.in(pos, 4) {
		return fbTable{}, fmt.Errorf("%s: table at %d is outside the %d bytes of metadata", what, pos, len(f.b))
	}
	vt := pos - int64(int32(f.u32(pos)))
	if !f.in(vt, 4) {
		return fbTable{}, fmt.Errorf("%s: vtable at %d is outside the metadata", what, vt)
	}
	vtLen, size := f.u16(vt), f.u16(vt+2)
	if vtLen < 4 || vtLen%2 != 0 || !f.in(vt, vtLen) {
		return fbTable{}, fmt.Errorf("%s: bad vtable length %d", what, vtLen)
	}
	if size < 4 || !f.in(pos, size) {
		return fbTable{}, fmt.Errorf("%s: table of %d bytes at %d runs past the metadata", what, size, pos)
	}
	t := fbTable{pos: pos, vt: vt, vtLen: vtLen, size: size, what: what}
	for vo := int64(4); vo < vtLen; vo += 2 {
		if fo := f.u16(vt + vo); fo != 0 && (fo < 4 || fo >= size) {
			return fbTable{}, fmt.Errorf("%s: field %d lies outside its table", what, (vo-4)/2)
		}
	}
	return t, nil
}

// field returns the offset of slot n inside t, or 0 when it is absent.
func (f *fbuf) field(t fbTable, n int) int64 {
	vo := int64(4 + 2*n)
	if vo+2 > t.vtLen {
		return 0
	}
	return f.u16(t.vt + vo)
}

// scalar returns the little-endian value of a size-byte scalar in slot n,
// or 0 when the slot is absent (every default used here is 0).
func (f *fbuf) scalar(t fbTable, n int, size int64) (int64, error) {
	fo := f.field(t, n)
	if fo == 0 {
		return 0, nil
	}
	if fo+size > t.size {
		return 0, fmt.Errorf("%s: field %d runs past its table", t.what, n)
	}
	p := t.pos + fo
	switch size {
	case 1:
		return int64(f.b[p]), nil
	case 2:
		return f.u16(p), nil
	case 4:
		return int64(int32(f.u32(p))), nil
	default:
		return f.i64(p), nil
	}
}

// ref follows the offset in slot n; ok is false when the slot is absent.
func (f *fbuf) ref(t fbTable, n int) (target int64, ok bool, err error) {
	fo := f.field(t, n)
	if fo == 0 {
		return 0, false, nil
	}
	if fo+4 > t.size {
		return 0, false, fmt.Errorf("%s: field %d runs past its table", t.what, n)
	}
	p := t.pos + fo
	return p + f.u32(p), true, nil
}

func (f *fbuf) subtable(t fbTable, n int, what string) (fbTable, bool, error) {
	p, ok, err := f.ref(t, n)
	if !ok || err != nil {
		return fbTable{}, false, err
	}
	sub, err := f.table(p, what)
	return sub, err == nil, err
}

// vector returns the start and length of the vector in slot n whose
// elements are elem bytes each.
func (f *fbuf) vector(t fbTable, n int, elem int64, what string) (start, count int64, err error) {
	p, ok, err := f.ref(t, n)
	if !ok || err != nil {
		return 0, 0, err
	}
	if !f.in(p, 4) {
		return 0, 0, fmt.Errorf("%s: vector at %d is outside the metadata", what, p)
	}
	count, start = f.u32(p), p+4
	if count > (int64(len(f.b))-start)/elem {
		return 0, 0, fmt.Errorf("%s: vector of %d elements of %d bytes runs past the %d bytes of metadata", what, count, elem, len(f.b))
	}
	return start, count, nil
}

func (f *fbuf) str(t fbTable, n int, what string) error {
	_, _, err := f.vector(t, n, 1, what)
	return err
}

// tables calls fn for each table of the vector of tables in slot n.
func (f *fbuf) tables(t fbTable, n int, what string, fn func(i int64, e fbTable) error) error {
	start, count, err := f.vector(t, n, 4, what)
	if err != nil {
		return err
	}
	for i := int64(0); i < count; i++ {
		p := start + 4*i
		e, err := f.table(p+f.u32(p), fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(i, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fbuf) keyValues(t fbTable, n int, what string) error {
	return f.tables(t, n, what, func(_ int64, kv fbTable) error {
		if err := f.str(kv, 0, kv.what+".key"); err != nil {
			return err
		}
		return f.str(kv, 1, kv.what+".value")
	})
}

func (f *fbuf) schema(t fbTable) error {
	if _, err := f.scalar(t, 0, 2); err != nil {
		return err
	}
	if err := f.tables(t, 1, "schema.fields", func(_ int64, fld fbTable) error { return f.fieldTable(fld, 1) }); err != nil {
		return err
	}
	if err := f.keyValues(t, 2, "schema.custom_metadata"); err != nil {
		return err
	}
	_, _, err := f.vector(t, 3, 8, "schema.features")
	return err
}

const (
	typeTimestamp = 10
	typeUnion     = 14
	typeMax       = 26 // LargeListView
)

func (f *fbuf) fieldTable(t fbTable, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("%s: fields nested more than %d levels deep", t.what, maxNesting)
	}
	if err := f.str(t, 0, t.what+".name"); err != nil {
		return err
	}
	if _, err := f.scalar(t, 1, 1); err != nil {
		return err
	}
	tt, err := f.scalar(t, 2, 1)
	if err != nil {
		return err
	}
	if tt == 0 || tt > typeMax {
		return fmt.Errorf("%s: unknown type id %d", t.what, tt)
	}
	typ, ok, err := f.subtable(t, 3, t.what+".type")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: no type", t.what)
	}
	switch tt {
	case typeTimestamp:
		err = f.str(typ, 1, typ.what+".timezone")
	case typeUnion:
		_, _, err = f.vector(typ, 1, 4, typ.what+".typeIds")
	}
	if err != nil {
		return err
	}
	if dict, ok, err := f.subtable(t, 4, t.what+".dictionary"); err != nil {
		return err
	} else if ok {
		if _, _, err := f.subtable(dict, 1, dict.what+".indexType"); err != nil {
			return err
		}
	}
	if err := f.tables(t, 5, t.what+".children", func(_ int64, c fbTable) error { return f.fieldTable(c, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(t, 6, t.what+".custom_metadata")
}

// msgInfo is what the checks learn about a message.
type msgInfo struct {
	header  int   // headerSchema, headerDictionary or headerRecord
	bodyLen int64 // Message.bodyLength
	rows    int64 // RecordBatch.length (of the dictionary for a dictionary batch)
	nodes   int64 // number of FieldNodes
	buffers int64 // number of Buffers
	codec   int64 // codecNone, codecLZ4 or codecZstd
	bufs    []bufRef
}

// bufRef is one buffer of a record batch: an offset and length in the body.
// verifyMessage keeps them only for compressed messages.
type bufRef struct{ off, len int64 }

const (
	codecNone = -1
	codecLZ4  = 0 // LZ4_FRAME
	codecZstd = 1
)

// verifyMessage checks the metadata flatbuffer of one IPC message. Lengths
// and counts must not exceed maxLen; buffers must lie inside the body.
func verifyMessage(meta []byte, maxLen int64) (msgInfo, error) {
	var info msgInfo
	f := newFB(meta)
	if len(meta) < 8 {
		return info, fmt.Errorf("metadata of %d bytes is too short for a message", len(meta))
	}
	t, err := f.table(f.u32(0), "message")
	if err != nil {
		return info, err
	}
	if _, err := f.scalar(t, 0, 2); err != nil {
		return info, err
	}
	ht, err := f.scalar(t, 1, 1)
	if err != nil {
		return info, err
	}
	info.header = int(ht)
	if info.bodyLen, err = f.scalar(t, 3, 8); err != nil {
		return info, err
	}
	if info.bodyLen < 0 {
		return info, fmt.Errorf("negative body length %d", info.bodyLen)
	}
	if err := f.keyValues(t, 4, "message.custom_metadata"); err != nil {
		return info, err
	}
	switch ht {
	case headerSchema, headerDictionary, headerRecord:
	case 0:
		return info, fmt.Errorf("message has no header")
	default:
		return info, fmt.Errorf("%s messages are not supported", headerName(int(ht)))
	}
	h, ok, err := f.subtable(t, 2, headerName(int(ht)))
	if err != nil {
		return info, err
	}
	if !ok {
		return info, fmt.Errorf("%s message has no header table", headerName(int(ht)))
	}
	switch ht {
	case headerSchema:
		return info, f.schema(h)
	case headerDictionary:
		if _, err := f.scalar(h, 0, 8); err != nil {
			return info, err
		}
		if _, err := f.scalar(h, 2, 1); err != nil {
			return info, err
		}
		data, ok, err := f.subtable(h, 1, "dictionary batch.data")
		if err != nil {
			return info, err
		}
		if !ok {
			return info, fmt.Errorf("dictionary batch has no data")
		}
		return info, f.recordBatch(data, &info, maxLen)
	default:
		return info, f.recordBatch(h, &info, maxLen)
	}
}

func (f *fbuf) recordBatch(t fbTable, info *msgInfo, maxLen int64) error {
	rows, err := f.scalar(t, 0, 8)
	if err != nil {
		return err
	}
	if rows < 0 || rows > maxLen {
		return fmt.Errorf("record batch length %d is out of range (0..%d)", rows, maxLen)
	}
	info.rows = rows
	info.codec = codecNone
	start, n, err := f.vector(t, 1, 16, "record batch.nodes")
	if err != nil {
		return err
	}
	info.nodes = n
	for i := int64(0); i < n; i++ {
		length, nulls := f.i64(start+16*i), f.i64(start+16*i+8)
		if length < 0 || length > maxLen || nulls < 0 || nulls > length {
			return fmt.Errorf("field node %d: length %d, null count %d out of range (length 0..%d)", i, length, nulls, maxLen)
		}
	}
	bufStart, nbufs, err := f.vector(t, 2, 16, "record batch.buffers")
	if err != nil {
		return err
	}
	info.buffers = nbufs
	for i := int64(0); i < nbufs; i++ {
		off, length := f.i64(bufStart+16*i), f.i64(bufStart+16*i+8)
		if off < 0 || length < 0 || off > info.bodyLen || length > info.bodyLen-off {
			return fmt.Errorf("buffer %d (offset %d, length %d) is outside the %d-byte body", i, off, length, info.bodyLen)
		}
	}
	if c, ok, err := f.subtable(t, 3, "record batch.compression"); err != nil {
		return err
	} else if ok {
		codec, err := f.scalar(c, 0, 1)
		if err != nil {
			return err
		}
		method, err := f.scalar(c, 1, 1)
		if err != nil {
			return err
		}
		if codec > 1 || method != 0 {
			return fmt.Errorf("unknown compression (codec %d, method %d)", codec, method)
		}
		info.codec = codec
		info.bufs = make([]bufRef, nbufs)
		for i := range info.bufs {
			info.bufs[i] = bufRef{f.i64(bufStart + 16*int64(i)), f.i64(bufStart + 16*int64(i) + 8)}
		}
	}
	start, n, err = f.vector(t, 4, 8, "record batch.variadicBufferCounts")
	if err != nil {
		return err
	}
	for i := int64(0); i < n; i++ {
		if c := f.i64(start + 8*i); c < 0 || c > info.buffers {
			return fmt.Errorf("variadic buffer count %d is out of range", c)
		}
	}
	return nil
}

// block is one entry of a file footer's dictionaries or recordBatches.
type block struct {
	offset int64
	meta   int64
	body   int64
}

type footerInfo struct {
	dicts, records []block
}

// verifyFooter checks the footer flatbuffer of an IPC file.
func verifyFooter(b []byte) (footerInfo, error) {
	var info footerInfo
	f := newFB(b)
	if len(b) < 8 {
		return info, fmt.Errorf("footer of %d bytes is too short", len(b))
	}
	t, err := f.table(f.u32(0), "footer")
	if err != nil {
		return info, err
	}
	if _, err := f.scalar(t, 0, 2); err != nil {
		return info, err
	}
	s, ok, err := f.subtable(t, 1, "footer.schema")
	if err != nil {
		return info, err
	}
	if !ok {
		return info, fmt.Errorf("footer has no schema")
	}
	if err := f.schema(s); err != nil {
		return info, err
	}
	blocks := func(n int, what string) ([]block, error) {
		start, count, err := f.vector(t, n, 24, what)
		if err != nil {
			return nil, err
		}
		out := make([]block, count)
		for i := range out {
			p := start + 24*int64(i)
			out[i] = block{offset: f.i64(p), meta: int64(int32(f.u32(p + 8))), body: f.i64(p + 16)}
		}
		return out, nil
	}
	if info.dicts, err = blocks(2, "footer.dictionaries"); err != nil {
		return info, err
	}
	if info.records, err = blocks(3, "footer.recordBatches"); err != nil {
		return info, err
	}
	return info, f.keyValues(t, 4, "footer.custom_metadata")
}
