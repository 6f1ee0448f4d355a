package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/batch"
)

// DoPut streams one table into an open sync. The descriptor is a PATH
// [SYNC, TABLE] (TABLE may be left out when the schema's cq:table_name
// names it). The stream ends with one PutResult whose app_metadata is a
// PutResult JSON, once every batch was written.
func (s *Server) DoPut(stream flight.FlightService_DoPutServer) (err error) {
	ctx := stream.Context()
	t := tenantFrom(ctx)
	defer func() {
		if err != nil {
			err = s.fail(t, err)
		}
	}()
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "DoPut: %v", err)
	}
	if d := first.GetFlightDescriptor(); d != nil && d.Type == flight.DescriptorCMD {
		return s.deployPut(stream, t, first)
	}
	rdr, err := flight.NewRecordReader(&replayFirst{first: first, rest: stream}, ipc.WithMetadataSizeLimit(abi.MaxMetadataBytes), ipc.WithBodySizeLimit(int64(s.opts.MaxMessageBytes)))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "DoPut: %v", err)
	}
	// The input releases the reader when syncer closes it; until then, and
	// on every way out before, release it here.
	handed := false
	defer func() {
		if !handed {
			rdr.Release()
		}
	}()
	desc := rdr.LatestFlightDescriptor()
	if desc == nil || desc.Type != flight.DescriptorPATH || len(desc.Path) < 1 || len(desc.Path) > 2 {
		return status.Error(codes.InvalidArgument, "DoPut needs a PATH descriptor [SYNC, TABLE] (TABLE optional when the schema has cq:table_name)")
	}
	sy, err := s.lookup(t, desc.Path[0])
	if err != nil {
		return err
	}
	sc := rdr.Schema()
	table, ok := sc.Metadata().GetValue(abi.MetaTableName)
	if !ok || table == "" {
		if len(desc.Path) < 2 || desc.Path[1] == "" {
			return status.Error(codes.InvalidArgument, "the table has no name: put it in the descriptor PATH [SYNC, TABLE] or the schema's cq:table_name")
		}
		table = desc.Path[1]
	} else if len(desc.Path) == 2 && desc.Path[1] != "" && desc.Path[1] != table {
		return status.Errorf(codes.InvalidArgument, "descriptor names table %q but the schema's cq:table_name is %q", desc.Path[1], table)
	}
	// Register the stream before waiting for a slot, so that finish waits for it.
	sy.mu.Lock()
	if sy.closing {
		sy.mu.Unlock()
		return status.Errorf(codes.FailedPrecondition, "sync %q is finishing", sy.handle)
	}
	sy.active++
	sy.streams.Add(1)
	sy.mu.Unlock()
	defer func() {
		sy.mu.Lock()
		sy.active--
		sy.idle = time.Now()
		sy.mu.Unlock()
		sy.streams.Done()
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sy.ctx, cancel)
	defer stop()

	name := t.cfg.Name
	s.metrics.streams.WithLabelValues(name, "waiting").Inc()
	err = s.penalty.wait(sctx, name)
	var release func()
	if err == nil {
		release, err = s.sched.acquire(sctx, name, sy.gen.cfg.MaxConcurrentWrites)
	}
	s.metrics.streams.WithLabelValues(name, "waiting").Dec()
	if err != nil {
		return status.FromContextError(err).Err()
	}
	defer release()
	s.metrics.streams.WithLabelValues(name, "running").Inc()
	defer s.metrics.streams.WithLabelValues(name, "running").Dec()

	guest := sy.dests[0].Guest.Name()
	in := &flightInput{table: arrowio.Table{Name: table, Schema: sc}, rdr: rdr, gen: sy.gen,
		rows: s.metrics.rows.WithLabelValues(name, guest), bytes: s.metrics.bytes.WithLabelValues(name, guest),
		records: s.metrics.records.WithLabelValues(name, guest), done: make(chan struct{})}
	in.table.PrimaryKeys, in.table.Unique = arrowtypes.PrimaryKeys(sc), arrowtypes.UniqueColumns(sc)
	handed = true
	err = sy.sess.Stream(sctx, in)
	if err != nil {
		// syncer's reading goroutine may still wait in Recv: it ends when
		// the handler has returned (gRPC then ends the stream) and releases
		// the reader then.
		if sy.ctx.Err() != nil && ctx.Err() == nil {
			return status.Errorf(codes.Aborted, "sync %q was aborted", sy.handle)
		}
		return err
	}
	<-in.done
	meta, _ := json.Marshal(PutResult{Table: table, Rows: in.nrows, Bytes: in.nbytes, Records: in.nrecords})
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}

// replayFirst gives the message DoPut looked at first, then the rest.
type replayFirst struct {
	first *flight.FlightData
	rest  flight.DataStreamReader
}

func (r *replayFirst) Recv() (*flight.FlightData, error) {
	if f := r.first; f != nil {
		r.first = nil
		return f, nil
	}
	return r.rest.Recv()
}

// fail maps an error to a gRPC status for the client, counts it, and says
// clearly that the batch was not written.
func (s *Server) fail(t *tenant, err error) error {
	st := statusOf(err)
	name := ""
	if t != nil {
		name = t.cfg.Name
	}
	s.metrics.streamErrors.WithLabelValues(name, st.Code().String()).Inc()
	return st.Err()
}

func statusOf(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	var ce *host.CallError
	if errors.As(err, &ce) {
		switch errorKind(err) {
		case "timeout":
			return status.New(codes.DeadlineExceeded, err.Error()+" (the guest call ran past the tenant's call_timeout; the batch was not written)")
		case "oom":
			return status.New(codes.ResourceExhausted, err.Error()+" (the guest ran out of the tenant's memory_limit_mib; the batch was not written)")
		}
		return status.New(codes.Aborted, err.Error())
	}
	if errors.Is(err, context.Canceled) {
		return status.New(codes.Canceled, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	return status.New(codes.FailedPrecondition, err.Error())
}

// flightInput is a syncer.Input fed by a DoPut stream: records as the client
// sends them, throttled by the tenant's rows and bytes per minute.
type flightInput struct {
	table                   arrowio.Table
	rdr                     *flight.Reader
	gen                     *tenant
	rows, bytes, records    interface{ Add(float64) }
	nrows, nbytes, nrecords int64
	once                    sync.Once
	done                    chan struct{}
}

func (f *flightInput) Table() arrowio.Table { return f.table }

func (f *flightInput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !f.rdr.Next() {
		if err := f.rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("table %q: reading the stream: %w", f.table.Name, err)
		}
		return nil, io.EOF
	}
	rec := f.rdr.RecordBatch()
	if !rec.Schema().Equal(f.table.Schema) {
		return nil, fmt.Errorf("table %q: a record's schema differs from the stream's", f.table.Name)
	}
	rec.Retain()
	n, size := rec.NumRows(), batch.RecordSize(rec)
	if err := f.gen.rows.take(ctx, n); err != nil {
		rec.Release()
		return nil, err
	}
	if err := f.gen.bytes.take(ctx, size); err != nil {
		rec.Release()
		return nil, err
	}
	f.nrows += n
	f.nbytes += size
	f.nrecords++
	f.rows.Add(float64(n))
	f.bytes.Add(float64(size))
	f.records.Add(1)
	return rec, nil
}

func (f *flightInput) Close() error {
	f.once.Do(func() {
		f.rdr.Release()
		close(f.done)
	})
	return nil
}
