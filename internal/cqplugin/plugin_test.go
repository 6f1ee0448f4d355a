package cqplugin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/cqplugin/pb"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// twoTables are the tables of the syncs below: one with a primary key
// (upserts), one without (inserts), 3 records of 40 rows each.
func twoTables() []cliTable { return seededTables("") }

// seededTables is twoTables with the _cq_id values of seed.
func seededTables(seed string) []cliTable {
	var out []cliTable
	for _, tb := range []struct {
		name string
		pk   bool
	}{{"cq_users", true}, {"cq_events", false}} {
		sc := sourceSchema(tb.name, tb.pk)
		c := cliTable{src: sc}
		for i := range 3 {
			c.recs = append(c.recs, seededRecord(sc, i*40, 40, seed))
		}
		out = append(out, c)
	}
	return out
}

// memInput is a syncer.Input of records in memory.
type memInput struct {
	t    arrowio.Table
	recs []arrow.RecordBatch
}

func (m *memInput) Table() arrowio.Table { return m.t }
func (m *memInput) Next(context.Context) (arrow.RecordBatch, error) {
	if len(m.recs) == 0 {
		return nil, io.EOF
	}
	r := m.recs[0]
	m.recs = m.recs[1:]
	r.Retain()
	return r, nil
}
func (m *memInput) Close() error { return nil }

// runSync writes tables into url as `wasmdest run` does, with the CLI's
// source name and sync time.
func runSync(t *testing.T, guest, url string, tables []cliTable) {
	t.Helper()
	ctx := context.Background()
	env := newEnv(t)
	d := config.Destination{Name: "pg", Registry: config.RegistryLocal, Path: guest,
		WriteMode: abi.WriteModeOverwriteDeleteStale, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Spec: map[string]any{"connection_string": url}, File: "test", Line: 1}
	od, err := syncer.Open(ctx, env, d)
	if err != nil {
		t.Fatal(err)
	}
	var ins []syncer.Input
	for _, tb := range tables {
		ins = append(ins, &memInput{t: arrowio.Table{Name: schemaName(tb.src), Schema: tb.src}, recs: tb.recs})
	}
	s := syncer.New(env, []*syncer.Destination{od})
	if err := s.Run(ctx, ins); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
}

func pgSpec(url string) string {
	return fmt.Sprintf(`{"connection_string": %q, "batch_size": 50}`, url)
}

// TestFullSyncEqualsRun drives a whole sync through the plugin as the CLI
// does, over TCP, and checks PostgreSQL holds exactly what `wasmdest run`
// writes for the same records: columns, types, keys and rows.
func TestFullSyncEqualsRun(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	viaPlugin, viaRun := testenv.PostgresURL(t), testenv.PostgresURL(t)
	tables := twoTables()
	conn := serveTCP(t, guest, "")
	if err := cliSync(t, conn, pgSpec(viaPlugin), tables, syncOptions{deleteStale: true}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	runSync(t, guest, viaRun, tables)
	for _, tb := range tables {
		name := schemaName(tb.src)
		pc, pr := pgDump(t, viaPlugin, name)
		rc, rr := pgDump(t, viaRun, name)
		if strings.Join(pc, "\n") != strings.Join(rc, "\n") {
			t.Errorf("table %s: columns differ:\nplugin:\n%s\nrun:\n%s", name, strings.Join(pc, "\n"), strings.Join(rc, "\n"))
		}
		if len(pr) != 120 {
			t.Errorf("table %s: %d rows via the plugin, want 120", name, len(pr))
		}
		if strings.Join(pr, "\n") != strings.Join(rr, "\n") {
			t.Errorf("table %s: rows differ; first via plugin %s, via run %s", name, pr[0], rr[0])
		}
	}
	// A second sync of the same records: upserts keep 120 rows in the
	// table with a key, the table without one doubles, and DeleteStale of
	// an older sync time deletes nothing of this sync.
	if err := cliSync(t, conn, pgSpec(viaPlugin), seededTables("second"), syncOptions{deleteStale: true}); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if n := count(t, viaPlugin, "cq_users"); n != 120 {
		t.Errorf("cq_users after a second sync: %d rows, want 120", n)
	}
	if n := count(t, viaPlugin, "cq_events"); n != 240 {
		t.Errorf("cq_events after a second sync: %d rows, want 240", n)
	}
	// Read streams the table back, as CloudQuery's destination tests read.
	c := pb.NewPluginClient(conn)
	if _, err := c.Init(context.Background(), &pb.Init_Request{Spec: []byte(pgSpec(viaPlugin))}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Read(context.Background(), &pb.Read_Request{Table: ipcBytes(t, cliSchema(tables[0].src))})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for {
		m, err := rs.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		rd, err := arrowio.NewReader("read", bytes.NewReader(m.GetRecord()), arrowio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if got := rd.Table().Schema; !got.Equal(cliSchema(tables[0].src)) {
			t.Errorf("Read record schema %s, want %s", got, cliSchema(tables[0].src))
		}
		for {
			rec, err := rd.Next(context.Background())
			if err != nil {
				break
			}
			rows += int(rec.NumRows())
			rec.Release()
		}
		rd.Close()
	}
	if rows != 120 {
		t.Errorf("Read returned %d rows, want 120", rows)
	}
}

// TestSafeAndForcedMigration: a column type change is refused per
// migrate_table message without migrate_force, listing the change and
// leaving the table as it was, and done with it.
func TestSafeAndForcedMigration(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	url := testenv.PostgresURL(t)
	conn := serveTCP(t, guest, "")
	tables := twoTables()[:1]
	if err := cliSync(t, conn, pgSpec(url), tables, syncOptions{}); err != nil {
		t.Fatal(err)
	}
	// name becomes an int64 column.
	old := tables[0].src
	fields := old.Fields()
	fields[3] = arrow.Field{Name: "name", Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	md := old.Metadata()
	changed := arrow.NewSchema(fields, &md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, changed)
	rec := sourceRecord(old, 1000, 5)
	for i, col := range rec.Columns() {
		if i == 3 {
			for j := range 5 {
				b.Field(3).(*array.Int64Builder).Append(int64(j))
			}
			continue
		}
		for j := range col.Len() {
			if err := b.Field(i).AppendValueFromString(col.ValueStr(j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tb := []cliTable{{src: changed, recs: []arrow.RecordBatch{b.NewRecordBatch()}}}
	err := cliSync(t, conn, pgSpec(url), tb, syncOptions{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `table "cq_users"`) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("safe mode: got %v, want FailedPrecondition listing the change of cq_users.name", err)
	}
	if n := count(t, url, "cq_users"); n != 120 {
		t.Fatalf("after a refused migration: %d rows, want the 120 untouched", n)
	}
	if err := cliSync(t, conn, pgSpec(url), tb, syncOptions{force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	cols, _ := pgDump(t, url, "cq_users")
	if !strings.Contains(strings.Join(cols, "\n"), "name bigint") {
		t.Errorf("forced migration: columns %v, want name bigint", cols)
	}
	if n := count(t, url, "cq_users"); n != 5 {
		t.Errorf("after a forced (recreating) migration: %d rows, want 5", n)
	}
}

// TestDeleteRecord: delete_record removes the matched rows (and the child
// rows of the relations) in the PostgreSQL guest, and a guest without the
// operation refuses it by name.
func TestDeleteRecord(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	url := testenv.PostgresURL(t)
	conn := serveTCP(t, guest, "")
	tables := twoTables()[:1]
	if err := cliSync(t, conn, pgSpec(url), tables, syncOptions{}); err != nil {
		t.Fatal(err)
	}
	c := pb.NewPluginClient(conn)
	ctx := context.Background()
	if _, err := c.Init(ctx, &pb.Init_Request{Spec: []byte(pgSpec(url))}); err != nil {
		t.Fatal(err)
	}
	ids := func(v ...int64) []byte {
		sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		b.Field(0).(*array.Int64Builder).AppendValues(v, nil)
		return ipcBytes(t, sc, b.NewRecordBatch())
	}
	names := func(v string) []byte {
		sc := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.BinaryTypes.String}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		b.Field(0).(*array.StringBuilder).Append(v)
		return ipcBytes(t, sc, b.NewRecordBatch())
	}
	ws, err := c.Write(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// (id = 3) OR (id = 7 AND name = 'user 7') OR (id IN (8, 9) AND name = 'nobody')
	msg := &pb.Write_Request{Message: &pb.Write_Request_DeleteRecord{DeleteRecord: &pb.Write_MessageDeleteRecord{
		TableName: "cq_users",
		WhereClause: []*pb.PredicatesGroup{
			{Predicates: []*pb.Predicate{{Column: "id", Record: ids(3)}}},
			{GroupingType: pb.PredicatesGroup_AND, Predicates: []*pb.Predicate{{Column: "id", Record: ids(7)}, {Column: "name", Record: names("user 7")}}},
			{Predicates: []*pb.Predicate{{Column: "id", Record: ids(8, 9)}, {Column: "name", Record: names("nobody")}}},
		}}}}
	if err := ws.Send(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.CloseAndRecv(); err != nil {
		t.Fatalf("delete_record: %v", err)
	}
	if n := count(t, url, "cq_users"); n != 118 {
		t.Errorf("after delete_record: %d rows, want 118", n)
	}
	execSQL(t, url, "SELECT 1") // the database still answers

	// The file guest lacks the operation: a clear refusal.
	fileConn := serveTCP(t, testenv.BuildGuest(t, "guests/file"), t.TempDir())
	fc := pb.NewPluginClient(fileConn)
	if _, err := fc.Init(ctx, &pb.Init_Request{Spec: []byte(`{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}"}`)}); err != nil {
		t.Fatal(err)
	}
	fws, err := fc.Write(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fws.Send(msg)
	_, err = fws.CloseAndRecv()
	if err == nil || !strings.Contains(err.Error(), "delete_record") || !strings.Contains(err.Error(), "file") {
		t.Fatalf("file guest delete_record: %v, want a refusal naming the guest and delete_record", err)
	}
}

// TestGarbageMessages: garbage bytes in table and record fail the Write with
// InvalidArgument naming the message, and the plugin serves on.
func TestGarbageMessages(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	url := testenv.PostgresURL(t)
	conn := serveTCP(t, guest, "")
	c := pb.NewPluginClient(conn)
	ctx := context.Background()
	if _, err := c.Init(ctx, &pb.Init_Request{Spec: []byte(pgSpec(url))}); err != nil {
		t.Fatal(err)
	}
	valid := ipcBytes(t, cliSchema(sourceSchema("g", true)))
	for name, msg := range map[string]*pb.Write_Request{
		"migrate_table": {Message: &pb.Write_Request_MigrateTable{MigrateTable: &pb.Write_MessageMigrateTable{Table: []byte("\xff\xff\xff\xffgarbage, not arrow at all")}}},
		"insert":        {Message: &pb.Write_Request_Insert{Insert: &pb.Write_MessageInsert{Record: append(valid[:len(valid)-20:len(valid)-20], "garbage"...)}}},
		"insert empty":  {Message: &pb.Write_Request_Insert{Insert: &pb.Write_MessageInsert{}}},
		"delete":        {Message: &pb.Write_Request_Delete{Delete: &pb.Write_MessageDeleteStale{Table: []byte("garbage")}}},
		"nothing":       {},
	} {
		t.Run(name, func(t *testing.T) {
			ws, err := c.Write(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ws.Send(msg)
			_, err = ws.CloseAndRecv()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "Write message 1") {
				t.Fatalf("got %v, want InvalidArgument naming Write message 1", err)
			}
		})
	}
	// Still serving: a whole sync goes through.
	if err := cliSync(t, conn, pgSpec(url), twoTables()[:1], syncOptions{}); err != nil {
		t.Fatalf("sync after garbage: %v", err)
	}
}

// TestClientDisconnectsMidStream: a client that goes away mid-sync fails the
// sync; what was written is whole records in whole batches, never part of
// a record, and the plugin takes the next sync.
func TestClientDisconnectsMidStream(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	url := testenv.PostgresURL(t)
	conn := serveTCP(t, guest, "")
	c := pb.NewPluginClient(conn)
	if _, err := c.Init(context.Background(), &pb.Init_Request{Spec: []byte(fmt.Sprintf(`{"connection_string": %q, "batch_size": 30}`, url))}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ws, err := c.Write(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := sourceSchema("cq_broken", false)
	if err := ws.Send(&pb.Write_Request{Message: &pb.Write_Request_MigrateTable{MigrateTable: &pb.Write_MessageMigrateTable{Table: ipcBytes(t, cliSchema(sc))}}}); err != nil {
		t.Fatal(err)
	}
	sendRecs := func(from, n int) {
		for i := from; i < from+n; i++ {
			cr := cliRecord(sourceRecord(sc, i*10, 10))
			if err := ws.Send(&pb.Write_Request{Message: &pb.Write_Request_Insert{Insert: &pb.Write_MessageInsert{Record: ipcBytes(t, cr.Schema(), cr)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sendRecs(0, 4)
	// Wait for the first batch (30 rows: 3 records) to be written.
	for deadline := time.Now().Add(time.Minute); rowsIfAny(t, url, "cq_broken") < 30; {
		if time.Now().After(deadline) {
			t.Fatal("the first batch was not written within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sendRecs(4, 3)
	cancel() // gone, without closing the stream
	// Close waits for the broken Write to end.
	if _, err := c.Close(context.Background(), &pb.Close_Request{}); err != nil {
		t.Fatal(err)
	}
	n := count(t, url, "cq_broken")
	if n%10 != 0 || n < 30 || n > 70 {
		t.Fatalf("after a broken stream: %d rows, want whole records of 10 (30 to 70)", n)
	}
	t.Logf("rows written before the client went away: %d", n)
	if err := cliSync(t, conn, pgSpec(url), twoTables()[:1], syncOptions{}); err != nil {
		t.Fatalf("sync after a broken one: %v", err)
	}
}

// TestInitValidatesSpec: Init checks the nested spec against the guest's
// schema; no_connection validates only; TestConnection reports failures.
func TestInitValidatesSpec(t *testing.T) {
	guest := testenv.BuildGuest(t, "guests/postgres")
	conn := serveTCP(t, guest, "")
	c := pb.NewPluginClient(conn)
	ctx := context.Background()
	_, err := c.Init(ctx, &pb.Init_Request{Spec: []byte(`{"connection_string": "postgres://x/y", "batch_size": "many"}`), NoConnection: true})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "batch_size") {
		t.Fatalf("bad spec: %v, want InvalidArgument naming batch_size", err)
	}
	if _, err := c.Init(ctx, &pb.Init_Request{Spec: []byte(`{"connection_string": "postgres://nobody@127.0.0.1:1/none"}`), NoConnection: true}); err != nil {
		t.Fatalf("no_connection: %v", err)
	}
	_, err = c.Init(ctx, &pb.Init_Request{Spec: []byte(`{"connection_string": "postgres://nobody@127.0.0.1:1/none"}`)})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("unreachable database: %v, want FailedPrecondition", err)
	}
	tc, err := c.TestConnection(ctx, &pb.TestConnection_Request{Spec: []byte(`{"connection_string": "postgres://nobody@127.0.0.1:1/none"}`)})
	if err != nil || tc.GetSuccess() || tc.GetFailureDescription() == "" {
		t.Fatalf("TestConnection of an unreachable database: %v %v", tc, err)
	}
	tc, err = c.TestConnection(ctx, &pb.TestConnection_Request{Spec: []byte(pgSpec(testenv.PostgresURL(t)))})
	if err != nil || !tc.GetSuccess() {
		t.Fatalf("TestConnection: %v %v", tc, err)
	}
}

// TestFileGuestOverTCP: the file guest (no schemas, append only) takes a
// CLI sync: every row lands in its files.
func TestFileGuestOverTCP(t *testing.T) {
	dir := t.TempDir()
	conn := serveTCP(t, testenv.BuildGuest(t, "guests/file"), dir)
	if err := cliSync(t, conn, `{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": "json"}`, twoTables(), syncOptions{}); err != nil {
		t.Fatal(err)
	}
	checkJSONFiles(t, dir)
}

func checkJSONFiles(t *testing.T, dir string) {
	t.Helper()
	for _, table := range []string{"cq_users", "cq_events"} {
		files, _ := filepath.Glob(filepath.Join(dir, table, "*.json"))
		lines := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines += strings.Count(string(b), "\n")
			if !strings.Contains(string(b), `"_cq_source_name":"aws"`) {
				t.Errorf("%s: no _cq_source_name aws: %.200s", f, b)
			}
		}
		if lines != 120 {
			t.Errorf("table %s: %d rows in %d files, want 120", table, lines, len(files))
		}
	}
}

// TestAbsoluteFilePathGrantsItsDirectory: a CloudQuery file spec with an
// absolute path and no directory configured writes under that path: the
// path's fixed prefix is the directory granted.
func TestAbsoluteFilePathGrantsItsDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "data", "out")
	conn := serveTCP(t, testenv.BuildGuest(t, "guests/file"), "")
	spec := fmt.Sprintf(`{"path": %q, "format": "json"}`, out+"/{{TABLE}}/{{UUID}}.{{FORMAT}}")
	if err := cliSync(t, conn, spec, twoTables(), syncOptions{}); err != nil {
		t.Fatal(err)
	}
	checkJSONFiles(t, out)
}
