package arrowio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

var ctx = context.Background()

// readAll reads every record, checks them against want and releases them.
func readAll(t *testing.T, r *Reader) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for {
		rec, err := r.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func sameRecords(t *testing.T, got, want []arrow.RecordBatch) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !array.RecordEqual(got[i], want[i]) {
			t.Fatalf("record %d differs:\n%v\nwant\n%v", i, got[i], want[i])
		}
	}
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func TestReadFormats(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := usersSchema("users")
	want := []arrow.RecordBatch{usersRecord(mem, schema, 0, 5), usersRecord(mem, schema, 5, 0), usersRecord(mem, schema, 5, 100)}
	defer release(want)

	inputs := map[string][]byte{
		"stream":     writeStream(t, schema, want),
		"file":       writeFile(t, schema, want),
		"stream-lz4": writeStream(t, schema, want, ipc.WithLZ4()),
		"file-zstd":  writeFile(t, schema, want, ipc.WithZstd()),
	}
	for name, data := range inputs {
		sources := map[string]func() io.Reader{
			"seekable":     func() io.Reader { return bytes.NewReader(data) },
			"non-seekable": func() io.Reader { return nonSeeker{bytes.NewReader(data)} },
		}
		for how, src := range sources {
			t.Run(name+"/"+how, func(t *testing.T) {
				r, err := newReader("x.arrows", src(), Limits{}, mem)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				tbl := r.Table()
				if tbl.Name != "users" || !tbl.Schema.Equal(schema) ||
					strings.Join(tbl.PrimaryKeys, ",") != "id" || strings.Join(tbl.Unique, ",") != "email" {
					t.Fatalf("table %+v", tbl)
				}
				got := readAll(t, r)
				defer release(got)
				sameRecords(t, got, want)
				if !arrowtypes.IsUUID(got[0].Column(3).DataType()) || !arrowtypes.IsJSON(got[0].Column(4).DataType()) {
					t.Fatalf("extension types lost: %s", got[0].Schema())
				}
				if s := got[0].Column(4).ValueStr(2); s != `{"n":2}` {
					t.Fatalf("json value %q", s)
				}
				if _, err := r.Next(ctx); err != io.EOF {
					t.Fatalf("after the end: %v", err)
				}
			})
		}
	}
}

func TestOpenPathAndTableName(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := usersSchema("")
	rec := usersRecord(mem, schema, 0, 3)
	defer rec.Release()
	for file, data := range map[string][]byte{
		"users.arrows":     writeStream(t, schema, []arrow.RecordBatch{rec}),
		"users.v2.arrow":   writeFile(t, schema, []arrow.RecordBatch{rec}),
		"users.arrows.bin": writeStream(t, schema, []arrow.RecordBatch{rec}),
	} {
		p := writeTemp(t, file, data)
		r, err := Open(p, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Table().Name != "users" {
			t.Errorf("%s: table %q", file, r.Table().Name)
		}
		got := readAll(t, r)
		sameRecords(t, got, []arrow.RecordBatch{rec})
		release(got)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// No file name, no metadata.
	_, err := NewReader("-", bytes.NewReader(writeStream(t, schema, nil)), Limits{})
	if err == nil || !strings.Contains(err.Error(), "stdin: message 0:") || !strings.Contains(err.Error(), "cq:table_name") {
		t.Fatalf("stdin without cq:table_name: %v", err)
	}
	// Missing file.
	_, err = Open(filepath.Join(t.TempDir(), "nope.arrows"), Limits{})
	if err == nil || !strings.Contains(err.Error(), "nope.arrows: cannot open: no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// Stdin holding the file format is spooled to a temporary file, which Close
// removes.
func TestStdinFileFormatSpooled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	schema := usersSchema("users")
	rec := usersRecord(mem, schema, 0, 4)
	defer rec.Release()
	data := writeFile(t, schema, []arrow.RecordBatch{rec})

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { pw.Write(data); pw.Close() }()
	old := os.Stdin
	os.Stdin = pr
	defer func() { os.Stdin = old; pr.Close() }()

	r, err := Open("-", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "wasmdest-arrowio-") {
		t.Fatalf("spool file: %v", ents)
	}
	got := readAll(t, r)
	sameRecords(t, got, []arrow.RecordBatch{rec})
	release(got)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("spool file left behind: %v", ents)
	}
}

func TestDictionaryMessagesCount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	md := arrow.NewMetadata([]string{"cq:table_name"}, []string{"d"})
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, &md)
	b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	for _, s := range []string{"a", "b", "a", "c"} {
		if err := b.AppendString(s); err != nil {
			t.Fatal(err)
		}
	}
	col := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 4)
	col.Release()
	defer rec.Release()
	data := writeStream(t, schema, []arrow.RecordBatch{rec, rec})
	for _, format := range []string{"stream", "file"} {
		if format == "file" {
			data = writeFile(t, schema, []arrow.RecordBatch{rec, rec})
		}
		r, err := newReader("d.arrows", bytes.NewReader(data), Limits{}, mem)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, r)
		sameRecords(t, got, []arrow.RecordBatch{rec, rec})
		release(got)
		r.Close()
	}
	// Messages: schema 0, dictionary 1, records 2 and 3. Cut record 3.
	stream := writeStream(t, schema, []arrow.RecordBatch{rec, rec})
	msgs := streamMessages(t, stream)
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	cut := bytes.Join(msgs, nil)
	cut = cut[:len(cut)-3]
	r, err := newReader("d.arrows", bytes.NewReader(cut), Limits{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec1, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec1.Release()
	_, err = r.Next(ctx)
	if !errors.Is(err, ErrTruncated) || !strings.HasPrefix(err.Error(), "d.arrows: message 3: truncated: the record batch body needs") {
		t.Fatalf("error %v", err)
	}
	if _, err2 := r.Next(ctx); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
}

func TestErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := usersSchema("users")
	recs := []arrow.RecordBatch{usersRecord(mem, schema, 0, 10), usersRecord(mem, schema, 10, 10)}
	defer release(recs)
	stream := writeStream(t, schema, recs)
	file := writeFile(t, schema, recs)
	msgs := streamMessages(t, stream)

	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int8}}, nil)
	ob := array.NewInt8Builder(mem)
	ob.Append(1)
	ocol := ob.NewArray()
	ob.Release()
	orec := array.NewRecordBatch(other, []arrow.Array{ocol}, 1)
	ocol.Release()
	defer orec.Release()
	foreign := streamMessages(t, writeStream(t, other, []arrow.RecordBatch{orec}))[1]

	// The lz4 body of a 1000-row int64 column: its values buffer says it
	// decompresses to 8000 bytes. Make it claim 1 TiB.
	big := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bb := array.NewInt64Builder(mem)
	for i := range 1000 {
		bb.Append(int64(i % 7))
	}
	bcol := bb.NewArray()
	bb.Release()
	brec := array.NewRecordBatch(big, []arrow.Array{bcol}, 1000)
	bcol.Release()
	defer brec.Release()
	bomb := writeStream(t, big, []arrow.RecordBatch{brec}, ipc.WithLZ4())
	i := bytes.Index(bomb, binary.LittleEndian.AppendUint64(nil, 8000))
	if i < 0 {
		t.Fatal("no uncompressed length in the lz4 stream")
	}
	binary.LittleEndian.PutUint64(bomb[i:], 1<<40)

	headerSwapped := bytes.Clone(file)
	j := bytes.Index(headerSwapped, []byte("users"))
	headerSwapped[j+4] = 'a' // header says "usera", the footer still "users"

	cases := []struct {
		name   string
		data   []byte
		lim    Limits
		is     error
		prefix string
		has    string
	}{
		{"empty", nil, Limits{}, ErrNotArrow, "in.arrows: message 0: not Arrow IPC: the input is empty", ""},
		{"csv", []byte("id,name\n1,alice\n"), Limits{}, ErrNotArrow, "in.arrows: message 0: not Arrow IPC: the input starts with 69 64 2c", "text (CSV?)"},
		{"parquet", append([]byte("PAR1"), make([]byte, 40)...), Limits{}, ErrNotArrow, "", "looks like Parquet"},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, Limits{}, ErrNotArrow, "", "gzip-compressed"},
		{"no schema", eos, Limits{}, ErrTruncated, "in.arrows: message 0: truncated: the stream ends before its schema", ""},
		{"cut in schema", stream[:20], Limits{}, ErrTruncated, "in.arrows: message 0: truncated: the message metadata needs", ""},
		{"cut in prefix", stream[:len(msgs[0])+6], Limits{}, ErrTruncated, "", "message 1: truncated: the message length needs 4 bytes, the input ended after 2"},
		{"cut in body", stream[:len(msgs[0])+len(msgs[1])-5], Limits{}, ErrTruncated, "in.arrows: message 1: truncated: the record batch body needs", ""},
		{"no eos", bytes.Join(msgs, nil), Limits{}, ErrTruncated, "in.arrows: message 3: truncated: the stream ends after message 2 without its end-of-stream marker", ""},
		{"body over limit", stream, Limits{MaxBodyBytes: 64}, ErrTooLarge, "in.arrows: message 1: over limit: record batch body of", "the limit is 64 (MaxBodyBytes)"},
		{"metadata over limit", stream, Limits{MaxMetadataBytes: 64}, ErrTooLarge, "in.arrows: message 0: over limit: metadata of", "(MaxMetadataBytes)"},
		{"schema mismatch", append(append(bytes.Join(msgs[:2], nil), foreign...), eos...), Limits{}, ErrSchemaMismatch,
			"in.arrows: message 2: schema mismatch: the record batch holds 1 arrays (field nodes), the schema's 5 columns need 6", ""},
		{"record first", append(bytes.Clone(msgs[1]), eos...), Limits{}, ErrInvalid, "in.arrows: message 0: invalid Arrow IPC: the first message is a record batch, not the schema", ""},
		{"two schemas", append(append(bytes.Clone(msgs[0]), msgs[0]...), eos...), Limits{}, ErrInvalid, "in.arrows: message 1: invalid Arrow IPC: a second schema message", ""},
		{"decompression bomb", bomb, Limits{}, ErrTooLarge, "in.arrows: message 1: over limit: compressed buffer 1 claims 1099511627776 bytes uncompressed, the limit is 268435456", ""},
		{"zstd window", zstdWindow(writeStream(t, big, []arrow.RecordBatch{brec}, ipc.WithZstd())), Limits{}, ErrTooLarge,
			"in.arrows: message 1: over limit: compressed buffer", "zstd frame declares a window of 167772160 bytes, more than the 8388608 it may use"},
		{"zstd window in file", zstdWindow(writeFile(t, big, []arrow.RecordBatch{brec}, ipc.WithZstd())), Limits{}, ErrTooLarge,
			"in.arrows: message 1: over limit: compressed buffer", "zstd frame declares a window of 167772160 bytes"},
		{"file cut", file[:len(file)-1], Limits{}, ErrTruncated, "in.arrows: message 0: truncated: the input starts like an Arrow IPC file", ""},
		{"file tiny", file[:12], Limits{}, ErrTruncated, "", "too few for an Arrow IPC file"},
		{"file body over limit", file, Limits{MaxBodyBytes: 64}, ErrTooLarge, "in.arrows: message 1: over limit: body of", ""},
		{"file footer over limit", file, Limits{MaxMetadataBytes: 64}, ErrTooLarge, "in.arrows: message 0: over limit: file footer of", ""},
		{"file header differs", headerSwapped, Limits{}, ErrSchemaMismatch, "in.arrows: message 0: schema mismatch: the file footer's schema differs", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := readErr(mem, c.data, c.lim)
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, c.is) {
				t.Fatalf("error %T %v, want *Error wrapping %v", err, err, c.is)
			}
			if !strings.HasPrefix(err.Error(), c.prefix) || !strings.Contains(err.Error(), c.has) {
				t.Fatalf("error:\n%v\nwant prefix %q containing %q", err, c.prefix, c.has)
			}
		})
	}
}

// readErr reads data to the end through both the seekable and the
// non-seekable paths and returns the error, which must be the same.
func readErr(mem memory.Allocator, data []byte, lim Limits) error {
	var errs [2]error
	for i, src := range []io.Reader{bytes.NewReader(data), nonSeeker{bytes.NewReader(data)}} {
		r, err := newReader("in.arrows", src, lim, mem)
		if err == nil {
			for {
				var rec arrow.RecordBatch
				rec, err = r.Next(ctx)
				if err != nil {
					break
				}
				rec.Release()
			}
			r.Close()
			if err == io.EOF {
				err = nil
			}
		}
		errs[i] = err
	}
	if (errs[0] == nil) != (errs[1] == nil) || (errs[0] != nil && errs[0].Error() != errs[1].Error()) {
		return errors.New("seekable and non-seekable paths disagree: " + errString(errs[0]) + " | " + errString(errs[1]))
	}
	return errs[0]
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestCancelledContext(t *testing.T) {
	schema := usersSchema("users")
	r, err := NewReader("u.arrows", bytes.NewReader(writeStream(t, schema, nil)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Next(c); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "u.arrows: ") {
		t.Fatalf("error %v", err)
	}
	if _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("cancellation was sticky: %v", err)
	}
}

// A schema whose struct fields list the same child twice, 40 levels deep:
// 2^40 fields for arrow-go to build from about 2 KB. It must be refused
// before arrow-go sees it.
func TestExponentialSchemaRefused(t *testing.T) {
	var f fb
	f.b = make([]byte, 4)
	msg := f.table(12, 0, 4, 8) // version absent, header_type @4, header @8
	f.b[msg+4] = headerSchema
	f.ref(0, msg)
	schema := f.table(8, 0, 4) // fields @4
	f.ref(msg+8, schema)
	fields := f.vector(1, 1)
	f.ref(schema+4, fields)
	slot := []int{fields + 4}
	for depth := 0; depth < 40; depth++ {
		fld := f.table(16, 0, 0, 4, 8, 0, 12) // type_type @4, type @8, children @12
		for _, s := range slot {
			f.ref(s, fld)
		}
		f.b[fld+4] = 13 // Struct_
		typ := f.table(4)
		f.ref(fld+8, typ)
		kids := f.vector(2, 2)
		f.ref(fld+12, kids)
		slot = []int{kids + 4, kids + 8} // both children: the same next field
	}
	leaf := f.table(12, 0, 0, 4, 8)
	f.b[leaf+4] = 1 // Null
	for _, s := range slot {
		f.ref(s, leaf)
	}
	f.ref(leaf+8, f.table(4))
	data := append(frame(f.b), eos...)
	err := readErr(memory.DefaultAllocator, data, Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "expand exponentially") {
		t.Fatalf("error %v", err)
	}
}

// Vectors claiming 2^31-1 entries in 80 bytes. arrow-go make()s slices of
// the claimed length for the schema's custom_metadata: with 2^26 entries it
// allocates 2 GiB before failing, with 2^31-1 it would ask for 64 GiB.
func TestHugeVectorRefused(t *testing.T) {
	var f fb
	f.b = make([]byte, 4)
	msg := f.table(16, 0, 4, 8, 0, 12) // header_type @4, header @8, custom_metadata @12
	f.b[msg+4] = headerSchema
	f.ref(0, msg)
	f.ref(msg+8, f.table(4))
	f.ref(msg+12, f.vector(1<<31-1, 1))
	err := readErr(memory.DefaultAllocator, append(frame(f.b), eos...), Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "message.custom_metadata: vector of 2147483647 elements") {
		t.Fatalf("message metadata: %v", err)
	}

	f = fb{b: make([]byte, 4)}
	msg = f.table(12, 0, 4, 8)
	f.b[msg+4] = headerSchema
	f.ref(0, msg)
	sch := f.table(8, 0, 0, 4) // schema: custom_metadata @4
	f.ref(msg+8, sch)
	f.ref(sch+4, f.vector(1<<31-1, 1))
	err = readErr(memory.DefaultAllocator, append(frame(f.b), eos...), Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "schema.custom_metadata: vector of 2147483647 elements") {
		t.Fatalf("schema metadata: %v", err)
	}
}

// zstdWindow makes the first zstd frame in data declare a 160 MiB window.
func zstdWindow(data []byte) []byte {
	data = bytes.Clone(data)
	i := bytes.Index(data, []byte{0x28, 0xb5, 0x2f, 0xfd})
	if i < 0 {
		panic("no zstd frame")
	}
	data[i+4] = 0x04 // a window descriptor follows, no content size
	data[i+5] = 0x8a // exponent 17, mantissa 2: 128 MiB + 2*16 MiB
	return data
}

func TestBudgetAllocator(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := &budgetAllocator{mem: mem}
	a.reset(100)
	b := a.Allocate(60)
	b = a.Reallocate(90, b)
	func() {
		defer func() {
			be, ok := recover().(*budgetError)
			if !ok || be.limit != 100 || be.asked != 20 {
				t.Fatalf("recovered %v", be)
			}
		}()
		a.Allocate(20)
	}()
	a.Free(b)
	a.reset(100)
	a.Free(a.Allocate(100))
}

func TestCheckZstd(t *testing.T) {
	frame := func(hdr ...byte) []byte {
		b := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, hdr...)
		return append(b, 0x01, 0, 0) // last block, raw, 0 bytes
	}
	huge := binary.LittleEndian.AppendUint64([]byte{0xe0}, 1<<40) // single segment, 8-byte content size
	cases := []struct {
		name string
		data []byte
		ok   bool
		has  string
	}{
		{"1 KiB window", frame(0x00, 0x00), true, ""},
		{"two frames", append(frame(0x00, 0x00), frame(0x00, 0x00)...), true, ""},
		{"skippable", append([]byte{0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9}, frame(0x00, 0x00)...), true, ""},
		{"single segment, 200 bytes", frame(0x20, 200), true, ""},
		{"160 MiB window", frame(0x00, 0x8a), false, "window of 167772160 bytes"},
		{"1 TiB content", frame(huge...), false, "window of 1099511627776 bytes"},
		{"cut", frame(0x00, 0x00)[:7], false, "cut short"},
		{"block past end", append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00}, 0x41, 0, 0), false, "cut short"},
		{"reserved bit", frame(0x08, 0x00), false, "reserved bit"},
		{"dictionary", frame(0x01, 0x00, 7), false, "dictionary"},
		{"not zstd", []byte("hello world"), false, "not a zstd frame"},
	}
	for _, c := range cases {
		err := checkZstd(c.data, 1<<20)
		if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.has)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
