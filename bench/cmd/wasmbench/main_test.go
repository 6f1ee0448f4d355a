package main

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
)

func TestMain(m *testing.M) {
	arrowtypes.Register()
	os.Exit(m.Run())
}

// Row i is the same whatever record it is made in, so that the dataset, the
// preloaded rows and the rows made on the fly agree.
func TestGeneratedRowsDoNotDependOnBatching(t *testing.T) {
	g := gen{seed: 1}
	whole := g.record(0, 20)
	defer whole.Release()
	part := g.record(10, 10)
	defer part.Release()
	tail := whole.NewSlice(10, 20)
	defer tail.Release()
	if !array.RecordEqual(tail, part) {
		t.Fatal("rows 10..19 differ when made in another record")
	}
	other := gen{seed: 2}.record(10, 10)
	defer other.Release()
	if part.Column(2).(*array.String).Value(0) != other.Column(2).(*array.String).Value(0) {
		t.Error("another seed changed the key: preloaded rows would not match the dataset's keys")
	}
	if part.Column(0).(*arrowtypes.UUIDArray).Value(0) == other.Column(0).(*arrowtypes.UUIDArray).Value(0) {
		t.Error("another seed kept the _cq_id: an earlier sync's rows would collide on the unique _cq_id")
	}
	if got := part.Column(2).(*array.String).Value(0); got != "resource-000000000000010" {
		t.Errorf("key of row 10 is %q", got)
	}
}

func TestGenInputStreamsEveryRow(t *testing.T) {
	in := &genInput{g: gen{seed: 1}, rows: 25_001}
	n := 0
	for {
		rec, err := in.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > genBatch {
			t.Errorf("record of %d rows, more than %d", rec.NumRows(), genBatch)
		}
		n += int(rec.NumRows())
		rec.Release()
	}
	if n != 25_001 {
		t.Errorf("%d rows, want 25001", n)
	}
}

// `wasmbench gen` writes the rows the scaling runs make, as an Arrow IPC
// stream wasmdest reads as an input (its table named by the schema).
func TestGenWritesAnInput(t *testing.T) {
	var out bytes.Buffer
	if err := runGen([]string{"-rows", "25001"}, &out); err != nil {
		t.Fatal(err)
	}
	r, err := arrowio.NewReader("-", &out, arrowio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Table().Name != table || !r.Table().Schema.Equal(sourceSchema()) {
		t.Errorf("table %q, schema %s; want %q, %s", r.Table().Name, r.Table().Schema, table, sourceSchema())
	}
	g := gen{seed: 1}
	n := 0
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := g.record(n, int(rec.NumRows()))
		if !array.RecordEqual(rec, want) {
			t.Errorf("rows %d..%d differ from the generator's", n, n+int(rec.NumRows()))
		}
		want.Release()
		n += int(rec.NumRows())
		rec.Release()
	}
	if n != 25_001 {
		t.Errorf("%d rows, want 25001", n)
	}
}

func TestGoValuesForPgx(t *testing.T) {
	o := syncOpts{source: "src", t1: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	src, err := newRowSource(gen{seed: 1}, o.schema(abi.WriteModeAppend, o.t1), 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for src.Next() {
		v, _ := src.Values()
		rows = append(rows, v)
	}
	if src.Err() != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), src.Err())
	}
	r := rows[2]
	if len(r) != 12 || r[0] != o.t1 || r[1] != "src" || r[4] != "resource-000000000000002" {
		t.Errorf("row 2 = %v", r)
	}
	if tags, ok := r[9].([]string); !ok || len(tags) != 3 {
		t.Errorf("tags = %#v", r[9])
	}
	if js, ok := r[10].(string); !ok || !strings.HasPrefix(js, `{"region": `) {
		t.Errorf("attrs = %#v", r[10])
	}
}

func TestProcStatOfThisProcess(t *testing.T) {
	ppid, _, _, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ppid != os.Getppid() {
		t.Errorf("parent %d, want %d", ppid, os.Getppid())
	}
	if peakRSS() <= 0 {
		t.Error("no VmHWM")
	}
	if clusterCPU(0) != 0 {
		t.Error("CPU of no server")
	}
}

func TestSpecEnum(t *testing.T) {
	got := specEnum([]byte(`{"properties": {"format": {"type": "string", "enum": ["csv", "json"]}}}`), "format")
	if strings.Join(got, ",") != "csv,json" {
		t.Errorf("got %v", got)
	}
	if specEnum([]byte(`{}`), "format") != nil {
		t.Error("an enum out of nothing")
	}
}

func TestReportAndChart(t *testing.T) {
	r := newReport(1000, 2)
	sc := &scenario{Name: "append", Group: "append"}
	sc.add(result{Method: "wasmdest", Wasmdest: true, Rows: 1000, Seconds: 2, PeakRSS: 100 << 20},
		result{Method: "pgx", Rows: 1000, Seconds: 1})
	for i := range sc.Results {
		sc.Results[i].fill(1e6)
	}
	sc.target("pgx", 0.9, "append >= 0.9x pgx")
	r.add(sc)
	r.Scaling = append(r.Scaling, result{Method: "wasmdest", Wasmdest: true, Rows: 1000, RowsPerSec: 500, PeakRSS: 1 << 20})
	var md strings.Builder
	r.markdown(&md)
	for _, want := range []string{"| append | wasmdest | 500 |", "**0.50**", "| append >= 0.9x pgx (append) | 0.50x (target 0.90x) | **no** |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	b, err := r.chart()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}

// splitRows cuts binary COPY rows at row boundaries, NULLs (length -1)
// included, and refuses a stream cut short.
func TestSplitRows(t *testing.T) {
	var rows []byte
	for i := range 5 {
		rows = append(rows, 0, 2)                   // two fields
		rows = append(rows, 0, 0, 0, 1, byte(i))    // one byte
		rows = append(rows, 0xff, 0xff, 0xff, 0xff) // NULL
	}
	got, err := splitRows(rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0]) != 22 || len(got[2]) != 11 || got[1][6] != 2 {
		t.Fatalf("split into %d batches: %v", len(got), got)
	}
	for _, cut := range []int{3, 5} { // in a length, in a value
		if _, err := splitRows(rows[:len(rows)-cut], 2); err == nil {
			t.Errorf("a stream cut %d bytes short was split without an error", cut)
		}
	}
}
