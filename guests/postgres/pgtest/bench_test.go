//go:build !wasip1

package pgtest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// benchRows is the number of rows per benchmark operation; set
// WASMDEST_BENCH_ROWS to change it.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("WASMDEST_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200000
}

// benchBatch is the host's default batch_size for PostgreSQL.
const benchBatch = 10000

// benchSchema is the CloudQuery-shaped table of docs/background.md
// ("Loading PostgreSQL from Go").
func benchSchema() *arrow.Schema {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"bench"})
	return arrow.NewSchema([]arrow.Field{
		field(abi.ColID, arrowtypes.NewUUIDType(), false, abi.MetaUnique, abi.MetaTrue),
		field(abi.ColParentID, arrowtypes.NewUUIDType(), true),
		field("id", arrow.BinaryTypes.String, false, abi.MetaPrimaryKey, abi.MetaTrue),
		field("name", arrow.BinaryTypes.String, true),
		field("count", arrow.PrimitiveTypes.Int64, true),
		field("ratio", arrow.PrimitiveTypes.Float64, true),
		field("created_at", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, true),
		field("tags", arrow.ListOf(arrow.BinaryTypes.String), true),
		field("attrs", arrowtypes.NewJSONType(), true),
		field("active", arrow.FixedWidthTypes.Boolean, true),
	}, &md)
}

// benchData is the same rows as Arrow batches (as the host sends them) and
// as Go values for pgx.
type benchData struct {
	recs []arrow.RecordBatch
	rows [][]any
	cols []string
}

func makeBenchData(b *testing.B, n int, o schema.Options) benchData {
	s := benchSchema()
	var d benchData
	created := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for from := 0; from < n; from += benchBatch {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for i := from; i < min(from+benchBatch, n); i++ {
			cq, parent := uuid.New(), uuid.New()
			id := fmt.Sprintf("resource-%014d", i)
			name := fmt.Sprintf("name of thing %07d", i)
			tags := []string{"alpha-" + strconv.Itoa(i%7), "beta-" + strconv.Itoa(i%11), "gamma"}
			attrs := fmt.Sprintf(`{"region": "eu-west-%d", "size": %d, "enabled": true}`, i%3, i%1000)
			at := created.Add(time.Duration(i) * time.Second)
			rb.Field(0).(*arrowtypes.UUIDBuilder).Append(cq)
			rb.Field(1).(*arrowtypes.UUIDBuilder).Append(parent)
			rb.Field(2).(*array.StringBuilder).Append(id)
			rb.Field(3).(*array.StringBuilder).Append(name)
			rb.Field(4).(*array.Int64Builder).Append(int64(i))
			rb.Field(5).(*array.Float64Builder).Append(float64(i) / 3)
			rb.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
			lb := rb.Field(7).(*array.ListBuilder)
			lb.Append(true)
			for _, tg := range tags {
				lb.ValueBuilder().(*array.StringBuilder).Append(tg)
			}
			if err := rb.Field(8).(*arrowtypes.JSONBuilder).AppendRaw([]byte(attrs)); err != nil {
				b.Fatal(err)
			}
			rb.Field(9).(*array.BooleanBuilder).Append(i%2 == 0)
			// pgx's own UUID type: google/uuid goes through fmt in pgx.
			d.rows = append(d.rows, []any{o.SyncTime, o.SourceName, pgtype.UUID{Bytes: cq, Valid: true}, pgtype.UUID{Bytes: parent, Valid: true},
				id, name, int64(i), float64(i) / 3, at, tags, attrs, i%2 == 0})
		}
		d.recs = append(d.recs, withInternal(b, rb.NewRecordBatch(), o))
		rb.Release()
	}
	for _, f := range d.recs[0].Schema().Fields() {
		d.cols = append(d.cols, f.Name)
	}
	return d
}

// BenchmarkWrite compares the guest's appends and upserts, batch by batch
// through the host as a sync would send them, with pgx's CopyFrom of the
// same rows, batch by batch, into the same table, in the same run.
//
//	go test ./guests/postgres/pgtest -run '^$' -bench BenchmarkWrite -benchtime 1x
func BenchmarkWrite(b *testing.B) {
	n := benchRows()
	for _, mode := range []abi.WriteMode{abi.WriteModeAppend, abi.WriteModeOverwrite} {
		b.Run(string(mode), func(b *testing.B) {
			e := newEnv(b, envConfig{opts: optsFor(mode)})
			d := makeBenchData(b, n, e.opts)
			e.mustMigrate(d.recs[0].Schema(), abi.MigrateModeSafe)
			truncate := func() {
				for _, sql := range []string{"TRUNCATE bench", "CHECKPOINT"} {
					if _, err := e.raw.Exec(e.ctx, sql); err != nil {
						b.Fatal(err)
					}
				}
			}
			var guest, guestAgain, raw time.Duration
			for b.Loop() {
				truncate()
				start := time.Now()
				for _, r := range d.recs {
					e.mustWrite(r)
				}
				guest += time.Since(start)
				if mode == abi.WriteModeOverwrite {
					// Every key exists now: all rows are updates.
					start = time.Now()
					for _, r := range d.recs {
						e.mustWrite(r)
					}
					guestAgain += time.Since(start)
				}
				if got := e.count("bench"); got != int64(n) {
					b.Fatalf("%d rows written, want %d", got, n)
				}
				truncate()
				start = time.Now()
				for from := 0; from < n; from += benchBatch {
					rows := d.rows[from:min(from+benchBatch, n)]
					if _, err := e.raw.CopyFrom(e.ctx, pgx.Identifier{"bench"}, d.cols, pgx.CopyFromRows(rows)); err != nil {
						b.Fatal(err)
					}
				}
				raw += time.Since(start)
			}
			rate := func(d time.Duration) float64 { return float64(n*b.N) / d.Seconds() }
			b.ReportMetric(rate(guest), "guest-rows/s")
			b.ReportMetric(rate(raw), "pgx-rows/s")
			b.ReportMetric(rate(guest)/rate(raw), "guest/pgx")
			if mode == abi.WriteModeOverwrite {
				b.ReportMetric(rate(guestAgain), "guest-update-rows/s")
				b.ReportMetric(rate(guestAgain)/rate(raw), "update/pgx")
			}
		})
	}
}
