//go:build !wasip1

package core_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// testHost serves a body and collects the output.
type testHost struct {
	body   *bytes.Reader
	out    bytes.Buffer
	errMsg string
}

func (h *testHost) SetError(msg string)                      { h.errMsg = msg }
func (h *testHost) InputRead(p []byte) (int, error)          { return h.body.Read(p) }
func (h *testHost) Output(p []byte) error                    { h.out.Write(p); return nil }
func (h *testHost) Log(abi.Level, string)                    {}
func (h *testHost) Expand(abi.ExpandRequest) (string, error) { return "", errors.New("no expand") }

// schemaDest records the schemas it is given and reads back the streams it
// holds.
type schemaDest struct {
	schemas [][]byte
	streams [][]byte
}

func (*schemaDest) Init(context.Context, abi.InitRequest) error { return nil }
func (*schemaDest) Close(context.Context) error                 { return nil }
func (d *schemaDest) Write(_ context.Context, _ string, s core.IPCSchema) error {
	d.schemas = append(d.schemas, s)
	return nil
}
func (d *schemaDest) ReadStreams(_ context.Context, _ string, _ core.IPCSchema, out *core.StreamWriter) error {
	for _, s := range d.streams {
		if err := out.WriteStream(s); err != nil {
			return err
		}
	}
	return nil
}

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// stream is the Arrow IPC stream of testSchema with one record per first
// id in ids (rows id, id+1, id+2), as arrow-go writes it.
func stream(t *testing.T, schema *arrow.Schema, ids ...int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	for _, id := range ids {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := id; i < id+3; i++ {
			b.Field(0).(*array.Int64Builder).Append(i)
			b.Field(1).(*array.StringBuilder).Append(strings.Repeat("x", int(i)))
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSchemaOnlyWrite: a schema-only destination gets the batch's schema as
// an Arrow IPC stream of the schema alone, the same for the same schema, and
// the rows stay unread.
func TestSchemaOnlyWrite(t *testing.T) {
	d := &schemaDest{}
	x := core.NewSchemaDispatcher(abi.Manifest{Name: "s", Version: "v1.0.0"}, d)
	if !strings.Contains(strings.Join(stringsOf(x.Manifest().Features), ","), string(abi.FeatureRead)) {
		t.Errorf("features %v: want read (the destination is a StreamReader)", x.Manifest().Features)
	}
	body := stream(t, testSchema, 1, 10, 100)
	for range 2 {
		h := &testHost{body: bytes.NewReader(body)}
		if st := x.Call(abi.OpWrite, []byte(`{"table":"t"}`), h); st != abi.StatusOK {
			t.Fatalf("write: %v %s", st, h.errMsg)
		}
		// The SDK read the schema and the buffer behind it at most.
		if h.body.Len() == 0 {
			t.Errorf("the whole body was read; a schema-only write reads the schema only")
		}
	}
	want := stream(t, testSchema) // the schema and the end of the stream
	for i, s := range d.schemas {
		if !bytes.Equal(s, want) {
			t.Fatalf("write %d got schema %x, want %x", i, s, want)
		}
	}
	if !core.IPCSchema(d.schemas[0]).Equal(d.schemas[1]) {
		t.Error("the same schema twice is not Equal")
	}
	r, err := ipc.NewReader(bytes.NewReader(d.schemas[0]))
	if err != nil {
		t.Fatalf("the schema is not an Arrow IPC stream: %v", err)
	}
	if !r.Schema().Equal(testSchema) || r.Next() {
		t.Errorf("the stream holds %v (records: %v), want the schema alone", r.Schema(), r.Next())
	}
	r.Release()
}

// TestSchemaOnlyWriteBadBody: a body that is not an Arrow IPC stream is a
// bad request, naming what is wrong.
func TestSchemaOnlyWriteBadBody(t *testing.T) {
	x := core.NewSchemaDispatcher(abi.Manifest{Name: "s", Version: "v1.0.0"}, &schemaDest{})
	full := stream(t, testSchema)
	for name, body := range map[string][]byte{
		"empty":     nil,
		"truncated": full[:20],
		"zero":      {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		"huge":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	} {
		h := &testHost{body: bytes.NewReader(body)}
		if st := x.Call(abi.OpWrite, []byte(`{"table":"t"}`), h); st != abi.StatusBadRequest || !strings.Contains(h.errMsg, "request body") {
			t.Errorf("%s: got %v %q, want a bad request about the request body", name, st, h.errMsg)
		}
	}
}

// TestStreamWriter: a read answers with one stream holding every stream's
// records in order, or the schema alone when there are none; a stream of
// another schema fails the read.
func TestStreamWriter(t *testing.T) {
	read := func(d *schemaDest) (*testHost, abi.Status) {
		x := core.NewSchemaDispatcher(abi.Manifest{Name: "s", Version: "v1.0.0"}, d)
		h := &testHost{body: bytes.NewReader(stream(t, testSchema))}
		return h, x.Call(abi.OpRead, []byte(`{"table":"t"}`), h)
	}
	h, st := read(&schemaDest{streams: [][]byte{stream(t, testSchema, 1, 10), stream(t, testSchema), stream(t, testSchema, 100)}})
	if st != abi.StatusOK {
		t.Fatalf("read: %v %s", st, h.errMsg)
	}
	r, err := ipc.NewReader(bytes.NewReader(h.out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var firsts []int64
	for r.Next() {
		firsts = append(firsts, r.RecordBatch().Column(0).(*array.Int64).Value(0))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r.Release()
	if len(firsts) != 3 || firsts[0] != 1 || firsts[1] != 10 || firsts[2] != 100 {
		t.Fatalf("records starting at %v, want 1, 10, 100", firsts)
	}

	h, st = read(&schemaDest{})
	if st != abi.StatusOK || !bytes.Equal(h.out.Bytes(), stream(t, testSchema)) {
		t.Fatalf("read of nothing: %v %s, output %x: want the schema alone", st, h.errMsg, h.out.Bytes())
	}

	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	var b bytes.Buffer
	w := ipc.NewWriter(&b, ipc.WithSchema(other))
	w.Close()
	h, st = read(&schemaDest{streams: [][]byte{stream(t, testSchema, 1), b.Bytes()}})
	if st != abi.StatusError || !strings.Contains(h.errMsg, "schema differs") {
		t.Fatalf("read of two schemas: %v %q, want an error saying the schema differs", st, h.errMsg)
	}
	h, st = read(&schemaDest{streams: [][]byte{stream(t, testSchema, 1)[:40]}})
	if st != abi.StatusError || !strings.Contains(h.errMsg, "arrow IPC stream") {
		t.Fatalf("read of a truncated stream: %v %q, want an error about the stream", st, h.errMsg)
	}
}

// TestNoArrow: package core links no arrow-go, which is what keeps a
// schema-only guest small (RATIONALE.md, "Schema-only guests").
func TestNoArrow(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "arrow-go") || strings.Contains(p, "flatbuffers") {
			t.Errorf("package core depends on %s", p)
		}
	}
}

func stringsOf[T ~string](v []T) []string {
	var out []string
	for _, s := range v {
		out = append(out, string(s))
	}
	return out
}
