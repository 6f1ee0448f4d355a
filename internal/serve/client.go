package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

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
	opts  []grpc.DialOption

	mu     sync.Mutex
	routes map[string]*Client // by location, for ForSync
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
	return &Client{fc: fc, token: token, opts: opts}, nil
}

// Close closes the connection, and those ForSync opened.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.routes {
		r.Close()
	}
	c.routes = nil
	return c.fc.Close()
}

// ForSync returns the client to use for a sync's calls: GetFlightInfo on
// PATH [SYNC] names the replica that owns it (any replica answers), and
// calls go there; c itself when the server gives no location (one replica)
// or the location is where c is connected. Connections are kept.
func (c *Client) ForSync(ctx context.Context, sync string) (*Client, error) {
	info, err := c.fc.GetFlightInfo(c.ctx(ctx), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{sync}})
	if err != nil {
		return nil, err
	}
	if len(info.Endpoint) == 0 || len(info.Endpoint[0].Location) == 0 {
		return c, nil
	}
	loc := info.Endpoint[0].Location[0].Uri
	addr, ok := strings.CutPrefix(loc, "grpc+tcp://")
	if !ok {
		addr, ok = strings.CutPrefix(loc, "grpc://")
	}
	if !ok {
		return nil, fmt.Errorf("sync %s lives at %s, which is not a grpc+tcp:// location", sync, loc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.routes[addr]; r != nil {
		return r, nil
	}
	r, err := Dial(addr, c.token, c.opts...)
	if err != nil {
		return nil, err
	}
	if c.routes == nil {
		c.routes = map[string]*Client{}
	}
	c.routes[addr] = r
	return r, nil
}

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
	p, err := c.OpenPut(ctx, sync, table, schema)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := p.Write(r); err != nil {
			break // Close says why
		}
	}
	return p.Close()
}

// PutStream is one table's DoPut in progress, for a producer that writes
// records as it makes them.
type PutStream struct {
	stream  flight.FlightService_DoPutClient
	w       *flight.Writer
	sendErr error
}

// OpenPut begins a DoPut of one table into a sync; Write records, then Close.
func (c *Client) OpenPut(ctx context.Context, sync, table string, schema *arrow.Schema) (*PutStream, error) {
	stream, err := c.fc.DoPut(c.ctx(ctx))
	if err != nil {
		return nil, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{sync, table}})
	return &PutStream{stream: stream, w: w}, nil
}

// Write sends one record.
func (p *PutStream) Write(r arrow.RecordBatch) error {
	if p.sendErr == nil {
		p.sendErr = p.w.Write(r)
	}
	return p.sendErr
}

// Close ends the stream and returns once the server wrote every batch, or
// with the server's error.
func (p *PutStream) Close() (*PutResult, error) {
	sendErr := p.sendErr
	if sendErr == nil {
		sendErr = p.w.Close()
	}
	if err := p.stream.CloseSend(); err != nil && sendErr == nil {
		sendErr = err
	}
	// The server's status says more than a failed Send (io.EOF).
	var res PutResult
	got := false
	for {
		pr, err := p.stream.Recv()
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

// deployChunk is how many module bytes one message of a deploy carries.
const deployChunk = 1 << 20

// Deploy uploads a guest module under name: one DoPut with descriptor CMD
// {"deploy": NAME}, the module in the messages' data_body. It returns the
// server's verdict once the module is validated and stored.
func (c *Client) Deploy(ctx context.Context, name string, wasm []byte) (*DeployResult, error) {
	stream, err := c.fc.DoPut(c.ctx(ctx))
	if err != nil {
		return nil, err
	}
	cmd, _ := json.Marshal(deployCommand{Deploy: name})
	var sendErr error
	for i := 0; i == 0 || i < len(wasm); i += deployChunk {
		msg := &flight.FlightData{DataBody: wasm[i:min(i+deployChunk, len(wasm))]}
		if i == 0 {
			msg.FlightDescriptor = &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd}
		}
		if sendErr = stream.Send(msg); sendErr != nil {
			break // the server refused; its status says why
		}
	}
	if err := stream.CloseSend(); err != nil && sendErr == nil {
		sendErr = err
	}
	pr, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) && sendErr != nil {
			return nil, sendErr
		}
		return nil, err
	}
	var res DeployResult
	if err := json.Unmarshal(pr.AppMetadata, &res); err != nil {
		return nil, fmt.Errorf("deploy result: %w", err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	return &res, nil
}

// Guests lists the tenant's deployed guests.
func (c *Client) Guests(ctx context.Context) ([]GuestRef, error) {
	var res []GuestRef
	err := c.action(ctx, ActionListGuests, struct{}{}, &res)
	return res, err
}

// DescribeGuest returns a deployed guest's hash and verdict.
func (c *Client) DescribeGuest(ctx context.Context, name string) (*DescribeResult, error) {
	var res DescribeResult
	if err := c.action(ctx, ActionDescribeGuest, GuestRequest{Name: name}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// DeleteGuest deletes a deployed guest; syncs running it finish on it.
func (c *Client) DeleteGuest(ctx context.Context, name string) error {
	var res GuestRef
	return c.action(ctx, ActionDeleteGuest, GuestRequest{Name: name}, &res)
}

// RollbackGuest makes a deployed guest's previous version current again
// and returns the reference as it is now.
func (c *Client) RollbackGuest(ctx context.Context, name string) (*GuestRef, error) {
	var res GuestRef
	if err := c.action(ctx, ActionRollbackGuest, GuestRequest{Name: name}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
