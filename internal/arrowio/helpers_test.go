package arrowio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// usersSchema is a CloudQuery-style table: metadata, a primary key, a
// unique column, a list and extension columns.
func usersSchema(table string) *arrow.Schema {
	arrowtypes.Register()
	pk := arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	uq := arrow.NewMetadata([]string{abi.MetaUnique}, []string{abi.MetaTrue})
	var md *arrow.Metadata
	if table != "" {
		m := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
		md = &m
	}
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: uq},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "uid", Type: arrowtypes.NewUUIDType(), Nullable: true},
		{Name: "doc", Type: arrowtypes.NewJSONType(), Nullable: true},
	}, md)
}

// usersRecord makes n rows with ids from..from+n-1.
func usersRecord(mem memory.Allocator, schema *arrow.Schema, from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%3 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user%d@example.com", i))
		}
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		for j := 0; j < i%3; j++ {
			lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", j))
		}
		b.Field(3).(*arrowtypes.UUIDBuilder).Append(uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}))
		if err := b.Field(4).(*arrowtypes.JSONBuilder).Append(map[string]int{"n": i}); err != nil {
			panic(err)
		}
	}
	return b.NewRecordBatch()
}

func writeStream(t testing.TB, schema *arrow.Schema, recs []arrow.RecordBatch, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(schema)}, opts...)...)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, schema *arrow.Schema, recs []arrow.RecordBatch, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, append([]ipc.Option{ipc.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// streamMessages splits a stream into its framed messages (without the
// end-of-stream marker).
func streamMessages(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var msgs [][]byte
	for p := 0; p+8 <= len(data); {
		if binary.LittleEndian.Uint32(data[p:]) != continuation {
			t.Fatalf("no continuation at %d", p)
		}
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n == 0 {
			break
		}
		meta := data[p+8 : p+8+n]
		fb := ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(nil))
		body := int(fb.BodyLen())
		fb.Release()
		msgs = append(msgs, data[p:p+8+n+body])
		p += 8 + n + body
	}
	return msgs
}

var eos = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// nonSeeker hides Seek and ReadAt, like a pipe.
type nonSeeker struct{ r *bytes.Reader }

func (n nonSeeker) Read(p []byte) (int, error) { return n.r.Read(p) }

// fb assembles FlatBuffers by hand, to make metadata no writer would.
type fb struct{ b []byte }

func (f *fb) pad4() {
	for len(f.b)%4 != 0 {
		f.b = append(f.b, 0)
	}
}

func (f *fb) u32at(p int, v uint32) { binary.LittleEndian.PutUint32(f.b[p:], v) }

// table appends a vtable and a table of size bytes whose fields are at the
// given offsets (0 = absent); it returns the table's position.
func (f *fb) table(size int, fields ...int) int {
	f.pad4()
	vt := len(f.b)
	vtLen := 4 + 2*len(fields)
	f.b = binary.LittleEndian.AppendUint16(f.b, uint16(vtLen))
	f.b = binary.LittleEndian.AppendUint16(f.b, uint16(size))
	for _, fo := range fields {
		f.b = binary.LittleEndian.AppendUint16(f.b, uint16(fo))
	}
	f.pad4()
	pos := len(f.b)
	f.b = append(f.b, make([]byte, size)...)
	binary.LittleEndian.PutUint32(f.b[pos:], uint32(int32(pos-vt)))
	return pos
}

// ref points the offset field at p to target (which must come after p).
func (f *fb) ref(p, target int) { f.u32at(p, uint32(target-p)) }

// vector appends a vector header of count elements and room for the first
// n offsets; it returns the position of the count.
func (f *fb) vector(count uint32, n int) int {
	f.pad4()
	pos := len(f.b)
	f.b = binary.LittleEndian.AppendUint32(f.b, count)
	f.b = append(f.b, make([]byte, 4*n)...)
	return pos
}

// frame wraps metadata into a stream message with an empty body.
func frame(meta []byte) []byte {
	for len(meta)%8 != 0 {
		meta = append(meta, 0)
	}
	out := []byte{0xff, 0xff, 0xff, 0xff}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(meta)))
	return append(out, meta...)
}
