//go:build !wasip1

package sdktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
	"github.com/wasmdest/wasmdest/sdk-guest/sdktest"
)

// memDest keeps written batches in memory.
type memDest struct {
	tables map[string][]arrow.RecordBatch
	stale  []abi.DeleteStaleRequest
	closed bool
}

func (d *memDest) Init(_ context.Context, req abi.InitRequest) error {
	var spec struct {
		Fail bool `json:"fail"`
	}
	if err := json.Unmarshal(req.Spec, &spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if spec.Fail {
		return errors.New("spec: fail is set")
	}
	d.tables = map[string][]arrow.RecordBatch{}
	return nil
}

func (d *memDest) Write(_ context.Context, table string, records array.RecordReader) error {
	if table == "boom" {
		panic("table boom")
	}
	name, err := sdk.Expand(abi.ExpandRequest{Template: "{{TABLE}}/{{UUID}}.{{FORMAT}}", Table: table, Format: "arrows"})
	if err != nil {
		return err
	}
	var rows int64
	for records.Next() {
		rec := records.RecordBatch()
		rec.Retain()
		d.tables[table] = append(d.tables[table], rec)
		rows += rec.NumRows()
	}
	sdk.Info("batch", "file", name, "rows", rows)
	return records.Err()
}

func (d *memDest) Read(_ context.Context, table string, _ *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	for _, rec := range d.tables[table] {
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

func (d *memDest) DeleteStale(_ context.Context, req abi.DeleteStaleRequest) error {
	d.stale = append(d.stale, req)
	return nil
}

func (d *memDest) Close(context.Context) error {
	d.closed = true
	return nil
}

var manifest = abi.Manifest{Name: "mem", Version: "v0.1.0", WriteModes: []abi.WriteMode{abi.WriteModeAppend}}

func people(n int) (*arrow.Schema, arrow.RecordBatch) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("person %d", i))
	}
	return schema, b.NewRecordBatch()
}

func TestWriteReadThroughTheDispatcher(t *testing.T) {
	d := &memDest{}
	g := sdktest.New(t, manifest, d, sdktest.Config{Init: abi.InitRequest{WriteMode: abi.WriteModeAppend, SyncID: "s1"}})
	m := g.Manifest()
	if m.ABIVersion != abi.CurrentVersion.String() || abi.List(m.Features) != "read, delete_stale" {
		t.Errorf("manifest %+v: want the ABI version and the features read, delete_stale added", m)
	}
	if g.Init().SourceName != "sdktest" || g.Init().PKMode != abi.DefaultPKMode || g.Init().SyncID != "s1" {
		t.Errorf("init %+v", g.Init())
	}
	schema, rec := people(5)
	defer rec.Release()
	_, rec2 := people(3)
	defer rec2.Release()
	if err := g.Write("users", schema, rec, rec2); err != nil {
		t.Fatal(err)
	}
	recs, err := g.Read("users", schema)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
		r.Release()
	}
	if len(recs) != 2 || rows != 8 {
		t.Errorf("read %d records, %d rows; want 2, 8", len(recs), rows)
	}
	logs := g.Logs()
	if len(logs) != 1 || !regexp.MustCompile(`^INFO batch file=users/[0-9a-f-]{36}\.arrows rows=8$`).MatchString(logs[0]) {
		t.Errorf("logs %q: want the batch line with the expanded file name", logs)
	}
	if err := g.DeleteStale(abi.DeleteStaleRequest{Table: "users", SourceName: "s", SyncTime: abi.FormatTime(time.Now())}); err != nil || len(d.stale) != 1 {
		t.Errorf("delete stale: %v, %v", err, d.stale)
	}
	if _, err := g.Describe("users", schema); !sdktest.IsUnsupported(err) {
		t.Errorf("describe: %v, want unsupported", err)
	}
	if err := g.Close(); err != nil || !d.closed {
		t.Errorf("close: %v, closed %t", err, d.closed)
	}
}

func TestInitError(t *testing.T) {
	_, err := sdktest.Start(manifest, &memDest{}, sdktest.Config{Init: abi.InitRequest{Spec: json.RawMessage(`{"fail": true}`)}})
	var ce *sdktest.CallError
	if !errors.As(err, &ce) || ce.Op != abi.OpInit || ce.Status != abi.StatusError || ce.Message != "spec: fail is set" {
		t.Fatalf("got %v, want init's error", err)
	}
}

func TestPanicIsAStatus(t *testing.T) {
	g := sdktest.New(t, manifest, &memDest{}, sdktest.Config{})
	schema, rec := people(1)
	defer rec.Release()
	err := g.Write("boom", schema, rec)
	var ce *sdktest.CallError
	if !errors.As(err, &ce) || ce.Status != abi.StatusPanicked || !strings.Contains(ce.Message, "panic: table boom") || !strings.Contains(ce.Message, "sdktest_test.go") {
		t.Fatalf("got %v, want status panicked with the stack", err)
	}
}

func TestBadBodyIsABadRequest(t *testing.T) {
	g := sdktest.New(t, manifest, &memDest{}, sdktest.Config{})
	err := g.Call(abi.OpWrite, abi.TableRequest{Table: "t"}, strings.NewReader("not arrow"), nil)
	var ce *sdktest.CallError
	if !errors.As(err, &ce) || ce.Status != abi.StatusBadRequest || !strings.Contains(ce.Message, "not an Arrow IPC stream") {
		t.Fatalf("got %v, want status bad request", err)
	}
}

func TestBadManifestVersion(t *testing.T) {
	if _, err := sdktest.Start(abi.Manifest{Name: "x", Version: "1.0"}, &memDest{}, sdktest.Config{}); err == nil || !strings.Contains(err.Error(), `"1.0" is not a semantic version`) {
		t.Fatalf("got %v", err)
	}
}
