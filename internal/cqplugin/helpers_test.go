package cqplugin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
	"github.com/wasmdest/wasmdest/internal/cqplugin"
	"github.com/wasmdest/wasmdest/internal/cqplugin/pb"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// syncTime and source are the CLI's sync time and source name.
var (
	syncTime = time.Date(2026, 11, 21, 6, 25, 49, 123456000, time.UTC)
	source   = "aws"
)

func newEnv(t *testing.T) *syncer.Env {
	t.Helper()
	log := testenv.Logger(t, hclog.Warn)
	rt := testenv.Runtime(t, host.Config{Logger: log})
	return &syncer.Env{Runtime: rt, Log: log, SourceName: source, SyncTime: syncTime, SyncID: "sync-1",
		Capabilities: capability.Builtin()}
}

// serveTCP serves guest on a loopback port in this process and returns a
// client connection to it.
func serveTCP(t *testing.T, guest, dir string) *grpc.ClientConn {
	t.Helper()
	srv, err := cqplugin.New(context.Background(), cqplugin.Config{GuestPath: guest, Env: *newEnv(t), Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(cqplugin.ServerOptions()...)
	srv.Register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return dial(t, "passthrough:///"+lis.Addr().String())
}

// dial connects as CloudQuery's CLI does: plain gRPC, 200 MiB receive limit.
func dial(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(200<<20), grpc.MaxCallSendMsgSize(200<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

var (
	pkMeta     = arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	uniqueMeta = arrow.NewMetadata([]string{abi.MetaUnique}, []string{abi.MetaTrue})
)

// sourceSchema is a source table as a CloudQuery source declares it (no
// internal columns but _cq_id and _cq_parent_id); pk says whether id is its
// primary key.
func sourceSchema(table string, pk bool) *arrow.Schema {
	idMeta := arrow.Metadata{}
	if pk {
		idMeta = pkMeta
	}
	return arrow.NewSchema([]arrow.Field{
		{Name: "_cq_id", Type: arrowtypes.NewUUIDType(), Metadata: uniqueMeta},
		{Name: "_cq_parent_id", Type: arrowtypes.NewUUIDType(), Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: idMeta},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "tags", Type: arrowtypes.NewJSONType(), Nullable: true},
		{Name: "addr", Type: arrowtypes.NewInetType(), Nullable: true},
		{Name: "seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, ptr(arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})))
}

// cliSchema is the table as CloudQuery's CLI sends it to a destination:
// _cq_sync_time and _cq_source_name in front.
func cliSchema(src *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field{
		{Name: abi.ColSyncTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: abi.ColSourceName, Type: arrow.BinaryTypes.String, Nullable: true},
	}, src.Fields()...)
	md := src.Metadata()
	return arrow.NewSchema(fields, &md)
}

func ptr[T any](v T) *T { return &v }

// sourceRecord holds rows from..from+n of a source table.
func sourceRecord(sc *arrow.Schema, from, n int) arrow.RecordBatch {
	return seededRecord(sc, from, n, "")
}

// seededRecord is sourceRecord with _cq_id values of seed (one per sync in CloudQuery).
func seededRecord(sc *arrow.Schema, from, n int, seed string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*arrowtypes.UUIDBuilder).Append(uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(seed, schemaName(sc), i))))
		b.Field(1).AppendNull()
		b.Field(2).(*array.Int64Builder).Append(int64(i))
		if i%5 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("user %d", i))
		}
		b.Field(4).(*arrowtypes.JSONBuilder).Append(map[string]any{"n": i, "even": i%2 == 0})
		b.Field(5).(*arrowtypes.InetBuilder).AppendValueFromString(fmt.Sprintf("10.0.%d.%d/32", i/250, i%250))
		b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)))
	}
	return b.NewRecordBatch()
}

func schemaName(sc *arrow.Schema) string {
	v, _ := sc.Metadata().GetValue(abi.MetaTableName)
	return v
}

// cliRecord is rec as the CLI sends it: the sync time and source name in front.
func cliRecord(rec arrow.RecordBatch) arrow.RecordBatch {
	n := int(rec.NumRows())
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	defer tb.Release()
	defer sb.Release()
	ts, _ := arrow.TimestampFromTime(syncTime, arrow.Microsecond)
	for range n {
		tb.Append(ts)
		sb.Append(source)
	}
	t, s := tb.NewArray(), sb.NewArray()
	defer t.Release()
	defer s.Release()
	cols := append([]arrow.Array{t, s}, rec.Columns()...)
	return array.NewRecordBatch(cliSchema(rec.Schema()), cols, int64(n))
}

// ipcBytes is an Arrow IPC stream of sc and recs, as the CLI encodes tables
// (no records) and records (one).
func ipcBytes(t *testing.T, sc *arrow.Schema, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cliTable is one table of a CLI sync: its source schema and the records.
type cliTable struct {
	src  *arrow.Schema
	recs []arrow.RecordBatch
}

// syncOptions are the choices of a CLI sync.
type syncOptions struct {
	force       bool // migrate_mode: forced
	deleteStale bool // write_mode: overwrite-delete-stale
}

// cliSync does what CloudQuery's CLI does with a destination, message for
// message: discovery, name, version, spec schema, Init, then one Write
// stream (migrate every table, insert every record, DeleteStale per table
// at the end), then Close. It returns the Write error.
func cliSync(t *testing.T, conn *grpc.ClientConn, spec string, tables []cliTable, o syncOptions) error {
	t.Helper()
	ctx := context.Background()
	vs, err := pb.NewDiscoveryClient(conn).GetVersions(ctx, &pb.GetVersions_Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.GetVersions()) != 1 || vs.GetVersions()[0] != 3 {
		t.Fatalf("GetVersions: %v, want [3]", vs.GetVersions())
	}
	c := pb.NewPluginClient(conn)
	if n, err := c.GetName(ctx, &pb.GetName_Request{}); err != nil || n.GetName() == "" {
		t.Fatalf("GetName: %v %v", n, err)
	}
	if v, err := c.GetVersion(ctx, &pb.GetVersion_Request{}); err != nil || !strings.HasPrefix(v.GetVersion(), "v") {
		t.Fatalf("GetVersion: %v %v", v, err)
	}
	if s, err := c.GetSpecSchema(ctx, &pb.GetSpecSchema_Request{}); err != nil || !strings.Contains(s.GetJsonSchema(), "properties") {
		t.Fatalf("GetSpecSchema: %v %v", s, err)
	}
	if _, err := c.Init(ctx, &pb.Init_Request{Spec: []byte(spec), InvocationId: uuid.NewString()}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	err = write(ctx, t, c, tables, o)
	if _, cerr := c.Close(ctx, &pb.Close_Request{}); cerr != nil {
		t.Fatalf("Close: %v", cerr)
	}
	return err
}

func write(ctx context.Context, t *testing.T, c pb.PluginClient, tables []cliTable, o syncOptions) error {
	ws, err := c.Write(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(r *pb.Write_Request) error {
		if err := ws.Send(r); err != nil {
			_, rerr := ws.CloseAndRecv()
			if rerr == nil || rerr == io.EOF {
				return err
			}
			return rerr
		}
		return nil
	}
	for _, tb := range tables {
		m := &pb.Write_Request{Message: &pb.Write_Request_MigrateTable{MigrateTable: &pb.Write_MessageMigrateTable{
			Table: ipcBytes(t, cliSchema(tb.src)), MigrateForce: o.force}}}
		if err := send(m); err != nil {
			return err
		}
	}
	for _, tb := range tables {
		for _, r := range tb.recs {
			cr := cliRecord(r)
			m := &pb.Write_Request{Message: &pb.Write_Request_Insert{Insert: &pb.Write_MessageInsert{Record: ipcBytes(t, cr.Schema(), cr)}}}
			cr.Release()
			if err := send(m); err != nil {
				return err
			}
		}
	}
	if o.deleteStale {
		for _, tb := range tables {
			m := &pb.Write_Request{Message: &pb.Write_Request_Delete{Delete: &pb.Write_MessageDeleteStale{
				Table: ipcBytes(t, cliSchema(tb.src)), TableName: schemaName(tb.src), SourceName: source,
				SyncTime: timestamppb.New(syncTime)}}}
			if err := send(m); err != nil {
				return err
			}
		}
	}
	_, err = ws.CloseAndRecv()
	return err
}

// pgDump is a table's columns (name, type, nullability, key) and its rows as
// JSON, ordered by id.
func pgDump(t *testing.T, url, table string) (cols []string, rows []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	r, err := conn.Query(ctx, `SELECT c.column_name, c.data_type, c.is_nullable,
		EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints tc
		  ON tc.constraint_name = k.constraint_name AND tc.table_name = k.table_name
		  WHERE k.table_name = c.table_name AND k.column_name = c.column_name AND tc.constraint_type = 'PRIMARY KEY')
		FROM information_schema.columns c WHERE c.table_name = $1 AND c.table_schema = 'public' ORDER BY c.ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var name, typ, null string
		var pk bool
		if err := r.Scan(&name, &typ, &null, &pk); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, fmt.Sprintf("%s %s null=%s pk=%v", name, typ, null, pk))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r, err = conn.Query(ctx, fmt.Sprintf(`SELECT to_jsonb(t)::text FROM %s t ORDER BY id`, pgx.Identifier{table}.Sanitize()))
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, s)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, rows
}

func count(t *testing.T, url, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s", pgx.Identifier{table}.Sanitize())).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// rowsIfAny counts a table's rows, -1 while it does not exist.
func rowsIfAny(t *testing.T, url, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s", pgx.Identifier{table}.Sanitize())).Scan(&n); err != nil {
		return -1
	}
	return n
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
