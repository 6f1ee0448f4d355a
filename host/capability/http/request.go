package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
)

// state is where a request is in its life.
type state int

const (
	stOpen      state = iota // taking body bytes, holding them
	stStreaming              // sending, the body streamed as it comes
	stSent                   // the response head is in
	stClosed
)

// request is one handle: a request and, once sent, its response.
type request struct {
	c      *client
	method string
	u      *url.URL
	// where names the request in errors: "http PUT https://host/path".
	where  string
	header nethttp.Header
	// length is the body's announced length, or -1.
	length int64
	st     state
	// held is the body while it is at most MaxHeldBody.
	held    bytes.Buffer
	written int64
	// slot is true while the request holds a concurrency slot.
	slot bool

	// Streaming: the body goes through pw to the request running on its
	// own goroutine, which reports in done.
	pw   *io.PipeWriter
	done chan struct{}
	// result of the streamed request, valid once done is closed.
	sresp *nethttp.Response
	serr  error
	// cancel aborts the streamed request; bodyDone is closed when its
	// body has ended (its timeout runs from then).
	cancel   context.CancelFunc
	bodyDone chan struct{}

	resp *nethttp.Response
	// eof is true once the response body was read to its end.
	eof bool
	// readBytes counts the response body bytes the guest read.
	readBytes int64
}

func (r *request) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", r.where, fmt.Sprintf(format, args...))
}

func (r *request) wrap(err error) error {
	return fmt.Errorf("%s: %w", r.where, err)
}

// open checks a guest's request: method, URL against the allowlist,
// headers. Nothing is sent yet.
func (c *client) open(req abi.HTTPRequest) (*request, error) {
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = "GET"
	}
	where := fmt.Sprintf("http %s", method)
	for _, r := range method {
		if !(r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return nil, fmt.Errorf("%s: method %q is not an HTTP method", where, req.Method)
		}
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		// url's errors quote the URL: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: bad URL: %v", where, err)
	}
	if !u.IsAbs() {
		return nil, fmt.Errorf("%s %s: the URL must be absolute (scheme, host, path)", where, redact(u))
	}
	where += " " + redact(u)
	o, err := originOf(u)
	if err != nil {
		return nil, &hostError{where: where, err: &RefusedError{Reason: err.Error()}}
	}
	if !allows(c.cfg.Allow, o) {
		return nil, &hostError{where: where, err: &RefusedError{Reason: fmt.Sprintf("origin %s is not allowed (allow: %s)", o, originList(c.cfg.Allow))}}
	}
	u.Fragment, u.RawFragment = "", ""
	h := nethttp.Header{}
	for k, vs := range req.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if err := c.signer.checkHeader(h); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	length := req.ContentLength
	if length <= 0 {
		length = -1
	}
	return &request{c: c, method: method, u: u, where: where, header: h, length: length}, nil
}

// hostError keeps a refusal reachable with errors.As behind its context.
type hostError struct {
	where string
	err   error
}

func (e *hostError) Error() string { return e.where + ": " + e.err.Error() }
func (e *hostError) Unwrap() error { return e.err }

// newRequest is the *http.Request of r, without a body, in ctx.
func (r *request) newRequest(ctx context.Context) (*nethttp.Request, error) {
	hr, err := nethttp.NewRequestWithContext(ctx, r.method, r.u.String(), nil)
	if err != nil {
		return nil, r.wrap(err)
	}
	hr.Header = r.header.Clone()
	return hr, nil
}

// write appends p to the body: held while the body is at most
// MaxHeldBody, streamed from then on.
func (r *request) write(ctx context.Context, p []byte) error {
	switch r.st {
	case stOpen, stStreaming:
	default:
		return r.errorf("write after http_send or http_close")
	}
	if r.length >= 0 && r.written+int64(len(p)) > r.length {
		return r.errorf("the body is longer than its content_length %d", r.length)
	}
	if max := r.c.cfg.MaxRequestBytes; max > 0 && r.written+int64(len(p)) > max {
		return r.errorf("the body is longer than the operator's limit of %d bytes per request", max)
	}
	r.written += int64(len(p))
	if r.st == stOpen {
		if r.held.Len()+len(p) <= MaxHeldBody {
			r.held.Write(p)
			return nil
		}
		if err := r.startStream(ctx); err != nil {
			return err
		}
	}
	if _, err := r.pw.Write(p); err != nil {
		return r.streamError(err)
	}
	return nil
}

// startStream starts sending the request with a streamed body: what is
// held first, then what the guest writes. It is sent once, never retried.
func (r *request) startStream(ctx context.Context) error {
	if err := r.c.acquire(ctx); err != nil {
		return r.wrap(err)
	}
	r.slot = true
	sctx, cancel := context.WithCancel(ctx)
	hr, err := r.newRequest(context.WithValue(sctx, payloadKey{}, UnsignedPayload))
	if err != nil {
		cancel()
		return err
	}
	pr, pw := io.Pipe()
	held := bytes.NewReader(r.held.Bytes())
	r.held = bytes.Buffer{}
	hr.Body = io.NopCloser(io.MultiReader(held, pr))
	hr.ContentLength = r.length
	r.pw, r.done, r.cancel, r.bodyDone, r.st = pw, make(chan struct{}), cancel, make(chan struct{}), stStreaming
	r.c.log.Debug("http request body streamed (longer than the held bound: sent once, not retried)", "method", r.method, "url", redact(r.u))
	go func() {
		defer close(r.done)
		resp, err := r.c.attempt(sctx, hr, r.bodyDone)
		r.sresp, r.serr = resp, err
		// The server answered (or the request failed) before the whole
		// body was sent: stop the guest's writes.
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(fmt.Errorf("the server answered with status %d before the whole body was sent", resp.StatusCode))
		}
	}()
	return nil
}

// streamError is the error of a failed write of a streamed body: the
// request's own when it ended.
func (r *request) streamError(err error) error {
	<-r.done
	if r.serr != nil {
		return r.wrap(r.serr)
	}
	return r.wrap(err)
}

// send ends the body and waits for the response head.
func (r *request) send(ctx context.Context) (*abi.HTTPResponse, error) {
	switch r.st {
	case stOpen:
		if r.length >= 0 && r.written != r.length {
			return nil, r.errorf("the body is %d bytes, not its content_length %d", r.written, r.length)
		}
		if err := r.c.acquire(ctx); err != nil {
			return nil, r.wrap(err)
		}
		r.slot = true
		hr, err := r.newRequest(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := r.c.do(ctx, hr, r.held.Bytes())
		r.held = bytes.Buffer{}
		if err != nil {
			return nil, r.wrap(err)
		}
		r.resp = resp
	case stStreaming:
		if r.length >= 0 && r.written != r.length {
			r.pw.CloseWithError(errors.New("the body ended short of its content_length"))
			<-r.done
			return nil, r.errorf("the body is %d bytes, not its content_length %d", r.written, r.length)
		}
		r.pw.Close()
		close(r.bodyDone)
		select {
		case <-r.done:
		case <-ctx.Done():
			r.cancel()
			<-r.done
		}
		if r.serr != nil {
			return nil, r.wrap(r.serr)
		}
		r.resp = r.sresp
	default:
		return nil, r.errorf("http_send after http_send or http_close")
	}
	r.st = stSent
	r.c.log.Debug("http response", "method", r.method, "url", redact(r.u), "status", r.resp.StatusCode)
	return &abi.HTTPResponse{Status: r.resp.StatusCode, Header: abi.HTTPHeader(r.resp.Header), ContentLength: r.resp.ContentLength}, nil
}

// read copies response body bytes into p.
func (r *request) read(p []byte) (int, error) {
	if r.st != stSent {
		return 0, r.errorf("http_read before http_send, or after http_close")
	}
	if r.eof || len(p) == 0 {
		return 0, nil
	}
	if max := r.c.cfg.MaxResponseBytes; max > 0 {
		if r.readBytes >= max {
			// At the cap: only the body's end may follow.
			var one [1]byte
			if n, err := io.ReadFull(r.resp.Body, one[:]); n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				r.eof = true
				r.releaseSlot()
				return 0, nil
			}
			return 0, r.errorf("the response body is longer than the operator's limit of %d bytes per response", max)
		}
		p = p[:min(int64(len(p)), max-r.readBytes)]
	}
	for {
		n, err := r.resp.Body.Read(p)
		r.readBytes += int64(n)
		if err == io.EOF {
			r.eof = true
			r.releaseSlot()
			return n, nil
		}
		if err != nil {
			return n, r.errorf("read the response body: %v", unwrapURLError(context.Background(), err))
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *request) releaseSlot() {
	if r.slot {
		r.slot = false
		r.c.release()
	}
}

// close releases everything the request holds and aborts it if in flight.
func (r *request) close() {
	switch r.st {
	case stStreaming:
		r.cancel()
		r.pw.CloseWithError(errors.New("request closed"))
		<-r.done
		if r.sresp != nil {
			r.sresp.Body.Close()
		}
	case stSent:
		r.resp.Body.Close()
		if r.cancel != nil {
			r.cancel()
		}
	}
	r.held = bytes.Buffer{}
	r.st = stClosed
	r.releaseSlot()
}
