package cqplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/cqplugin/pb"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// Limits bound one table or record message as arrowio bounds any input.
var Limits = arrowio.Limits{MaxMetadataBytes: 16 << 20, MaxBodyBytes: MaxMessageBytes}

// Write runs one sync: the messages of the stream, in order, then every
// batch flushed before it returns. Any failure fails the stream with a
// status naming the message and the table; what was written before stays
// written, in whole batches.
func (s *Server) Write(stream pb.Plugin_WriteServer) error {
	d, err := s.configured()
	if err != nil {
		return err
	}
	if !s.writing.TryLock() {
		return status.Error(codes.FailedPrecondition, "a Write stream is already running: one sync at a time")
	}
	defer s.writing.Unlock()
	ctx := stream.Context()
	od, env, err := s.open(ctx, d)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	// Batches received whole are written even when the client goes away:
	// the streams run on their own context, ended by the writer.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	w := &writer{s: s, sess: syncer.NewSession(env, []*syncer.Destination{od}), ctx: sctx,
		tables: map[string]*tableStream{}, migrated: map[string]*arrow.Schema{}}
	s.log.Info("sync started", "sync_id", env.SyncID)
	err = w.run(stream)
	err = errors.Join(err, w.sess.Finish(sctx, false))
	w.logStats()
	if err != nil {
		s.log.Error("sync failed", "error", err)
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Errorf(codes.Aborted, "%v", err)
	}
	s.log.Info("sync finished", "sync_id", env.SyncID)
	return stream.SendAndClose(&pb.Write_Response{})
}

// writer is the state of one Write stream.
type writer struct {
	s    *Server
	sess *syncer.Session
	ctx  context.Context
	// tables holds each table's running stream into the session.
	tables map[string]*tableStream
	// migrated is the schema each table was migrated with.
	migrated map[string]*arrow.Schema
	// pending are migrate_table messages not yet planned.
	pending []arrowio.Table
	forced  []bool
	n       int // messages received
}

func (w *writer) run(stream pb.Plugin_WriteServer) error {
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if err := w.migratePending(); err != nil {
				return errors.Join(err, w.endAll(nil))
			}
			return w.endAll(nil)
		}
		if err != nil {
			broken := fmt.Errorf("the Write stream broke after %d messages; the sync is incomplete (batches received whole were written): %w", w.n, err)
			return errors.Join(status.Error(codes.Canceled, broken.Error()), w.endAll(broken))
		}
		w.n++
		if err := w.handle(msg); err != nil {
			return errors.Join(err, w.endAll(fmt.Errorf("the sync failed at message %d", w.n)))
		}
	}
}

// handle runs one message.
func (w *writer) handle(msg *pb.Write_Request) error {
	if m := msg.GetMigrateTable(); m != nil {
		t, err := decodeTable(m.GetTable(), fmt.Sprintf("Write message %d (migrate_table): table", w.n))
		if err != nil {
			return err
		}
		// A table migrated again mid-sync: its batches so far go first.
		if err := w.end(t.Name, nil); err != nil {
			return err
		}
		for i, p := range w.pending {
			if p.Name == t.Name {
				w.pending = append(w.pending[:i], w.pending[i+1:]...)
				w.forced = append(w.forced[:i], w.forced[i+1:]...)
				break
			}
		}
		w.pending = append(w.pending, t)
		w.forced = append(w.forced, m.GetMigrateForce())
		return nil
	}
	if err := w.migratePending(); err != nil {
		return err
	}
	switch {
	case msg.GetInsert() != nil:
		return w.insert(msg.GetInsert().GetRecord())
	case msg.GetDelete() != nil:
		m := msg.GetDelete()
		table := m.GetTableName()
		if table == "" {
			t, err := decodeTable(m.GetTable(), fmt.Sprintf("Write message %d (delete): table", w.n))
			if err != nil {
				return err
			}
			table = t.Name
		}
		if m.GetSyncTime() == nil {
			return status.Errorf(codes.InvalidArgument, "Write message %d (delete): table %q: no sync_time: delete-stale needs the sync's time", w.n, table)
		}
		if err := w.end(table, nil); err != nil {
			return err
		}
		if err := w.sess.DeleteStale(w.ctx, table, m.GetSourceName(), m.GetSyncTime().AsTime()); err != nil {
			return status.Errorf(codes.FailedPrecondition, "Write message %d (delete): %v", w.n, err)
		}
		return nil
	case msg.GetDeleteRecord() != nil:
		return w.deleteRecord(msg.GetDeleteRecord())
	}
	return status.Errorf(codes.InvalidArgument, "Write message %d: empty or unknown message (want migrate_table, insert, delete or delete_record)", w.n)
}

// migratePending plans and migrates the migrate_table messages received
// since the last other message, all as one.
func (w *writer) migratePending() error {
	if len(w.pending) == 0 {
		return nil
	}
	tables, forced := w.pending, w.forced
	w.pending, w.forced = nil, nil
	if err := w.sess.Migrate(w.ctx, tables, forced); err != nil {
		code := codes.FailedPrecondition
		var ue *migrate.UnsafeError
		if !errors.As(err, &ue) {
			code = codes.Aborted
		}
		return status.Errorf(code, "migrate_table (messages up to %d): %v", w.n-1, err)
	}
	for _, t := range tables {
		w.migrated[t.Name] = t.Schema
	}
	return nil
}

// insert hands a record to its table's stream, starting it when needed.
func (w *writer) insert(b []byte) error {
	what := fmt.Sprintf("Write message %d (insert): record", w.n)
	rd, err := arrowio.NewReader(what, bytes.NewReader(b), Limits)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	defer rd.Close()
	t := rd.Table()
	if t.Name == "" || t.Schema.Metadata().FindKey(abi.MetaTableName) < 0 {
		return status.Errorf(codes.InvalidArgument, "%s: the schema has no cq:table_name metadata", what)
	}
	ts := w.tables[t.Name]
	if ts == nil {
		if sc := w.migrated[t.Name]; sc != nil {
			t.Schema = sc
		} else {
			w.s.log.Warn("insert into a table that was not migrated in this sync: planning it in migrate_mode safe", "table", t.Name)
		}
		ts = w.start(t)
	}
	for {
		rec, err := rd.Next(w.ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "%v", err)
		}
		if err := ts.send(w.ctx, rec); err != nil {
			return status.Errorf(codes.Aborted, "Write message %d (insert): %v", w.n, err)
		}
	}
}

// start starts a table's stream into the session.
func (w *writer) start(t arrowio.Table) *tableStream {
	ts := &tableStream{in: &streamInput{table: t, recs: make(chan arrow.RecordBatch), end: make(chan struct{})}, done: make(chan struct{})}
	w.tables[t.Name] = ts
	go func() {
		defer close(ts.done)
		ts.err = w.sess.Stream(w.ctx, ts.in)
	}()
	return ts
}

// end ends a table's stream, if running: every batch is written (or, with
// broken, what was received before it) and its error returned.
func (w *writer) end(table string, broken error) error {
	ts := w.tables[table]
	if ts == nil {
		return nil
	}
	delete(w.tables, table)
	ts.in.finish(broken)
	<-ts.done
	if ts.err != nil && !errors.Is(ts.err, broken) {
		return fmt.Errorf("table %q: %w", table, ts.err)
	}
	return nil
}

// endAll ends every table's stream.
func (w *writer) endAll(broken error) error {
	var errs []error
	for name := range w.tables {
		if err := w.end(name, broken); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *writer) logStats() {
	for _, st := range w.sess.Stats() {
		args := []any{"table", st.Table, "rows", st.Rows, "batches", st.Batches}
		if st.Migration != "" {
			args = append(args, "migration", st.Migration)
		}
		if st.DeletedStale {
			args = append(args, "deleted_stale", true)
		}
		if st.Err != nil {
			args = append(args, "error", st.Err.Error())
		}
		w.s.log.Info("table written", args...)
	}
}

// decodeTable decodes a table message: an Arrow IPC stream holding a schema
// with cq:table_name.
func decodeTable(b []byte, what string) (arrowio.Table, error) {
	rd, err := arrowio.NewReader(what, bytes.NewReader(b), Limits)
	if err != nil {
		return arrowio.Table{}, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	defer rd.Close()
	t := rd.Table()
	if t.Schema.Metadata().FindKey(abi.MetaTableName) < 0 {
		return t, status.Errorf(codes.InvalidArgument, "%s: the schema has no cq:table_name metadata", what)
	}
	return t, nil
}

// tableStream is one table's stream into the session.
type tableStream struct {
	in   *streamInput
	done chan struct{}
	err  error // set before done is closed
}

// send hands rec to the stream, waiting while the stream is busy (which,
// through gRPC's flow control, holds the client back). It takes rec.
func (ts *tableStream) send(ctx context.Context, rec arrow.RecordBatch) error {
	select {
	case ts.in.recs <- rec:
		return nil
	case <-ts.done:
		rec.Release()
		if ts.err != nil {
			return ts.err
		}
		return errors.New("the table's stream ended")
	case <-ctx.Done():
		rec.Release()
		return ctx.Err()
	}
}

// streamInput is the syncer.Input of one table's stream: the records of
// its insert messages, until the writer ends it.
type streamInput struct {
	table arrowio.Table
	recs  chan arrow.RecordBatch
	end   chan struct{}
	once  sync.Once
	// broken, set before end is closed, is the error the input ends with
	// (nil: a normal end).
	broken error
}

func (in *streamInput) finish(broken error) {
	in.once.Do(func() {
		in.broken = broken
		close(in.end)
	})
}

// Table returns the table streamed.
func (in *streamInput) Table() arrowio.Table { return in.table }

// Next returns the next record of the table's insert messages.
func (in *streamInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	select {
	case rec := <-in.recs:
		return rec, nil
	case <-in.end:
		if in.broken != nil {
			return nil, in.broken
		}
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close ends the input; the writer's sends then see the stream done.
func (in *streamInput) Close() error { return nil }

// deleteRecord runs a delete_record message once every batch of its table
// (and of its child tables) is written.
func (w *writer) deleteRecord(m *pb.Write_MessageDeleteRecord) error {
	what := fmt.Sprintf("Write message %d (delete_record)", w.n)
	if m.GetTableName() == "" {
		return status.Errorf(codes.InvalidArgument, "%s: no table_name", what)
	}
	req := abi.DeleteRecordRequest{Table: m.GetTableName()}
	for gi, g := range m.GetWhereClause() {
		pg := abi.PredicateGroup{Grouping: abi.GroupingAnd}
		if g.GetGroupingType() == pb.PredicatesGroup_OR {
			pg.Grouping = abi.GroupingOr
		}
		for pi, p := range g.GetPredicates() {
			if p.GetOperator() != pb.Predicate_EQ {
				return status.Errorf(codes.InvalidArgument, "%s: where_clause %d, predicate %d: operator %v is not EQ", what, gi, pi, p.GetOperator())
			}
			vals, err := predicateValues(p, fmt.Sprintf("%s: where_clause %d, predicate %d: record", what, gi, pi))
			if err != nil {
				return err
			}
			pg.Predicates = append(pg.Predicates, abi.Predicate{Column: p.GetColumn(), Operator: abi.OperatorEq, Values: vals})
		}
		req.Where = append(req.Where, pg)
	}
	for _, r := range m.GetTableRelations() {
		req.Relations = append(req.Relations, abi.TableRelation{Table: r.GetTableName(), Parent: r.GetParentTable()})
	}
	if err := w.end(req.Table, nil); err != nil {
		return err
	}
	for _, r := range req.Relations {
		if err := w.end(r.Table, nil); err != nil {
			return err
		}
	}
	if err := w.sess.DeleteRecord(w.ctx, req); err != nil {
		return status.Errorf(codes.FailedPrecondition, "%s: %v", what, err)
	}
	return nil
}

// predicateValues renders the values of a predicate's record, the column of
// its name (or its only column), as text.
func predicateValues(p *pb.Predicate, what string) ([]*string, error) {
	rd, err := arrowio.NewReader(what, bytes.NewReader(p.GetRecord()), Limits)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	defer rd.Close()
	var vals []*string
	for {
		rec, err := rd.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		col := -1
		if idx := rec.Schema().FieldIndices(p.GetColumn()); len(idx) == 1 {
			col = idx[0]
		} else if rec.NumCols() == 1 {
			col = 0
		}
		if col < 0 {
			rec.Release()
			return nil, status.Errorf(codes.InvalidArgument, "%s: no column %q", what, p.GetColumn())
		}
		a := rec.Column(col)
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				vals = append(vals, nil)
				continue
			}
			v := a.ValueStr(i)
			vals = append(vals, &v)
		}
		rec.Release()
	}
}
