package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// run opens (sniffs) every input before it loads a guest or connects
// anywhere, and loads each guest once.
func TestRunOpensInputsFirstAndLoadsTheGuestOnce(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "notes.arrows")
	if err := os.WriteFile(bad, []byte("this is not Arrow at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := wasmdest(t, "run", "--guest", filepath.Join(t.TempDir(), "missing.wasm"), "--input", bad)
	if code == 0 || !strings.Contains(stderr, bad) || strings.Contains(stderr, "missing.wasm") {
		t.Errorf("exit %d, stderr:\n%s\nwant the input refused before the guest is looked at", code, stderr)
	}

	in := filepath.Join(t.TempDir(), "data.arrows")
	b, _ := demoData.ReadFile("demodata/demo_orders.arrows")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := wasmdest(t, "run", "--log-level", "debug", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", t.TempDir(),
		"--spec", `{"path":"{{TABLE}}.{{FORMAT}}","format":"csv","no_rotate":true}`, "--input", in)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "guest loaded"); n != 1 {
		t.Errorf("the guest was loaded %d times, want once:\n%s", n, stderr)
	}
}

// writeArrows writes rec as an Arrow IPC stream file named name.
func writeArrows(t *testing.T, dir, name string, rec arrow.RecordBatch) string {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A run of several inputs whose first table fails: without --keep-going it
// stops, marks the tables it never began "not attempted" and exits 1; with
// it, it writes the others and exits 3.
func TestMultiInputRunMarksTablesNotAttemptedOrKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	// The file guest refuses union columns.
	ub := array.NewSparseUnionBuilder(memory.DefaultAllocator, arrow.SparseUnionOf([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32}}, []arrow.UnionTypeCode{0}))
	ub.Append(0)
	ub.Child(0).(*array.Int32Builder).Append(1)
	u := ub.NewArray()
	bad := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "u", Type: u.DataType(), Nullable: true}}, nil), []arrow.Array{u}, 1)
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.AppendValues([]int64{1, 2, 3}, nil)
	good := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil), []arrow.Array{ib.NewArray()}, 3)
	inputs := []string{writeArrows(t, dir, "alpha.arrows", bad), writeArrows(t, dir, "beta.arrows", good), writeArrows(t, dir, "gamma.arrows", good)}
	runWith := func(extra ...string) (int, string, string, string) {
		out := t.TempDir()
		args := append([]string{"run", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", out,
			"--spec", `{"path":"{{TABLE}}.{{FORMAT}}","format":"csv","no_rotate":true}`}, extra...)
		code, stdout, stderr := wasmdest(t, append(args, inputs...)...)
		return code, stdout, stderr, out
	}
	code, stdout, stderr, _ := runWith()
	if code != 1 {
		t.Errorf("without --keep-going: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	for _, table := range []string{"beta", "gamma"} {
		if !lineHas(stdout, table, "not attempted") {
			t.Errorf("summary does not mark %s not attempted:\n%s", table, stdout)
		}
	}
	code, stdout, stderr, out := runWith("--keep-going")
	if code != 3 {
		t.Errorf("with --keep-going: exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "not attempted") || !lineHas(stdout, "alpha", "rows not written") || !strings.Contains(stderr, "alpha") {
		t.Errorf("with --keep-going, want alpha failed and every table attempted:\n%s\n%s", stdout, stderr)
	}
	for _, table := range []string{"beta", "gamma"} {
		if _, err := os.Stat(filepath.Join(out, table+".csv")); err != nil {
			t.Errorf("with --keep-going: %v", err)
		}
	}
}

// lineHas says whether a line of s holds every one of words.
func lineHas(s string, words ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			return true
		}
	}
	return false
}

// Table names come from the input: the summary escapes what is not
// printable (newline, NUL, terminal escape sequences).
func TestSummaryEscapesTableNames(t *testing.T) {
	name := "evil\nDESTINATION\x00\x1b[31mred\u202e"
	md := arrow.NewMetadata([]string{"cq:table_name"}, []string{name})
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.AppendValues([]int64{1}, nil)
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, &md), []arrow.Array{ib.NewArray()}, 1)
	in := writeArrows(t, t.TempDir(), "x.arrows", rec)
	_, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/file"), "--dir", t.TempDir(),
		"--spec", `{"path":"out.{{FORMAT}}","format":"csv","no_rotate":true}`, in)
	if !strings.Contains(stdout, `"evil\nDESTINATION\x00\x1b[31mred\u202e"`) {
		t.Errorf("summary does not show the name escaped:\n%s\n%s", stdout, stderr)
	}
	for _, raw := range []string{"\x00", "\x1b", "\u202e", "evil\n"} {
		if strings.Contains(stdout, raw) {
			t.Errorf("summary holds %q raw:\n%q", raw, stdout)
		}
	}
}
