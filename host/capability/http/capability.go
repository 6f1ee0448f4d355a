// Package http is the http capability of the host (abi.CapHTTP, ABI 1.4):
// outbound HTTP for guests under the host's control.
//
// A destination's spec key "http" (a secret: the guest never sees it)
// lists the origins its requests may reach, whether private addresses may
// be reached, and the credentials the host adds (bearer, basic, a header,
// or AWS Signature V4 signed in the host). The allowlist is checked when
// the guest opens a request, on every redirect, and, for the address, on
// every connection after DNS resolution (dial.go): so names resolving to
// loopback, odd IP literals and DNS rebinding never reach a refused
// address. Bodies up to MaxHeldBody are held, sent with their length and
// retried; longer ones stream through a pipe as the guest writes them and
// are sent once. Requests never outlive the operation that opened them.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
)

// MaxHandles caps the requests one operation may hold open at once.
const MaxHandles = 256

type capability struct{}

// Capability returns the http capability.
func Capability() host.Capability { return capability{} }

func (capability) Name() abi.Capability { return abi.CapHTTP }

func (capability) Functions() []host.Function {
	return []host.Function{
		{Name: abi.ImportHTTPOpen, Fn: httpOpen},
		{Name: abi.ImportHTTPWrite, Fn: httpWrite},
		{Name: abi.ImportHTTPSend, Fn: httpSend},
		{Name: abi.ImportHTTPRead, Fn: httpRead},
		{Name: abi.ImportHTTPClose, Fn: httpClose},
	}
}

func (capability) SecretKeys() []string { return []string{SpecKey} }

func (capability) Describe() string {
	return "http_* host functions: outbound HTTP only to the origins of the spec's http.allow (checked again after DNS on every connection: no loopback, link-local or private address unless http.allow_private), with credentials the host adds (http.auth: bearer, basic, header, aws_sigv4; the whole http key is secret), streamed bodies, retries with backoff, a per-destination concurrency limit; requests are aborted when an operation ends"
}

// Open reads the destination's http configuration (ParseConfig) and
// prepares its client. It connects nowhere.
func (capability) Open(ctx context.Context, req host.OpenRequest) (host.Grant, error) {
	cfg, err := ParseConfig(req.Spec)
	if err != nil {
		return nil, fmt.Errorf("destination %q: http: %w", req.Destination, err)
	}
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return NewGrant(ctx, cfg, log.Named("http"))
}

// NewGrant grants the http capability with cfg.
func NewGrant(ctx context.Context, cfg Config, log hclog.Logger) (host.Grant, error) {
	if cfg.MaxConcurrency < 1 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c, err := newClient(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &grant{c: c}, nil
}

type grant struct{ c *client }

func (g *grant) Capability() host.Capability { return capability{} }

func (g *grant) ConfigureInstance(mc wazero.ModuleConfig, _ hclog.Logger) wazero.ModuleConfig {
	return mc
}

func (g *grant) Begin(*host.Call) host.Session {
	return &session{c: g.c, reqs: map[int64]*request{}}
}

func (g *grant) Close() error {
	g.c.close()
	return nil
}

// handles numbers requests across sessions, so that a handle of one
// operation is never valid in another.
var handles atomic.Int64

// session is one operation's requests.
type session struct {
	c    *client
	mu   sync.Mutex
	reqs map[int64]*request
}

// End closes every request the guest left open, aborting those in flight.
func (s *session) End(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, r := range s.reqs {
		if r.st != stClosed {
			s.c.log.Debug("closed a request the guest left open", "method", r.method, "url", redact(r.u))
		}
		r.close()
		delete(s.reqs, h)
	}
}

func sessionOf(c *host.Call) *session { return c.Session().(*session) }

func (s *session) get(h int64) (*request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[h]
	if !ok {
		return nil, fmt.Errorf("http: no open request %d in this operation (closed, never opened, or opened by another operation: requests end with the operation)", h)
	}
	return r, nil
}

func httpOpen(_ context.Context, c *host.Call, stack []uint64) {
	s := sessionOf(c)
	var req abi.HTTPRequest
	if err := decode(c.Memory(uint32(stack[0]), uint32(stack[1])), &req); err != nil {
		c.ReturnError(stack, fmt.Errorf("%s: %w", abi.ImportHTTPOpen, err))
		return
	}
	s.mu.Lock()
	n := len(s.reqs)
	s.mu.Unlock()
	if n >= MaxHandles {
		c.ReturnError(stack, fmt.Errorf("%s: the operation holds %d open requests: close some first", abi.ImportHTTPOpen, n))
		return
	}
	r, err := s.c.open(req)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			s.c.log.Warn("refused a request", "error", err)
		}
		c.ReturnError(stack, err)
		return
	}
	h := handles.Add(1)
	s.mu.Lock()
	s.reqs[h] = r
	s.mu.Unlock()
	c.ReturnValue(stack, h)
}

func httpWrite(ctx context.Context, c *host.Call, stack []uint64) {
	r, err := sessionOf(c).get(int64(stack[0]))
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	if err := r.write(ctx, c.Memory(uint32(stack[1]), uint32(stack[2]))); err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func httpSend(ctx context.Context, c *host.Call, stack []uint64) {
	r, err := sessionOf(c).get(int64(stack[0]))
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	resp, err := r.send(ctx)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	b, err := encode(resp)
	if err != nil {
		c.ReturnError(stack, r.wrap(err))
		return
	}
	c.ReturnResult(stack, b)
}

func httpRead(_ context.Context, c *host.Call, stack []uint64) {
	r, err := sessionOf(c).get(int64(stack[0]))
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	// Read straight into guest memory: the view stays valid while the
	// host function runs.
	n, err := r.read(c.Memory(uint32(stack[1]), uint32(stack[2])))
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, int64(n))
}

func httpClose(_ context.Context, c *host.Call, stack []uint64) {
	s := sessionOf(c)
	h := int64(stack[0])
	r, err := s.get(h)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	r.close()
	s.mu.Lock()
	delete(s.reqs, h)
	s.mu.Unlock()
	c.ReturnValue(stack, 0)
}

// decode decodes a JSON request from guest memory.
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	return nil
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }
