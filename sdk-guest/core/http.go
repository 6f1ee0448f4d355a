package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wasmdest/wasmdest/abi"
)

// The http capability (abi.CapHTTP, ABI 1.4): outbound HTTP under the
// host's control. The host allows only the origins the destination's
// configuration lists, adds the credentials itself (the guest never sees
// them) and retries where it may. A guest using it lists abi.CapHTTP in its
// manifest. Requests never outlive the operation that opened them.

// HTTPRequest is one HTTP request being sent through the host, opened with
// HTTPOpen. Write its body (if any), Send it, read the response's Body,
// and Close it. It is not safe for concurrent use.
type HTTPRequest struct {
	h      int64
	sent   bool
	closed bool
}

// HTTPResponse is the response to an HTTPRequest.
type HTTPResponse struct {
	// Status is the HTTP status code, e.g. 200.
	Status int
	// Header is the response's header fields (Header.Get ignores case).
	Header abi.HTTPHeader
	// ContentLength is the body's length when the server gave it, or -1.
	ContentLength int64
	// Body reads the response body from the host; it ends with io.EOF.
	Body io.Reader
}

// HTTPOpen opens req: the host checks its URL against the allowlist (a
// refused origin is an error here, before any connection) and returns the
// request, whose body the guest then writes.
func HTTPOpen(req abi.HTTPRequest) (*HTTPRequest, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	h, err := httpCount(httpOpen(b))
	if err != nil {
		return nil, err
	}
	return &HTTPRequest{h: h}, nil
}

// Write appends p to the request's body. The host streams large bodies on
// as they come, so a guest can send any size in chunks.
func (r *HTTPRequest) Write(p []byte) (int, error) {
	if r.sent || r.closed {
		return 0, errors.New("http: write after send or close")
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := httpCount(httpWrite(r.h, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Send ends the body and returns the response head. Any status is a
// success here: the caller decides what a 4xx or 5xx means (the host has
// retried 429 and 5xx where it could). Read the body from the response's
// Body, then Close the request.
func (r *HTTPRequest) Send() (*HTTPResponse, error) {
	if r.sent || r.closed {
		return nil, errors.New("http: send after send or close")
	}
	r.sent = true
	b, err := httpSend(r.h)
	if err != nil {
		return nil, err
	}
	var resp abi.HTTPResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("http: the host's response head: %w", err)
	}
	return &HTTPResponse{Status: resp.Status, Header: resp.Header, ContentLength: resp.ContentLength, Body: httpBody{r}}, nil
}

// Close releases the request and its response, aborting it if it is in
// flight. Closing twice is a no-op.
func (r *HTTPRequest) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	_, err := httpCount(httpClose(r.h))
	return err
}

// httpBody reads a response body from the host.
type httpBody struct{ r *HTTPRequest }

func (b httpBody) Read(p []byte) (int, error) {
	if b.r.closed {
		return 0, errors.New("http: read after close")
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := httpCount(httpRead(b.r.h, p))
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

// HTTPDo sends req with body (nil: none) and returns the response with its
// whole body read, up to maxBody bytes (more is an error; 0 means 1 MiB).
// For small requests and responses; stream large ones with HTTPOpen.
func HTTPDo(req abi.HTTPRequest, body io.Reader, maxBody int64) (*HTTPResponse, []byte, error) {
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	r, err := HTTPOpen(req)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	if body != nil {
		if _, err := io.Copy(r, body); err != nil {
			return nil, nil, err
		}
	}
	resp, err := r.Send()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp, nil, err
	}
	if int64(len(data)) > maxBody {
		return resp, nil, fmt.Errorf("http %s %s: response body is longer than %d bytes", req.Method, req.URL, maxBody)
	}
	return resp, data, nil
}
