// Package filetest runs the real file guest, compiled to WebAssembly, through
// host pools, and checks what it writes with readers that share no code with
// it: arrow-go's CSV, JSON and Parquet readers and the gzip and zstd
// decoders. (Package main of guests/file only builds for wasip1.)
package filetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"
	"github.com/klauspost/compress/zstd"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/codec"
	"github.com/wasmdest/wasmdest/host/capability/filesystem"
	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/placeholder"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func init() { arrowtypes.Register() }

// syncTime and syncID are what the tests' placeholders expand to.
var (
	syncTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	syncID   = "sync-7f3a"
)

// expand is the host's placeholder expansion with the tests' values.
func expand(r abi.ExpandRequest) (string, error) {
	return placeholder.Expand(r.Template, placeholder.Vars{SyncID: syncID, Time: syncTime, Table: r.Table, Format: r.Format})
}

// newRuntime is a runtime of c on the test process's compilation cache.
func newRuntime(t testing.TB, c host.Config) *host.Runtime { return testenv.Runtime(t, c) }

// loadGuest loads the file guest into rt.
func loadGuest(t testing.TB, rt *host.Runtime) *host.Guest {
	t.Helper()
	return testenv.LoadGuest(t, rt, "guests/file")
}

var shared struct {
	once sync.Once
	rt   *host.Runtime
	g    *host.Guest
	err  error
}

// guest returns the file guest loaded in a runtime shared by the tests that
// need no special runtime configuration.
func guest(t testing.TB) *host.Guest {
	t.Helper()
	shared.once.Do(func() {
		ctx := context.Background()
		shared.rt, shared.err = host.NewRuntime(ctx, host.Config{Cache: testenv.Cache(t),
			Logger: hclog.New(&hclog.LoggerOptions{Name: "filetest", Level: hclog.Error})})
		if shared.err == nil {
			shared.g, shared.err = shared.rt.LoadFile(ctx, testenv.BuildGuest(t, "guests/file"))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.g
}

// testPool is a host.Pool whose Close may be called more than once (the
// tests close pools explicitly, and in their cleanup; host.Pool.Close
// blocks when called a second time).
type testPool struct {
	*host.Pool
	once sync.Once
	err  error
}

func (p *testPool) Close(ctx context.Context) error {
	p.once.Do(func() { p.err = p.Pool.Close(ctx) })
	return p.err
}

// newPool makes a pool of g writing below root with spec.
func newPool(t testing.TB, g *host.Guest, root, spec string) *testPool {
	t.Helper()
	fs, err := filesystem.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.NewPool(host.PoolConfig{
		Grants: []host.Grant{fs, codec.Grant()},
		Init: &abi.InitRequest{Destination: "files", Spec: json.RawMessage(spec), WriteMode: abi.WriteModeAppend,
			SyncID: syncID, SyncTime: syncTime.Format(time.RFC3339Nano)},
		Expand: expand,
	})
	if err != nil {
		t.Fatal(err)
	}
	tp := &testPool{Pool: p}
	t.Cleanup(func() { tp.Close(context.Background()) })
	return tp
}

func write(ctx context.Context, p *testPool, in *host.Instance, table string, recs ...arrow.RecordBatch) error {
	return p.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: table}, host.RecordBody(recs[0].Schema(), recs...), nil)
}

// readBack runs OpRead for table and returns the rows the guest emitted.
func readBack(ctx context.Context, p *testPool, in *host.Instance, schema *arrow.Schema, table string) ([]arrow.RecordBatch, error) {
	var out bytes.Buffer
	if err := p.Call(ctx, in, abi.OpRead, abi.TableRequest{Table: table}, host.RecordBody(schema), &out); err != nil {
		return nil, err
	}
	_, recs, err := host.ReadRecords(&out)
	return recs, err
}

// files lists the files below root (relative, sorted), temporary ones too.
func files(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func isTemp(name string) bool {
	return strings.HasPrefix(filepath.Base(name), ".") && strings.HasSuffix(name, ".tmp")
}

// decompress opens a file written with compression c using decoders
// independent of the guest's (the standard library's gzip).
func decompress(t testing.TB, path, c string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch c {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: not gzip: %v", path, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gzip: %v", path, err)
		}
		return b
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: zstd: %v", path, err)
		}
		return b
	}
	return raw
}

// concat returns recs as one record batch.
func concat(schema *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for j := range cols {
		var chunks []arrow.Array
		for _, r := range recs {
			chunks = append(chunks, r.Column(j))
		}
		if len(chunks) == 0 {
			cols[j] = array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(j).Type, 0)
			continue
		}
		c, err := array.Concatenate(chunks, memory.DefaultAllocator)
		if err != nil {
			panic(err)
		}
		cols[j] = c
	}
	return array.NewRecordBatch(schema, cols, rows)
}

func emptyColumns(schema *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
	}
	return cols
}

// jsonValue is element i of arr in a comparable form: its GetOneForMarshal
// value through encoding/json, with numbers kept exact.
func jsonValue(arr arrow.Array, i int) any {
	b, err := json.Marshal(arr.GetOneForMarshal(i))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return notJSON(b)
	}
	return v
}

// notJSON is text that did not decode as JSON.
type notJSON string

// sameJSON compares a written value with one read back. Where the writer
// stored JSON text in a string (a CSV cell, a JSON document in a column),
// the text is decoded first.
func sameJSON(want, got any) bool { return sameJSONKeys(want, got, false) }

// sameJSONKeys is sameJSON; with subset, objects read back may lack keys
// (a reader configured to skip them).
func sameJSONKeys(want, got any, subset bool) bool {
	if reflect.DeepEqual(want, got) {
		return true
	}
	if s, ok := got.(string); ok {
		if _, wantString := want.(string); !wantString {
			return sameJSONKeys(want, decodeJSON([]byte(s)), subset)
		}
	}
	if s, ok := want.(string); ok {
		if _, gotString := got.(string); !gotString {
			return sameJSONKeys(decodeJSON([]byte(s)), got, subset)
		}
	}
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSONKeys(w[i], g[i], subset) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || (len(g) != len(w) && !subset) {
			return false
		}
		for k := range w {
			if gv, ok := g[k]; ok || !subset {
				if !sameJSONKeys(w[k], gv, subset) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// compareColumns checks got (read back by an independent reader) against
// want (what was written), column by column and row by row, with same: a
// comparison of element i of both. It reports at most a few differences
// per column.
func compareColumns(t *testing.T, what string, want, got arrow.RecordBatch, same func(w, g arrow.Array, i int) (bool, any, any)) {
	t.Helper()
	if want.NumRows() != got.NumRows() {
		t.Errorf("%s: read %d rows, wrote %d", what, got.NumRows(), want.NumRows())
		return
	}
	for j, f := range want.Schema().Fields() {
		idx := got.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			if arrowtypes.IsJSON(f.Type) && strings.Contains(what, "JSON reader") {
				continue // not given to the reader: see jsonReadSchema
			}
			t.Errorf("%s: column %s is missing", what, f.Name)
			continue
		}
		gc := got.Column(idx[0])
		bad := 0
		for i := 0; i < int(want.NumRows()) && bad < 3; i++ {
			if ok, w, g := same(want.Column(j), gc, i); !ok {
				bad++
				t.Errorf("%s: column %s (%s, read as %s) row %d:\nwrote %s\nread  %s", what, f.Name, f.Type, gc.DataType(), i, short(w), short(g))
			}
		}
	}
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if b, err := json.Marshal(v); err == nil {
		s = string(b)
	}
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// sameAsJSON compares elements through their JSON forms.
func sameAsJSON(w, g arrow.Array, i int) (bool, any, any) {
	wv, gv := jsonValue(w, i), jsonValue(g, i)
	return sameJSON(wv, gv), wv, gv
}

// testTable is the reference test table (host/conformance): every type the
// file guest writes, a struct of them and a list of each.
func testTable() *arrow.Schema {
	return conformance.TableSchema("test_table", false, conformance.TestTableFields()...)
}
