package input

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestTableOf(t *testing.T) {
	for _, c := range []struct{ path, root, want string }{
		{"data/users.csv.gz", "", "users"},
		{"out/users/6ba7b810-9dad-11d1-80b4-00c04fd430c8.json", "", "users"},
		{"out/users/6ba7b810-9dad-11d1-80b4-00c04fd430c8.json", "out", "users"},
		{"out/users/6ba7b810-9dad-11d1-80b4-00c04fd430c8.json", "out/users", "users"},
		{"out/orders.parquet", "out", "orders"},
		{"out/2026/orders/x.parquet", "out", "2026"},
	} {
		if got := tableOf(c.path, c.root); got != c.want {
			t.Errorf("tableOf(%q, %q) = %q, want %q", c.path, c.root, got, c.want)
		}
	}
}

func TestInferCSV(t *testing.T) {
	sc, err := InferCSV(strings.NewReader("id,score,ok,at,doc,name,empty\n1,1,true,2026-01-02 03:04:05.123456Z,\"{\"\"a\"\":1}\",x,\n2,2.5,false,2026-01-02T03:04:05Z,[1],7,\n"), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"int64", "float64", "bool", "timestamp[us, tz=UTC]", "extension<json>", "utf8", "utf8"}
	for i, f := range sc.Fields() {
		if f.Type.String() != want[i] {
			t.Errorf("column %s: %s, want %s", f.Name, f.Type, want[i])
		}
	}
}

func TestInferJSON(t *testing.T) {
	sc, err := InferJSON(strings.NewReader(`{"id": 1, "v": 1, "o": {"a": 1}, "s": "x", "t": "2026-01-02T03:04:05Z"}`+"\n\n"+`{"id": 2, "v": 2.5, "mixed": 1, "s": null}`+"\n"+`{"mixed": "a"}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, f := range sc.Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	want := "id:int64 v:float64 o:extension<json> s:utf8 t:timestamp[us, tz=UTC] mixed:extension<json>"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
}

// readAll reads every input of arg and returns the tables and row counts.
func readAll(t *testing.T, o *Opener, arg string) map[string]int64 {
	t.Helper()
	ins, err := o.Open(arg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, in := range ins {
		for {
			rec, err := in.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out[in.Table().Name] += rec.NumRows()
			rec.Release()
		}
		in.Close()
	}
	return out
}

func TestDirectoriesGlobsCompressionAndOneSchemaPerTable(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string, gz bool) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := []byte(s)
		if gz {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			b = buf.Bytes()
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Every file of users is read with the schema inferred from the first.
	write("users/6ba7b810-9dad-11d1-80b4-00c04fd430c8.csv.gz", "id,score\n1,1.5\n2,3\n", true)
	write("users/7ba7b810-9dad-11d1-80b4-00c04fd430c8.csv", "id,score\n3,2.5\n", false)
	write("events/6ba7b810-9dad-11d1-80b4-00c04fd430c8.json", `{"id": 1}`+"\n"+`{"id": 2}`+"\n", false)
	write(".hidden/x.csv", "a\n1\n", false)
	got := readAll(t, NewOpener(Options{}), dir)
	if got["users"] != 3 || got["events"] != 2 || len(got) != 2 {
		t.Errorf("directory: %v, want users 3, events 2", got)
	}
	got = readAll(t, NewOpener(Options{}), filepath.Join(dir, "users", "*.csv*"))
	if got["users"] != 3 || len(got) != 1 {
		t.Errorf("glob: %v", got)
	}
	_, err := NewOpener(Options{}).Open(filepath.Join(dir, "nothing*.csv"))
	if err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("empty glob: %v", err)
	}
}

func TestGivenSchemaAndNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.csv")
	os.WriteFile(p, []byte("id,name\n1,a\n"), 0o644)
	md := arrow.NewMetadata([]string{"cq:table_name"}, []string{"people"})
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, &md)
	unnamed := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int16}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	ins, err := NewOpener(Options{Schemas: []*arrow.Schema{unnamed}}).Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if tb := ins[0].Table(); tb.Name != "t" || tb.Schema.Field(0).Type.ID() != arrow.INT16 {
		t.Errorf("unnamed schema: table %s %s", tb.Name, tb.Schema)
	}
	ins[0].Close()
	ins, err = NewOpener(Options{Schemas: []*arrow.Schema{sc}, Format: FormatCSV}).Open(p)
	if err != nil {
		t.Fatal(err)
	}
	// A schema naming another table is not used: inferred.
	if tb := ins[0].Table(); tb.Name != "t" || tb.Schema.Field(0).Type.ID() != arrow.INT64 {
		t.Errorf("schema of another table: %s %s", tb.Name, tb.Schema)
	}
	ins[0].Close()
	_, err = NewOpener(Options{}).Open(filepath.Join(dir, "missing.csv"))
	if err == nil {
		t.Error("a missing file opened")
	}
	os.WriteFile(filepath.Join(dir, "x.bin"), []byte{1, 2, 3}, 0o644)
	if _, err := NewOpener(Options{}).Open(filepath.Join(dir, "x.bin")); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("unknown format: %v", err)
	}
}
