package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// msgReader is the ipc.MessageReader of streams. It reads one message at a
// time, checks it (limits, metadata, body) before arrow-go sees it, and
// counts messages so errors can name them.
type msgReader struct {
	rd     *Reader
	src    io.Reader
	index  int // index of the last message returned; base-1 before
	cur    *ipc.Message
	refs   atomic.Int64
	schema *arrow.Schema // set once decoded, to check record batches
	eos    bool
}

func newMsgReader(rd *Reader, src io.Reader) *msgReader {
	m := &msgReader{rd: rd, src: src, index: -1}
	m.refs.Store(1)
	return m
}

func (m *msgReader) Retain() { m.refs.Add(1) }

func (m *msgReader) Release() {
	if m.refs.Add(-1) == 0 && m.cur != nil {
		m.cur.Release()
		m.cur = nil
	}
}

func (m *msgReader) fail(idx int, err error) error {
	return &Error{Input: m.rd.name, Message: idx, Err: err}
}

// readFull reads len(buf) bytes; a short read is ErrTruncated naming what.
func (m *msgReader) readFull(idx int, buf []byte, what string) error {
	n, err := io.ReadFull(m.src, buf)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return m.fail(idx, fmt.Errorf("%w: %s needs %d bytes, the input ended after %d", ErrTruncated, what, len(buf), n))
	default:
		return m.fail(idx, fmt.Errorf("reading %s: %w", what, err))
	}
}

// Message returns the next message, io.EOF after the end-of-stream marker.
func (m *msgReader) Message() (*ipc.Message, error) {
	if m.eos {
		return nil, io.EOF
	}
	idx := m.index + 1
	var hdr [4]byte
	n, err := io.ReadFull(m.src, hdr[:])
	if n == 0 && errors.Is(err, io.EOF) {
		if idx == 0 {
			return nil, m.fail(idx, fmt.Errorf("%w: the stream is empty: no schema message", ErrTruncated))
		}
		return nil, m.fail(idx, fmt.Errorf("%w: the stream ends after message %d without its end-of-stream marker (was the writer closed?)", ErrTruncated, idx-1))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, m.fail(idx, fmt.Errorf("%w: the message length prefix needs 4 bytes, the input ended after %d", ErrTruncated, n))
	}
	if err != nil {
		return nil, m.fail(idx, fmt.Errorf("reading the message length prefix: %w", err))
	}
	v := binary.LittleEndian.Uint32(hdr[:])
	if v == continuation {
		if err := m.readFull(idx, hdr[:], "the message length"); err != nil {
			return nil, err
		}
		v = binary.LittleEndian.Uint32(hdr[:])
	}
	if v == 0 {
		m.eos = true
		if idx == 0 {
			return nil, m.fail(idx, fmt.Errorf("%w: the stream ends before its schema", ErrTruncated))
		}
		return nil, io.EOF
	}
	lim := m.rd.lim
	metaLen := int64(int32(v))
	if metaLen < 8 {
		return nil, m.fail(idx, fmt.Errorf("%w: bad metadata length %d", ErrInvalid, metaLen))
	}
	if metaLen > lim.MaxMetadataBytes {
		return nil, m.fail(idx, fmt.Errorf("%w: metadata of %d bytes, the limit is %d (MaxMetadataBytes)", ErrTooLarge, metaLen, lim.MaxMetadataBytes))
	}
	meta := make([]byte, metaLen)
	if err := m.readFull(idx, meta, "the message metadata"); err != nil {
		return nil, err
	}
	info, err := m.check(idx, meta)
	if err != nil {
		return nil, err
	}
	body := memory.NewResizableBuffer(m.rd.mem)
	defer body.Release()
	body.Resize(int(info.bodyLen))
	if err := m.readFull(idx, body.Bytes(), fmt.Sprintf("the %s body", headerName(info.header))); err != nil {
		return nil, err
	}
	if err := checkCompressed(info, body.Bytes(), lim.MaxBodyBytes); err != nil {
		return nil, m.fail(idx, compressionErr(err))
	}
	metaBuf := memory.NewBufferBytes(meta)
	msg := ipc.NewMessage(metaBuf, body)
	metaBuf.Release()
	if m.cur != nil {
		m.cur.Release()
	}
	m.cur, m.index = msg, idx
	m.rd.budget.reset(lim.MaxBodyBytes)
	return msg, nil
}

// check verifies the metadata of message idx and its place in the stream.
func (m *msgReader) check(idx int, meta []byte) (msgInfo, error) {
	info, err := verifyMessage(meta, m.rd.lim.maxLen())
	if err != nil {
		return info, m.fail(idx, fmt.Errorf("%w: corrupt message metadata: %v", ErrInvalid, err))
	}
	first := idx == 0
	switch {
	case first && info.header != headerSchema:
		return info, m.fail(idx, fmt.Errorf("%w: the first message is a %s, not the schema", ErrInvalid, headerName(info.header)))
	case !first && info.header == headerSchema:
		return info, m.fail(idx, fmt.Errorf("%w: a second schema message", ErrInvalid))
	}
	if info.bodyLen > m.rd.lim.MaxBodyBytes {
		return info, m.fail(idx, fmt.Errorf("%w: %s body of %d bytes, the limit is %d (MaxBodyBytes)", ErrTooLarge, headerName(info.header), info.bodyLen, m.rd.lim.MaxBodyBytes))
	}
	if info.header == headerRecord && m.schema != nil {
		if err := checkNodes(m.schema, info); err != nil {
			return info, m.fail(idx, err)
		}
	}
	return info, nil
}

// nodesOf is the number of IPC field nodes an array of type dt has.
func nodesOf(dt arrow.DataType) int64 {
	switch t := dt.(type) {
	case arrow.ExtensionType:
		return nodesOf(t.StorageType())
	case *arrow.DictionaryType:
		return 1
	case arrow.NestedType:
		n := int64(1)
		for _, f := range t.Fields() {
			n += nodesOf(f.Type)
		}
		return n
	}
	return 1
}

func checkNodes(schema *arrow.Schema, info msgInfo) error {
	var want int64
	for _, f := range schema.Fields() {
		want += nodesOf(f.Type)
	}
	if info.nodes != want {
		return fmt.Errorf("%w: the record batch holds %d arrays (field nodes), the schema's %d columns need %d", ErrSchemaMismatch, info.nodes, schema.NumFields(), want)
	}
	return nil
}

// splitPrefix returns the flatbuffer of a file block's metadata, which
// starts with an optional continuation marker and a length.
func splitPrefix(raw []byte) ([]byte, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("block metadata of %d bytes is too short", len(raw))
	}
	p := 4
	if binary.LittleEndian.Uint32(raw) == continuation {
		p = 8
	}
	n := int64(int32(binary.LittleEndian.Uint32(raw[p-4:])))
	if n < 8 || n > int64(len(raw)-p) {
		return nil, fmt.Errorf("block metadata length %d does not fit the %d-byte block", n, len(raw))
	}
	return raw[p : int64(p)+n], nil
}

// compressionErr classifies an error of checkCompressed.
func compressionErr(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}
