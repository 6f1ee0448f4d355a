//go:build wasip1

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

const (
	defaultBatchTimeout = 10 * time.Second
	// DefaultMaxBodyBytes is the host's held-body bound: requests up to it
	// are retried by the host.
	DefaultMaxBodyBytes = 8 << 20
	// excerptBytes is how much of a refusing server's answer an error quotes.
	excerptBytes = 512
	// Content types of the two formats.
	contentTypeJSON  = "application/x-ndjson"
	contentTypeArrow = "application/vnd.apache.arrow.stream"
	// TableHeader names the table of a request's rows.
	TableHeader = "X-Wasmdest-Table"
)

// spec is the guest's spec (spec.schema.json), without the http key.
type spec struct {
	URL          string            `json:"url"`
	Format       string            `json:"format"`
	Method       string            `json:"method"`
	Headers      map[string]string `json:"headers"`
	MaxBodyBytes int64             `json:"max_body_bytes"`
}

type destination struct {
	spec spec
	// urls are the expanded URL of each table.
	urls    map[string]string
	scratch []byte
}

// credentialHeaders are header fields that carry credentials: they belong
// in the host's http.auth.
var credentialHeaders = []string{"authorization", "proxy-authorization", "cookie"}

func (d *destination) Init(_ context.Context, req abi.InitRequest) error {
	switch req.WriteMode {
	case abi.WriteModeAppend, "":
	default:
		return fmt.Errorf("write_mode %q is not supported by the webhook destination: it delivers rows and never rewrites or deletes them; set write_mode to %q", req.WriteMode, abi.WriteModeAppend)
	}
	s := spec{Format: "json", Method: "POST", MaxBodyBytes: DefaultMaxBodyBytes}
	if err := json.Unmarshal(req.Spec, &s); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if s.URL == "" {
		return errors.New("spec: url is required: where to POST each batch")
	}
	if s.Format != "json" && s.Format != "arrow" {
		return fmt.Errorf("spec: format %q: want json (JSON Lines) or arrow (Arrow IPC stream)", s.Format)
	}
	s.Method = strings.ToUpper(s.Method)
	if s.MaxBodyBytes < 1024 {
		return fmt.Errorf("spec: max_body_bytes %d: want at least 1024", s.MaxBodyBytes)
	}
	for name := range s.Headers {
		for _, c := range credentialHeaders {
			if strings.EqualFold(name, c) {
				return fmt.Errorf("spec: headers.%s: credentials go in http.auth (bearer, basic, header), where the host adds them and keeps them secret", name)
			}
		}
	}
	d.spec = s
	d.urls = map[string]string{}
	d.scratch = make([]byte, 256<<10)
	return nil
}

func (d *destination) Close(context.Context) error { return nil }

// urlOf expands the spec's url for table.
func (d *destination) urlOf(table string) (string, error) {
	if u, ok := d.urls[table]; ok {
		return u, nil
	}
	u, err := sdk.Expand(abi.ExpandRequest{Template: d.spec.URL, Table: table, Format: d.spec.Format})
	if err != nil {
		return "", fmt.Errorf("url: %w", err)
	}
	d.urls[table] = u
	return u, nil
}

// Write sends the batch as one or more requests of whole rows, each at
// most max_body_bytes.
func (d *destination) Write(_ context.Context, table string, records array.RecordReader) error {
	u, err := d.urlOf(table)
	if err != nil {
		return fmt.Errorf("table %s: %w", table, err)
	}
	s := &sender{d: d, table: table, url: u}
	if d.spec.Format == "arrow" {
		err = s.writeArrow(records)
	} else {
		err = s.writeJSON()
	}
	if err != nil {
		if s.sent > 0 {
			return fmt.Errorf("table %s: %w (%d rows of this batch were delivered in %d requests before)", table, err, s.sent, s.requests)
		}
		return fmt.Errorf("table %s: %w", table, err)
	}
	sdk.Debug("batch delivered", "table", table, "rows", s.sent, "requests", s.requests)
	return nil
}

// sender sends one batch.
type sender struct {
	d     *destination
	table string
	url   string
	// sent rows in requests so far.
	sent, requests int64
}

// writeJSON has the host encode the batch as JSON Lines by reference and
// cuts the lines into bodies.
func (s *sender) writeJSON() error {
	enc, err := sdk.CodecOpen(abi.CodecFormat{Format: "json"}, nil, "")
	if err != nil {
		return err
	}
	defer enc.Close()
	if _, err := enc.WriteBatch(); err != nil {
		return err
	}
	if err := enc.Finish(); err != nil {
		return err
	}
	lines := &lineSplitter{max: int(s.d.spec.MaxBodyBytes), send: s.send}
	if _, err := enc.Drain(lines, s.d.scratch); err != nil {
		return err
	}
	return lines.end()
}

// lineSplitter gathers whole lines (rows) into bodies of at most max bytes
// and sends each full one.
type lineSplitter struct {
	max  int
	body []byte
	rows int64
	// line is the unfinished last line.
	line []byte
	send func(body []byte, rows int64, contentType string) error
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.line = append(l.line, p...)
			if len(l.line) > l.max {
				return 0, l.tooBig(len(l.line))
			}
			return n, nil
		}
		l.line = append(l.line, p[:i+1]...)
		p = p[i+1:]
		if err := l.add(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (l *lineSplitter) tooBig(size int) error {
	return fmt.Errorf("row %d of the batch encodes to %d bytes or more, over max_body_bytes %d: raise max_body_bytes", l.rows+1, size, l.max)
}

// add adds the finished line to the body, sending the body first if the
// line would not fit.
func (l *lineSplitter) add() error {
	if len(l.line) > l.max {
		return l.tooBig(len(l.line))
	}
	if len(l.body)+len(l.line) > l.max {
		if err := l.flush(); err != nil {
			return err
		}
	}
	l.body = append(l.body, l.line...)
	l.rows++
	l.line = l.line[:0]
	return nil
}

func (l *lineSplitter) flush() error {
	if l.rows == 0 {
		return nil
	}
	err := l.send(l.body, l.rows, contentTypeJSON)
	l.body, l.rows = l.body[:0], 0
	return err
}

// end sends what is left.
func (l *lineSplitter) end() error {
	if len(l.line) > 0 {
		// The encoder ends every row with a newline: keep a last row
		// without one anyway.
		l.line = append(l.line, '\n')
		if err := l.add(); err != nil {
			return err
		}
	}
	return l.flush()
}

// writeArrow sends the batch's records as Arrow IPC streams of at most
// max_body_bytes each: as many rows per stream as fit, found by halving.
func (s *sender) writeArrow(records array.RecordReader) error {
	max := s.d.spec.MaxBodyBytes
	var buf bytes.Buffer
	encode := func(rec arrow.RecordBatch) error {
		buf.Reset()
		w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
		if err := w.Write(rec); err != nil {
			return err
		}
		return w.Close()
	}
	rows := int64(0) // rows per request that fit last time; 0: try all
	for records.Next() {
		rec := records.RecordBatch()
		for off := int64(0); off < rec.NumRows(); {
			n := rec.NumRows() - off
			if rows > 0 {
				n = min(n, rows*2)
			}
			for {
				part := rec.NewSlice(off, off+n)
				err := encode(part)
				part.Release()
				if err != nil {
					return fmt.Errorf("encode rows as Arrow IPC: %w", err)
				}
				if int64(buf.Len()) <= max {
					break
				}
				if n == 1 {
					return fmt.Errorf("row %d of the batch encodes to %d bytes as an Arrow IPC stream, over max_body_bytes %d: raise max_body_bytes", s.sent+1, buf.Len(), max)
				}
				n = (n + 1) / 2
			}
			if err := s.send(buf.Bytes(), n, contentTypeArrow); err != nil {
				return err
			}
			rows = n
			off += n
		}
	}
	return records.Err()
}

// send sends one body of rows rows and checks the answer: any 2xx is a
// delivery; anything else (after the host's retries) is an error quoting
// the status and the start of the server's answer.
func (s *sender) send(body []byte, rows int64, contentType string) error {
	h := abi.HTTPHeader{}
	for k, v := range s.d.spec.Headers {
		h[k] = []string{v}
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = []string{contentType}
	}
	h[TableHeader] = []string{s.table}
	req := abi.HTTPRequest{Method: s.d.spec.Method, URL: s.url, Header: h, ContentLength: int64(len(body))}
	what := fmt.Sprintf("%s %s (rows %d-%d of the batch, %d bytes)", s.d.spec.Method, redact(s.url), s.sent+1, s.sent+rows, len(body))
	r, err := sdk.HTTPOpen(req)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.Write(body); err != nil {
		return err
	}
	resp, err := r.Send()
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes+1))
		more := ""
		if len(excerpt) > excerptBytes {
			excerpt, more = excerpt[:excerptBytes], " ..."
		}
		return fmt.Errorf("%s: the server answered %d: %q%s", what, resp.Status, excerpt, more)
	}
	// Read a little of the answer so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	s.sent += rows
	s.requests++
	return nil
}

// redact drops a URL's userinfo and query from what errors show.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
