package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	nethttp "net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// MaxHeldBody is how much of a request's body the host holds in memory:
// a body up to this size is sent whole (with its length, its SigV4 hash)
// and can be retried; a longer one is streamed as the guest writes it and
// sent once.
const MaxHeldBody = 8 << 20

// MaxRedirects bounds the redirects one request follows.
const MaxRedirects = 10

// Backoff of retries: the first wait, the longest, and the longest
// Retry-After the host waits for.
const (
	BackoffBase     = 500 * time.Millisecond
	BackoffMax      = 10 * time.Second
	MaxRetryAfter   = 30 * time.Second
	drainOnRetry    = 64 << 10
	emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// client sends one destination's requests: its allowlist, its credentials,
// its transport, its concurrency limit.
type client struct {
	cfg    Config
	signer *signer
	http   *nethttp.Client
	// slots holds one token per request in flight (cfg.MaxConcurrency).
	slots chan struct{}
	log   hclog.Logger
	// backoff returns the wait before retry n (1-based); tests may
	// shorten it.
	backoff func(n int) time.Duration
}

func newClient(ctx context.Context, cfg Config, log hclog.Logger) (*client, error) {
	s, err := newSigner(ctx, cfg.Auth)
	if err != nil {
		return nil, err
	}
	c := &client{cfg: cfg, signer: s, slots: make(chan struct{}, cfg.MaxConcurrency), log: log, backoff: backoff}
	c.http = &nethttp.Client{
		Transport: &signingTransport{base: newTransport(cfg), signer: s},
		CheckRedirect: func(req *nethttp.Request, via []*nethttp.Request) error {
			if len(via) >= MaxRedirects {
				return &RefusedError{Reason: fmt.Sprintf("stopped after %d redirects", MaxRedirects)}
			}
			o, err := originOf(req.URL)
			if err != nil {
				return &RefusedError{Reason: fmt.Sprintf("redirect to %s: %v", redact(req.URL), err)}
			}
			if !allows(cfg.Allow, o) {
				return &RefusedError{Reason: fmt.Sprintf("redirect to %s: origin %s is not allowed (allow: %s)", redact(req.URL), o, originList(cfg.Allow))}
			}
			return nil
		},
	}
	return c, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// backoff is exponential from BackoffBase, at most BackoffMax, with jitter
// (between half and all of it).
func backoff(n int) time.Duration {
	d := BackoffBase << min(n-1, 10)
	d = min(d, BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// acquire takes a concurrency slot, waiting at most cfg.Timeout within ctx.
func (c *client) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("waited %s (http.timeout) for one of the destination's %d request slots (http.max_concurrency): close finished requests, or raise it", c.cfg.Timeout, cap(c.slots))
	case <-ctx.Done():
		return fmt.Errorf("waiting for one of the destination's %d request slots (http.max_concurrency): %w", cap(c.slots), context.Cause(ctx))
	}
}

func (c *client) release() { <-c.slots }

// payloadKey carries a request's SigV4 payload hash to the transport.
type payloadKey struct{}

// signingTransport adds the destination's credentials to every request it
// sends, redirects included (each is signed anew).
type signingTransport struct {
	base   nethttp.RoundTripper
	signer *signer
}

func (t *signingTransport) RoundTrip(r *nethttp.Request) (*nethttp.Response, error) {
	hash, _ := r.Context().Value(payloadKey{}).(string)
	if r.Body == nil || r.Body == nethttp.NoBody {
		hash = emptyBodySHA256
	}
	if hash == "" {
		hash = UnsignedPayload
	}
	r = r.Clone(r.Context())
	if err := t.signer.sign(r.Context(), r, hash); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(r)
}

// redact writes u without userinfo, query and fragment: what errors and
// logs show of a URL.
func redact(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	return v.String()
}

// idempotent reports whether a request of method may be repeated after a
// failure that left its outcome unknown.
func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// retryStatus reports whether a response status asks for a retry.
func retryStatus(code int) bool {
	return code == nethttp.StatusTooManyRequests || code >= 500 && code <= 599 && code != nethttp.StatusNotImplemented && code != nethttp.StatusHTTPVersionNotSupported
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
// ok is false when there is none or it asks for more than MaxRetryAfter.
func retryAfter(h nethttp.Header, now time.Time) (d time.Duration, present, ok bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false, true
	}
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := nethttp.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false, true
	}
	d = max(d, 0)
	return d, true, d <= MaxRetryAfter
}

// do sends a request with a held body (nil: none) and returns the response
// head, retrying as ABI.md says: up to cfg.MaxRetries times, for 429 and
// 5xx responses and, for idempotent methods, for failures before a
// response. A refusal is never retried. timeout bounds each attempt up to
// its response head; the response's body is read within ctx.
func (c *client) do(ctx context.Context, base *nethttp.Request, body []byte) (*nethttp.Response, error) {
	hash := emptyBodySHA256
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	ctx = context.WithValue(ctx, payloadKey{}, hash)
	for attempt := 0; ; attempt++ {
		r := base.Clone(ctx)
		r.ContentLength = int64(len(body))
		if len(body) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		} else {
			r.Body, r.GetBody = nethttp.NoBody, func() (io.ReadCloser, error) { return nethttp.NoBody, nil }
		}
		resp, err := c.attempt(ctx, r, nil)
		last := attempt >= c.cfg.MaxRetries
		var wait time.Duration
		switch {
		case err != nil:
			var re *RefusedError
			if last || errors.As(err, &re) || !idempotent(r.Method) || ctx.Err() != nil {
				return nil, err
			}
			c.log.Debug("http request failed, retrying", "method", r.Method, "url", redact(r.URL), "attempt", attempt+1, "error", err)
			wait = c.backoff(attempt + 1)
		case retryStatus(resp.StatusCode) && !last:
			d, present, ok := retryAfter(resp.Header, time.Now())
			if !ok {
				return resp, nil // the server asks for a longer wait than we give
			}
			wait = c.backoff(attempt + 1)
			if present {
				wait = d
			}
			c.log.Debug("http response asks for a retry", "method", r.Method, "url", redact(r.URL), "status", resp.StatusCode, "attempt", attempt+1, "wait", wait)
			io.Copy(io.Discard, io.LimitReader(resp.Body, drainOnRetry))
			resp.Body.Close()
		default:
			return resp, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				err = fmt.Errorf("gave up retrying (status %d): %w", resp.StatusCode, context.Cause(ctx))
			}
			return nil, err
		}
	}
}

// errAttemptTimeout is the cause of an attempt stopped at cfg.Timeout.
var errAttemptTimeout = errors.New("timed out")

// attempt sends r once, giving it cfg.Timeout up to the response head;
// with a non-nil bodyDone (a streamed body, whose pace is the guest's),
// from when bodyDone is closed.
func (c *client) attempt(ctx context.Context, r *nethttp.Request, bodyDone <-chan struct{}) (*nethttp.Response, error) {
	actx, cancel := context.WithCancelCause(ctx)
	expire := func() {
		cancel(fmt.Errorf("%w after %s waiting for the response (http.timeout)", errAttemptTimeout, c.cfg.Timeout))
	}
	var (
		mu       sync.Mutex
		timer    *time.Timer
		answered bool
	)
	arm := func() {
		mu.Lock()
		defer mu.Unlock()
		if !answered {
			timer = time.AfterFunc(c.cfg.Timeout, expire)
		}
	}
	if bodyDone == nil {
		arm()
	} else {
		go func() {
			select {
			case <-bodyDone:
				arm()
			case <-actx.Done():
			}
		}()
	}
	resp, err := c.http.Do(r.WithContext(actx))
	mu.Lock()
	answered = true
	// Not expired: never armed (answered before the body ended), or
	// stopped before it fired.
	stopped := timer == nil || timer.Stop()
	mu.Unlock()
	if err != nil {
		cancel(nil)
		return nil, unwrapURLError(actx, err)
	}
	if !stopped {
		resp.Body.Close()
		cancel(nil)
		return nil, context.Cause(actx)
	}
	// The response body is read within ctx: release the attempt's context
	// when it is closed.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// unwrapURLError drops net/http's *url.Error, whose message quotes the
// whole URL (query included), and says when the attempt timed out.
func unwrapURLError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, errAttemptTimeout) {
		return cause
	}
	return err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
