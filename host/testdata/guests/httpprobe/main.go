//go:build wasip1

// Command httpprobe is a test guest for the http host functions: a read of
// table T runs the script T holds (JSON: a list of requests) and returns
// one row per request, a column "result" holding what the guest saw (the
// response's status, header and body, or the error) as JSON. Requests a
// step marks leave_open are left for the host to close at the operation's
// end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

func init() {
	sdk.Register(abi.Manifest{
		Name: "httpprobe", Version: "v0.0.1",
		Capabilities: []abi.Capability{abi.CapHTTP},
		SpecSchema:   json.RawMessage(`{"type":"object"}`),
	}, &probe{})
}

func main() {}

type probe struct{ init abi.InitRequest }

func (p *probe) Init(_ context.Context, req abi.InitRequest) error { p.init = req; return nil }
func (p *probe) Close(context.Context) error                       { return nil }

func (p *probe) Write(context.Context, string, array.RecordReader) error {
	return errors.New("httpprobe: use read")
}

// step is one request of a script.
type step struct {
	abi.HTTPRequest
	// Body is sent as it is; BodySize bytes of a pattern are sent in
	// chunks of Chunk bytes (default 64 KiB) instead when > 0.
	Body     string `json:"body,omitempty"`
	BodySize int64  `json:"body_size,omitempty"`
	Chunk    int    `json:"chunk,omitempty"`
	// LeaveOpen leaves the request open, unread, for the host to close.
	LeaveOpen bool `json:"leave_open,omitempty"`
	// Spec returns the spec the guest got in init instead of a request.
	Spec bool `json:"spec,omitempty"`
}

// result is what the guest saw of one step.
type result struct {
	Stage   string         `json:"stage,omitempty"`
	Error   string         `json:"error,omitempty"`
	Status  int            `json:"status,omitempty"`
	Header  abi.HTTPHeader `json:"header,omitempty"`
	Body    string         `json:"body,omitempty"`
	BodyLen int64          `json:"body_len"`
	Spec    string         `json:"spec,omitempty"`
}

func (p *probe) Read(_ context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	var script []step
	if err := json.Unmarshal([]byte(table), &script); err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	col := b.Field(0).(*array.StringBuilder)
	for _, s := range script {
		res := run(s)
		if s.Spec {
			res.Spec = string(p.init.Spec)
		}
		out, _ := json.Marshal(res)
		col.Append(string(out))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return emit(rec)
}

func run(s step) result {
	if s.Spec {
		return result{}
	}
	r, err := sdk.HTTPOpen(s.HTTPRequest)
	if err != nil {
		return result{Stage: "open", Error: err.Error()}
	}
	if !s.LeaveOpen {
		defer r.Close()
	}
	if s.Body != "" {
		if _, err := io.WriteString(r, s.Body); err != nil {
			return result{Stage: "write", Error: err.Error()}
		}
	}
	if s.BodySize > 0 {
		chunk := s.Chunk
		if chunk <= 0 {
			chunk = 64 << 10
		}
		buf := make([]byte, chunk)
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		for left := s.BodySize; left > 0; {
			n := min(left, int64(len(buf)))
			if _, err := r.Write(buf[:n]); err != nil {
				return result{Stage: "write", Error: err.Error()}
			}
			left -= n
		}
	}
	resp, err := r.Send()
	if err != nil {
		return result{Stage: "send", Error: err.Error()}
	}
	res := result{Status: resp.Status, Header: resp.Header}
	if s.LeaveOpen {
		return res
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if len(res.Body) < 1<<20 {
			res.Body += string(buf[:n])
		}
		res.BodyLen += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Stage, res.Error = "read", err.Error()
			break
		}
	}
	return res
}
