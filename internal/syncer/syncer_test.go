package syncer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

var syncTime = time.Date(2026, 11, 21, 6, 0, 0, 123456000, time.UTC)

func newEnv(t *testing.T) *syncer.Env {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: io.Discard})
	rt := testenv.Runtime(t, host.Config{Logger: log})
	return &syncer.Env{Runtime: rt, SyncID: "sync-1", SyncTime: syncTime, SourceName: "src", Log: log, Capabilities: capability.Builtin()}
}

// misbehave is a destination of the misbehave test guest with spec.
func misbehave(t *testing.T, env *syncer.Env, mod func(*config.Destination), spec map[string]any) *syncer.Destination {
	t.Helper()
	d := config.Destination{
		Name: "mb", Registry: config.RegistryLocal, Path: testenv.BuildGuest(t, "host/testdata/guests/misbehave"),
		WriteMode: abi.WriteModeOverwriteDeleteStale, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Spec: spec, File: "test.toml", Line: 1,
	}
	if mod != nil {
		mod(&d)
	}
	od, err := syncer.Open(context.Background(), env, d)
	if err != nil {
		t.Fatal(err)
	}
	return od
}

var pkMeta = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})

func usersSchema(table string) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pkMeta},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, ptr(arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})))
}

func ptr[T any](v T) *T { return &v }

func users(table string, from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, usersSchema(table))
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user %d", i))
	}
	return b.NewRecordBatch()
}

// memInput is an Input of records in memory; after them it returns err
// (io.EOF when nil). If gate is not nil, Next waits on it before each record
// after the first.
type memInput struct {
	table arrowio.Table
	recs  []arrow.RecordBatch
	err   error
	gate  chan struct{}
	n     int
}

func input(table string, recs ...arrow.RecordBatch) *memInput {
	return &memInput{table: arrowio.Table{Name: table, Schema: recs[0].Schema()}, recs: recs}
}

func (m *memInput) Table() arrowio.Table { return m.table }
func (m *memInput) Close() error {
	for _, r := range m.recs[m.n:] {
		r.Release()
	}
	m.n = len(m.recs)
	return nil
}
func (m *memInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if m.gate != nil && m.n > 0 && m.n < len(m.recs) {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.n == len(m.recs) {
		if m.err != nil {
			return nil, m.err
		}
		return nil, io.EOF
	}
	m.n++
	return m.recs[m.n-1], nil
}

// ops returns the misbehave guest's log of operations.
func ops(t *testing.T, d *syncer.Destination) []string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "op", Type: arrow.BinaryTypes.String}}, nil)
	var out bytes.Buffer
	if err := d.Pool.Call(context.Background(), nil, abi.OpRead, abi.TableRequest{Table: "__ops"}, host.RecordBody(sc), &out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range readAll(t, &out) {
		col := r.Column(0).(*array.String)
		for i := 0; i < col.Len(); i++ {
			got = append(got, col.Value(i))
		}
		r.Release()
	}
	return got
}

// stored reads back what the guest holds for a table.
func stored(t *testing.T, d *syncer.Destination, table string, sc *arrow.Schema) []arrow.RecordBatch {
	t.Helper()
	var out bytes.Buffer
	if err := d.Pool.Call(context.Background(), nil, abi.OpRead, abi.TableRequest{Table: table}, host.RecordBody(sc), &out); err != nil {
		t.Fatal(err)
	}
	return readAll(t, &out)
}

func readAll(t *testing.T, r io.Reader) []arrow.RecordBatch {
	t.Helper()
	_, recs, err := host.ReadRecords(r)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func run(t *testing.T, env *syncer.Env, d *syncer.Destination, inputs ...syncer.Input) (*syncer.Sync, error) {
	t.Helper()
	s := syncer.New(env, []*syncer.Destination{d})
	err := s.Run(context.Background(), inputs)
	t.Cleanup(func() { s.Finish(context.Background()) })
	return s, err
}

func TestAppendStripsKeysAndAddsInternalColumns(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) { d.WriteMode = abi.WriteModeAppend }, nil)
	if _, err := run(t, env, d, input("users", users("users", 0, 5))); err != nil {
		t.Fatal(err)
	}
	wanted := arrow.NewSchema([]arrow.Field{
		{Name: abi.ColSyncTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: abi.ColSourceName, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	recs := stored(t, d, "users", wanted)
	if len(recs) != 1 || recs[0].NumRows() != 5 {
		t.Fatalf("stored %d records, want one of 5 rows", len(recs))
	}
	rec := recs[0]
	for i, f := range rec.Schema().Fields() {
		if v, ok := f.Metadata.GetValue(abi.MetaPrimaryKey); ok && v == abi.MetaTrue {
			t.Errorf("column %d (%s) is still a primary key in append mode", i, f.Name)
		}
	}
	ts := rec.Column(0).(*array.Timestamp)
	src := rec.Column(1).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		if got := ts.Value(i).ToTime(arrow.Microsecond); !got.Equal(syncTime) {
			t.Errorf("row %d: _cq_sync_time %v, want %v", i, got, syncTime)
		}
		if src.Value(i) != "src" {
			t.Errorf("row %d: _cq_source_name %q, want src", i, src.Value(i))
		}
	}
}

func TestBatchingAndDeleteStaleOrder(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, map[string]any{"batch_size": 10})
	// 25 rows of users in three records, then 3 of groups.
	in1 := input("users", users("users", 0, 7), users("users", 7, 11), users("users", 18, 7))
	in2 := input("groups", users("groups", 0, 3))
	if _, err := run(t, env, d, in1, in2); err != nil {
		t.Fatal(err)
	}
	ts := abi.FormatTime(syncTime)
	want := []string{
		"migrate users create", "migrate groups create",
		"write users 10", "write users 10", "write users 5", "delete_stale users src " + ts,
		"write groups 3", "delete_stale groups src " + ts,
	}
	if got := ops(t, d); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("operations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// changed says a table "users" exists with id as text: an unsafe type change.
func changed(sticky bool) map[string]any {
	col := func(name, typ string, pk bool) map[string]any {
		return map[string]any{"name": name, "type": typ, "primary_key": pk, "not_null": pk}
	}
	cur := []any{col(abi.ColSyncTime, "timestamp[us, tz=UTC]", false), col(abi.ColSourceName, "utf8", false), col("id", "utf8", true), col("name", "utf8", false)}
	want := []any{col(abi.ColSyncTime, "timestamp[us, tz=UTC]", false), col(abi.ColSourceName, "utf8", false), col("id", "int64", true), col("name", "utf8", false)}
	return map[string]any{"sticky": sticky, "describe": map[string]any{
		"users": map[string]any{"table": "users", "exists": true, "current": cur, "wanted": want},
	}}
}

func TestSafeModeRefusesBeforeAnyDDL(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, changed(false))
	// groups comes first and is new: it must not be created either.
	_, err := run(t, env, d, input("groups", users("groups", 0, 3)), input("users", users("users", 0, 3)))
	if err == nil {
		t.Fatal("an unsafe change went through in safe mode")
	}
	for _, w := range []string{"Can't migrate tables automatically", `table "users": column "id": type utf8 -> int64`, "migrate_mode: forced"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if got := ops(t, d); len(got) != 0 {
		t.Errorf("operations ran before the refusal: %v", got)
	}
}

func TestForcedModeRecreates(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) { d.MigrateMode = abi.MigrateModeForced }, changed(false))
	if _, err := run(t, env, d, input("users", users("users", 0, 3))); err != nil {
		t.Fatal(err)
	}
	got := ops(t, d)
	if len(got) == 0 || got[0] != "migrate users recreate" {
		t.Errorf("operations %v, want a recreate first", got)
	}
}

func TestGuestThatDoesNotMigrateIsCaught(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) { d.MigrateMode = abi.MigrateModeForced }, changed(true))
	_, err := run(t, env, d, input("users", users("users", 0, 3)))
	if err == nil || !strings.Contains(err.Error(), "did not migrate as asked") {
		t.Fatalf("got %v, want the host to notice the table was not migrated", err)
	}
	for _, op := range ops(t, d) {
		if strings.HasPrefix(op, "write") {
			t.Errorf("rows were written to a table that was not migrated: %s", op)
		}
	}
}

func TestLyingGuestIsRefused(t *testing.T) {
	env := newEnv(t)
	spec := changed(false)
	// Claim the wanted table has no key and lacks a column.
	st := spec["describe"].(map[string]any)["users"].(map[string]any)
	st["wanted"] = st["current"].([]any)[:3]
	st["current"] = st["wanted"]
	d := misbehave(t, env, nil, spec)
	_, err := run(t, env, d, input("users", users("users", 0, 3)))
	if err == nil || !strings.Contains(err.Error(), "guest reported") {
		t.Fatalf("got %v, want the host to refuse the guest's report", err)
	}
}

func TestBatchTimeoutFlushesWhileInputIsSlow(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, map[string]any{"batch_size": 1000, "batch_timeout": "50ms"})
	in := input("users", users("users", 0, 5), users("users", 5, 5))
	in.gate = make(chan struct{})
	done := make(chan error, 1)
	go func() { _, err := run(t, env, d, in); done <- err }()
	// The second record waits until the first batch was written by the timeout.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(strings.Join(ops(t, d), "\n"), "write users 5") {
		if time.Now().After(deadline) {
			t.Fatal("batch_timeout never flushed the pending rows")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(in.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ops(t, d), "\n")
	if strings.Count(got, "write users 5") != 2 {
		t.Errorf("operations %q, want two writes of 5 rows", got)
	}
}

func TestBadInputKeepsWhatCameBeforeAndSkipsDeleteStale(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, map[string]any{"batch_size": 4})
	in := input("users", users("users", 0, 6))
	in.err = errors.New("users.arrows: message 2: body truncated")
	s, err := run(t, env, d, in)
	if err == nil || !strings.Contains(err.Error(), "message 2") {
		t.Fatalf("got %v, want the input's error", err)
	}
	got := strings.Join(ops(t, d), "\n")
	if !strings.Contains(got, "write users 4") || !strings.Contains(got, "write users 2") {
		t.Errorf("operations %q: the 6 rows read before the failure were not all written", got)
	}
	if strings.Contains(got, "delete_stale") {
		t.Errorf("delete-stale ran for a table whose input failed: %q", got)
	}
	if st := s.Stats(); len(st) != 1 || st[0].Rows != 6 {
		t.Errorf("stats %+v, want 6 rows of users", st)
	}
}

func TestGuestFailureStopsTheRunAndCountsOnlyWholeBatches(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, nil, map[string]any{"batch_size": 4, "fail": map[string]any{"write": "panic"}, "after": 1})
	s, err := run(t, env, d, input("users", users("users", 0, 10)))
	if err == nil || !strings.Contains(err.Error(), "batch of 4 rows not written") || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("got %v", err)
	}
	if st := s.Stats(); st[0].Rows != 4 || st[0].Err == nil {
		t.Errorf("stats %+v, want 4 rows written and the error", st[0])
	}
}

func TestSyncGroupIDAndSummary(t *testing.T) {
	env := newEnv(t)
	d := misbehave(t, env, func(d *config.Destination) {
		d.WriteMode = abi.WriteModeOverwrite
		d.SyncGroupID = "{{SYNC_ID}}-{{YEAR}}{{MONTH}}"
		d.SendSyncSummary = true
	}, nil)
	if d.SyncGroupID != "sync-1-202611" {
		t.Fatalf("sync_group_id expanded to %q", d.SyncGroupID)
	}
	if _, err := run(t, env, d, input("users", users("users", 0, 3))); err != nil {
		t.Fatal(err)
	}
	wanted, err := schema.Transform(usersSchema("users"), schema.Options{WriteMode: abi.WriteModeOverwrite, SyncGroupID: d.SyncGroupID, SourceName: "src", SyncTime: syncTime})
	if err != nil {
		t.Fatal(err)
	}
	recs := stored(t, d, "users", wanted)
	idx := wanted.FieldIndices(abi.ColSyncGroupID)
	if len(recs) != 1 || len(idx) != 1 {
		t.Fatalf("stored %d records; schema has %s at %v", len(recs), abi.ColSyncGroupID, idx)
	}
	col := recs[0].Column(idx[0]).(*array.String)
	for i := 0; i < col.Len(); i++ {
		if col.Value(i) != "sync-1-202611" {
			t.Errorf("row %d: %s = %q", i, abi.ColSyncGroupID, col.Value(i))
		}
	}
	got := ops(t, d)
	if want := "write " + syncer.SummaryTable + " 1"; got[len(got)-1] != want {
		t.Errorf("last operation %q, want %q", got[len(got)-1], want)
	}
}
