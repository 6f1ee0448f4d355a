package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// wasmdest runs the command line in-process.
func wasmdest(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args[:1:1], append([]string{"--cache-dir", testenv.CacheDir(t), "--guest-dir", builtinGuests(t), "--log-level", "warn"}, args[1:]...)...)
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// builtinGuests returns a directory holding the builtin guests, built for this test run.
func builtinGuests(t *testing.T) string {
	t.Helper()
	guestDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmdest-builtin-")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"file", "postgres"} {
			if err := os.Symlink(testenv.BuildGuest(t, "guests/"+g), filepath.Join(dir, g+".wasm")); err != nil {
				t.Fatal(err)
			}
		}
		guestDir = dir
	})
	if guestDir == "" {
		t.Fatal("builtin guests were not built")
	}
	return guestDir
}

var (
	guestDirOnce sync.Once
	guestDir     string
	guestDirMu   sync.Mutex
)

// addBuiltin builds the guests/NAME guest into the builtin guests'
// directory, for tests that use it (the SQL guests): the others need not
// wait for it.
func addBuiltin(t *testing.T, name string) {
	t.Helper()
	dir := builtinGuests(t)
	guestDirMu.Lock()
	defer guestDirMu.Unlock()
	link := filepath.Join(dir, name+".wasm")
	if _, err := os.Lstat(link); err == nil {
		return
	}
	if err := os.Symlink(testenv.BuildGuest(t, "guests/"+name), link); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) {
	compilejail.Main() // the child that compiles an upload to serve re-runs this test binary
	var err error
	if sharedCache, err = testenv.ProcessCache(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(testenv.RunMain(m))
}

// demoTables reads the embedded dataset.
func demoTables(t *testing.T) map[string]arrow.RecordBatch {
	t.Helper()
	out := map[string]arrow.RecordBatch{}
	entries, _ := demoData.ReadDir("demodata")
	for _, e := range entries {
		b, _ := demoData.ReadFile("demodata/" + e.Name())
		r, err := arrowio.NewReader(e.Name(), bytes.NewReader(b), arrowio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out[r.Table().Name] = rec
		r.Close()
	}
	if len(out) != 2 {
		t.Fatalf("demo dataset has %d tables, want 2", len(out))
	}
	return out
}

// storage returns an extension array's storage, other arrays as they are.
func storage(a arrow.Array) arrow.Array {
	if ext, ok := a.(array.ExtensionArray); ok {
		return ext.Storage()
	}
	return a
}

// TestDemoReadsBackRowForRow runs the README's main job and reads every file
// it wrote with arrow-go's own Parquet reader, comparing with the dataset.
func TestDemoReadsBackRowForRow(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := wasmdest(t, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "below "+dir) {
		t.Errorf("demo did not say where it wrote: %s", stdout)
	}
	for table, want := range demoTables(t) {
		defer want.Release()
		files, _ := filepath.Glob(filepath.Join(dir, table, "*."+demoFormat))
		if len(files) != 1 {
			t.Fatalf("%s: %d files, want 1: %v", table, len(files), files)
		}
		f, err := os.Open(files[0])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		defer got.Release()
		if got.NumRows() != want.NumRows() {
			t.Fatalf("%s: %d rows read back, want %d", table, got.NumRows(), want.NumRows())
		}
		// Every column of the dataset is there with the same values; the
		// host added _cq_sync_time and _cq_source_name in front.
		for i, f := range want.Schema().Fields() {
			idx := got.Schema().FieldIndices(f.Name)
			if len(idx) != 1 {
				t.Errorf("%s: column %s missing", table, f.Name)
				continue
			}
			col, err := array.Concatenate(got.Column(idx[0]).Data().Chunks(), memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			// An independent reader knows Parquet's UUID logical type as
			// the canonical arrow.uuid and its JSON type as bytes: compare
			// the stored values.
			g, w := storage(col), storage(want.Column(i))
			switch {
			case arrowtypes.IsUUID(f.Type) && !arrowtypes.IsUUID(col.DataType()):
				t.Errorf("%s.%s: read back as %s, want a UUID type", table, f.Name, col.DataType())
			case !arrow.TypeEqual(g.DataType(), w.DataType()):
				t.Errorf("%s.%s: read back as %s, want %s", table, f.Name, col.DataType(), f.Type)
			case !array.Equal(g, w):
				t.Errorf("%s.%s: values differ", table, f.Name)
			}
			col.Release()
		}
	}
}

func TestRunGuestShorthand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "data.arrows")
	b, _ := demoData.ReadFile("demodata/demo_orders.arrows")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", dir,
		"--spec", `{"path":"out/{{TABLE}}.{{FORMAT}}","format":"json","no_rotate":true}`, "--input", in)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "done: 2000 rows") {
		t.Errorf("summary does not count 2000 rows:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "demo_orders.json")); err != nil {
		t.Error(err)
	}
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "wasmdest.toml")
	src := "[[destination]]\nname = \"files\"\npath = \"file\"\nwrite_mode = \"upsert\"\n"
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := wasmdest(t, "validate", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, cfg+":4:") || !strings.Contains(stderr, `write_mode "upsert" is not one of`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestValidateLoadsGuestAndChecksSpec(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wasmdest.toml")
	good := "[[destination]]\nname = \"files\"\npath = \"file\"\nwrite_mode = \"append\"\ndirectory = \"out\"\n[destination.spec]\npath = \"{{TABLE}}/{{UUID}}.{{FORMAT}}\"\n"
	if err := os.WriteFile(cfg, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := wasmdest(t, "validate", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, `destination "files": guest file`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	bad := strings.Replace(good, "path = \"{{TABLE}}", "colour = \"blue\"\npath = \"{{TABLE}}", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = wasmdest(t, "validate", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "colour") {
		t.Errorf("an unknown spec key passed validation: exit %d\n%s", code, stderr)
	}
	overwrite := strings.Replace(good, `write_mode = "append"`, `write_mode = "overwrite"`, 1)
	if err := os.WriteFile(cfg, []byte(overwrite), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = wasmdest(t, "validate", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "supports append") {
		t.Errorf("write_mode overwrite on the file guest was not refused: exit %d\n%s", code, stderr)
	}
}

// threeBatches writes the orders table as an IPC stream of three record
// batches of 500 rows and returns its bytes.
func threeBatches(t *testing.T) []byte {
	t.Helper()
	rec := demoTables(t)["demo_orders"]
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	for i := int64(0); i < 3; i++ {
		s := rec.NewSlice(i*500, (i+1)*500)
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMalformedInputKeepsWhatCameBefore: a stream cut inside its third
// record batch fails the run, naming the file and the message; the two whole
// batches before it are written and the summary counts them.
func TestMalformedInputKeepsWhatCameBefore(t *testing.T) {
	whole := threeBatches(t)
	in := filepath.Join(t.TempDir(), "orders.arrows")
	if err := os.WriteFile(in, whole[:len(whole)-4000], 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", dir,
		"--spec", `{"path":"{{TABLE}}.{{FORMAT}}","format":"json","no_rotate":true}`, in)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "orders.arrows: message 3") {
		t.Errorf("error does not name the file and message 3:\n%s", stderr)
	}
	if !strings.Contains(stdout, "FAILED: 1000 rows") {
		t.Errorf("summary does not count the 1000 rows written:\n%s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(dir, "demo_orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 1000 {
		t.Errorf("file holds %d rows, want the 1000 of the two whole batches", n)
	}
}

// TestStdinInput reads an Arrow IPC stream from standard input.
func TestStdinInput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	go func() { w.Write(threeBatches(t)); w.Close() }()
	dir := t.TempDir()
	code, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", dir,
		"--spec", `{"path":"{{TABLE}}.{{FORMAT}}","format":"json","no_rotate":true}`, "-")
	if code != 0 || !strings.Contains(stdout, "done: 1500 rows") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
