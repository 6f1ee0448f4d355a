package cqplugin

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/cqplugin/pb"
)

// Read streams a table's stored rows back, one record per message (an
// Arrow IPC stream of the table's schema and one record batch), through the
// guest's read operation. It is how CloudQuery's destination tests read.
func (s *Server) Read(req *pb.Read_Request, stream pb.Plugin_ReadServer) error {
	d, err := s.configured()
	if err != nil {
		return err
	}
	t, err := decodeTable(req.GetTable(), "Read: table")
	if err != nil {
		return err
	}
	if !s.guest.HasFeature(abi.FeatureRead) {
		return status.Errorf(codes.Unimplemented, "guest %s cannot read tables back (its manifest lacks the %q feature)", s.guest.Name(), abi.FeatureRead)
	}
	ctx := stream.Context()
	od, _, err := s.open(ctx, d)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	defer od.Close()
	defer od.Pool.Close(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := od.Pool.Call(ctx, nil, abi.OpRead, abi.TableRequest{Table: t.Name}, host.RecordBody(t.Schema), pw)
		pw.CloseWithError(err)
		done <- err
	}()
	sendErr := s.sendRecords(pr, t.Schema, stream)
	pr.CloseWithError(errors.New("reader stopped"))
	callErr := <-done
	if callErr != nil {
		return status.Errorf(codes.Aborted, "read table %q: %v", t.Name, callErr)
	}
	if sendErr != nil {
		return status.Errorf(codes.Aborted, "read table %q: %v", t.Name, sendErr)
	}
	return nil
}

// sendRecords decodes the guest's output and sends each record, in the
// table's schema, as its own message.
func (s *Server) sendRecords(r io.Reader, sc *arrow.Schema, stream pb.Plugin_ReadServer) error {
	_, recs, err := host.ReadRecords(r)
	if err != nil {
		return fmt.Errorf("the guest's output: %w", err)
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	for _, rec := range recs {
		if rec.NumRows() == 0 {
			continue
		}
		out := rec
		if rec.Schema().Equal(sc) || sameColumns(rec.Schema(), sc) {
			out = array.NewRecordBatch(sc, rec.Columns(), rec.NumRows())
		} else {
			out.Retain()
		}
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(out.Schema()))
		err := w.Write(out)
		if err == nil {
			err = w.Close()
		}
		out.Release()
		if err != nil {
			return err
		}
		if err := stream.Send(&pb.Read_Response{Record: buf.Bytes()}); err != nil {
			return err
		}
	}
	return nil
}

// sameColumns reports whether a and b have the same column names and types.
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}
