package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// Client is a small Go client of `wasmdest serve`: plain Arrow Flight calls
// with the bearer token in every request's metadata. Any Flight client can
// do the same (docs/serve.md).
type Client struct {
	fc    flight.Client
	token string
}

// Dial connects to a server at addr (host:port) with a tenant's token. The
// connection is plaintext: put TLS in front, or pass grpc.WithTransportCredentials
// in opts.
func Dial(addr, token string, opts ...grpc.DialOption) (*Client, error) {
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(DefaultMaxMessageBytes))}, opts...)
	fc, err := flight.NewClientWithMiddleware(addr, nil, nil, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{fc: fc, token: token}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.fc.Close() }

func (c *Client) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
}

func (c *Client) action(ctx context.Context, typ string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	stream, err := c.fc.DoAction(c.ctx(ctx), &flight.Action{Type: typ, Body: body})
	if err != nil {
		return err
	}
	res, err := stream.Recv()
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	return json.Unmarshal(res.Body, resp)
}

// Begin begins a sync into one of the tenant's destinations.
func (c *Client) Begin(ctx context.Context, req BeginRequest) (*BeginResult, error) {
	var res BeginResult
	if err := c.action(ctx, ActionBegin, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Finish finishes a sync and returns its summary.
func (c *Client) Finish(ctx context.Context, sync string) (*Summary, error) {
	var res Summary
	if err := c.action(ctx, ActionFinish, SyncRequest{Sync: sync}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Abort aborts a sync.
func (c *Client) Abort(ctx context.Context, sync string) error {
	var res Summary
	return c.action(ctx, ActionAbort, SyncRequest{Sync: sync}, &res)
}

// Put streams records of one table into a sync: one DoPut with descriptor
// PATH [sync, table]. It returns once the server wrote every batch, or with
// the server's error.
func (c *Client) Put(ctx context.Context, sync, table string, schema *arrow.Schema, recs ...arrow.RecordBatch) (*PutResult, error) {
	stream, err := c.fc.DoPut(c.ctx(ctx))
	if err != nil {
		return nil, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{sync, table}})
	var sendErr error
	for _, r := range recs {
		if sendErr = w.Write(r); sendErr != nil {
			break
		}
	}
	if sendErr == nil {
		sendErr = w.Close()
	}
	if err := stream.CloseSend(); err != nil && sendErr == nil {
		sendErr = err
	}
	// The server's status says more than a failed Send (io.EOF).
	var res PutResult
	got := false
	for {
		pr, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(pr.AppMetadata, &res); err != nil {
			return nil, fmt.Errorf("put result: %w", err)
		}
		got = true
	}
	if sendErr != nil {
		return nil, sendErr
	}
	if !got {
		return nil, errors.New("server ended the stream without a result")
	}
	return &res, nil
}
