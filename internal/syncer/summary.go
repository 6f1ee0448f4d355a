package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/version"
)

// SummaryTable is the table send_sync_summary writes to.
const SummaryTable = "cloudquery_sync_summaries"

func summarySchema() *arrow.Schema {
	js := arrowtypes.NewJSONType()
	str, i64 := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	return arrow.NewSchema([]arrow.Field{
		f("cli_version", str), f("destination_errors", i64), f("destination_name", str),
		f("destination_path", str), f("destination_version", str), f("destination_warnings", i64),
		f("resources", i64), f("source_errors", i64), f("source_name", str), f("source_path", str),
		f("source_version", str), f("source_warnings", i64), f("source_tables", arrow.ListOf(str)),
		f("sync_id", str), f("sync_duration_ms", i64), f("shard_num", i64), f("shard_total", i64),
		f("resources_per_table", js), f("errors_per_table", js), f("durations_per_table_ms", js),
	}, ptr(arrow.NewMetadata([]string{abi.MetaTableName}, []string{SummaryTable})))
}

// summaryInput is a one-record Input.
type summaryInput struct {
	table arrowio.Table
	rec   arrow.RecordBatch
}

func (s *summaryInput) Table() arrowio.Table { return s.table }
func (s *summaryInput) Close() error {
	if s.rec != nil {
		s.rec.Release()
		s.rec = nil
	}
	return nil
}
func (s *summaryInput) Next(context.Context) (arrow.RecordBatch, error) {
	if s.rec == nil {
		return nil, io.EOF
	}
	r := s.rec
	s.rec = nil
	return r, nil
}

// sendSummaries writes one row per destination that asks for it, through
// the same guest, as every other table (planned, migrated, batched). A
// destination holding rows that are durable only when it finishes gets its
// row in Finish instead (lateSummary).
func (s *Sync) sendSummaries(ctx context.Context, inputs []Input) error {
	var tables []string
	for _, in := range inputs {
		tables = append(tables, in.Table().Name)
	}
	s.summaryTables = tables
	for _, d := range s.dests {
		if !d.Config.SendSyncSummary {
			continue
		}
		if s.holds(d) {
			s.deferredSummaries = append(s.deferredSummaries, d)
			continue
		}
		if err := s.sendSummary(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// sendSummary writes destination d's summary row through d.Pool.
func (s *Sync) sendSummary(ctx context.Context, d *Destination) error {
	in := s.summaryRecord(d, s.summaryTables)
	// Summaries accumulate, one row per sync: whatever the destination's
	// write mode, this table is appended to and never deleted from.
	appendOnly := *d
	appendOnly.Config.WriteMode = abi.WriteModeAppend
	targets, err := s.plan(ctx, []Input{in}, []*Destination{&appendOnly})
	if err != nil {
		in.Close()
		return fmt.Errorf("sync summary: %w", err)
	}
	if err := s.copyInput(ctx, in, targets[SummaryTable]); err != nil {
		return fmt.Errorf("sync summary: %w", err)
	}
	return nil
}

// lateSummary writes d's summary after its pool finished, through a fresh
// pool of the same guest and configuration, and finishes that pool.
func (s *Sync) lateSummary(ctx context.Context, d *Destination) error {
	pool, err := d.Guest.NewPool(d.poolConfig)
	if err != nil {
		return fmt.Errorf("sync summary: %w", err)
	}
	late := *d
	late.Pool = pool
	err = s.sendSummary(ctx, &late)
	if cerr := pool.Close(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("sync summary: finish: %w", cerr))
	}
	s.settleHeld(&late, err)
	return err
}

func (s *Sync) summaryRecord(d *Destination, tables []string) *summaryInput {
	sc := summarySchema()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	var rows, errs int64
	perTable, errTable := map[string]int64{}, map[string]int64{}
	for _, st := range s.Stats() {
		if st.Destination != d.Name {
			continue
		}
		rows += st.Rows
		perTable[st.Table] = st.Rows
		if st.Err != nil {
			errs++
			errTable[st.Table]++
		}
	}
	str := func(i int, v string) { b.Field(i).(*array.StringBuilder).Append(v) }
	num := func(i int, v int64) { b.Field(i).(*array.Int64Builder).Append(v) }
	js := func(i int, v any) {
		raw, _ := json.Marshal(v)
		b.Field(i).(*arrowtypes.JSONBuilder).AppendRaw(raw)
	}
	str(0, version.String())
	num(1, errs)
	str(2, d.Name)
	str(3, d.guestSourcePath)
	str(4, d.Guest.Manifest().Version)
	num(5, 0)
	num(6, rows)
	num(7, 0)
	str(8, s.env.SourceName)
	str(9, "")
	str(10, "")
	num(11, 0)
	lb := b.Field(12).(*array.ListBuilder)
	lb.Append(true)
	for _, t := range tables {
		lb.ValueBuilder().(*array.StringBuilder).Append(t)
	}
	str(13, s.env.SyncID)
	num(14, time.Since(s.start).Milliseconds())
	num(15, 0)
	num(16, 1)
	js(17, perTable)
	js(18, errTable)
	js(19, map[string]int64{})
	return &summaryInput{table: arrowio.Table{Name: SummaryTable, Schema: sc}, rec: b.NewRecordBatch()}
}
