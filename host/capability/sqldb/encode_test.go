package sqldb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
)

// TestBatchLoadEncodings loads records by reference (LoadRecords, as
// sql_load does with a write's batch) with every encoding and last_of_keys,
// into every driver, and reads the stored text back.
func TestBatchLoadEncodings(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "u", Type: arrowtypes.NewUUIDType(), Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "j", Type: arrowtypes.NewJSONType(), Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Duration_s, Nullable: true},
	}, nil)
	u := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	ts := time.Date(2024, 2, 29, 13, 4, 5, 123456000, time.UTC)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, id := range []int64{1, 2, 1} {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*arrowtypes.UUIDBuilder).Append(u)
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a\"<b>\n", "é"}, nil)
		b.Field(3).(*arrowtypes.JSONBuilder).Append(map[string]any{"k": i})
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
		b.Field(5).(*array.DurationBuilder).Append(arrow.Duration(i))
	}
	for range 1 { // a row of nulls but the key
		b.Field(0).(*array.Int64Builder).Append(3)
		for j := 1; j < 6; j++ {
			b.Field(j).AppendNull()
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	enc := []string{abi.SQLEncodeNative, abi.SQLEncodeText, abi.SQLEncodeJSON, abi.SQLEncodeJSON, abi.SQLEncodeTimeText, ""}
	for drv, db := range databases(t) {
		t.Run(drv, func(t *testing.T) {
			s := sqldb.NewSession(db, nil)
			defer s.End(ctx)
			if _, err := s.Exec(ctx, abi.SQLRequest{SQL: "CREATE TABLE t (id BIGINT, u TEXT, tags TEXT, j TEXT, ts TEXT, d BIGINT)"}); err != nil {
				t.Fatal(err)
			}
			req := abi.SQLLoadRequest{Batch: true, Encodings: enc, LastOfKeys: []int{0}}
			switch drv {
			case abi.SQLDriverMySQL:
				req.Method, req.SQL = abi.SQLLoadInfile, "LOAD DATA LOCAL INFILE "+abi.SQLLoadSource+" INTO TABLE t CHARACTER SET binary (id, u, tags, j, ts, d)"
			case abi.SQLDriverDuckDB:
				req.Method, req.SQL = abi.SQLLoadArrow, "INSERT INTO t SELECT * FROM "+abi.SQLLoadSource
			default:
				req.Method, req.SQL = abi.SQLLoadRows, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)"
			}
			if err := s.LoadRecords(ctx, req, schema, []arrow.RecordBatch{rec}); err != nil {
				t.Fatal(err)
			}
			if n, err := s.LoadEnd(ctx); err != nil || n != 3 {
				t.Fatalf("LoadEnd = %d, %v; want 3 rows (the first of id 1 dropped)", n, err)
			}
			got := query(t, s, "SELECT id, u, tags, j, ts, d FROM t ORDER BY id",
				abi.SQLTypeInt64, abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeUTF8, abi.SQLTypeInt64)
			defer got.Release()
			var lines []string
			for i := 0; i < int(got.NumRows()); i++ {
				var f []string
				for _, c := range got.Columns() {
					f = append(f, c.ValueStr(i))
				}
				lines = append(lines, strings.Join(f, " | "))
			}
			want := []string{
				`1 | 6ba7b810-9dad-11d1-80b4-00c04fd430c8 | ["a\"\u003cb\u003e\n","é"] | {"k":2} | 2024-02-29 13:04:05.123456 | 2`,
				`2 | 6ba7b810-9dad-11d1-80b4-00c04fd430c8 | ["a\"\u003cb\u003e\n","é"] | {"k":1} | 2024-02-29 13:04:05.123456 | 1`,
				`3 | (null) | (null) | (null) | (null) | (null)`,
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestBatchLoadBadRequests: a batch load's encodings must fit its rows.
func TestBatchLoadBadRequests(t *testing.T) {
	ctx := context.Background()
	db := databases(t)[abi.SQLDriverSQLite]
	s := sqldb.NewSession(db, nil)
	defer s.End(ctx)
	rec := rows(kv, []int64{1}, []string{"a"})
	defer rec.Release()
	for _, tc := range []struct {
		req  abi.SQLLoadRequest
		want string
	}{
		{abi.SQLLoadRequest{Encodings: []string{"text"}}, "1 encodings for rows of 2 columns"},
		{abi.SQLLoadRequest{Encodings: []string{"text", "xml"}}, `column "name": unknown encoding "xml"`},
		{abi.SQLLoadRequest{Encodings: []string{"time_text", ""}}, `column "id": encoding time_text needs a timestamp`},
		{abi.SQLLoadRequest{LastOfKeys: []int{2}}, "last_of_keys: no column 2"},
	} {
		tc.req.Batch, tc.req.Method, tc.req.SQL = true, abi.SQLLoadRows, "INSERT INTO t VALUES (?, ?)"
		err := s.LoadRecords(ctx, tc.req, kv, []arrow.RecordBatch{rec})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one saying %q", tc.req, err, tc.want)
		}
	}
	if err := s.LoadBegin(ctx, abi.SQLLoadRequest{Batch: true, Method: abi.SQLLoadRows, SQL: "INSERT INTO t VALUES (?, ?)"}); err == nil || !strings.Contains(err.Error(), "has none") {
		t.Errorf("a batch load without a write's records: error %v", err)
	}
}
