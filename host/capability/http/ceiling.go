package http

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
)

// Ceiling is what an operator lets a group of destinations do at most
// (`wasmdest serve`: one per tenant): every destination's allowlist must lie
// within Allow, private addresses need AllowPrivate here too, and each
// request's body and response are capped.
type Ceiling struct {
	// Allow lists the origins destinations may allow; empty allows none.
	Allow []string
	// AllowPrivate lets destinations set allow_private.
	AllowPrivate bool
	// MaxRequestBytes caps each request's body, MaxResponseBytes what the
	// guest reads of each response's body; 0 is no cap.
	MaxRequestBytes  int64
	MaxResponseBytes int64
}

// CheckCeiling checks c's origins and limits.
func CheckCeiling(c Ceiling) error {
	if len(c.Allow) == 0 {
		return errors.New("allow is empty: list the origins the guests may reach")
	}
	for i, s := range c.Allow {
		if _, err := ParseOrigin(s); err != nil {
			return fmt.Errorf("allow[%d]: %w", i, err)
		}
	}
	if c.MaxRequestBytes < 0 || c.MaxResponseBytes < 0 {
		return errors.New("max_request_bytes and max_response_bytes must not be negative")
	}
	return nil
}

// WithCeiling returns the http capability with every destination's
// configuration held under c: Open refuses an allowlist origin outside
// c.Allow and allow_private when c does not allow it, naming who set the
// ceiling (e.g. `tenant "acme"`).
func WithCeiling(c Ceiling, who string) (host.Capability, error) {
	if err := CheckCeiling(c); err != nil {
		return nil, fmt.Errorf("%s: http: %w", who, err)
	}
	var allow []Origin
	for _, s := range c.Allow {
		o, _ := ParseOrigin(s)
		allow = append(allow, o)
	}
	return ceilingCapability{capability: capability{}, c: c, allow: allow, who: who}, nil
}

type ceilingCapability struct {
	capability
	c     Ceiling
	allow []Origin
	who   string
}

func (cc ceilingCapability) Name() abi.Capability { return abi.CapHTTP }

func (cc ceilingCapability) Open(ctx context.Context, req host.OpenRequest) (host.Grant, error) {
	cfg, err := ParseConfig(req.Spec)
	if err != nil {
		return nil, fmt.Errorf("destination %q: http: %w", req.Destination, err)
	}
	for _, o := range cfg.Allow {
		if !allows(cc.allow, o) {
			return nil, fmt.Errorf("destination %q: http: origin %s is outside what %s may reach (%s)", req.Destination, o, cc.who, originList(cc.allow))
		}
	}
	if cfg.AllowPrivate && !cc.c.AllowPrivate {
		return nil, fmt.Errorf("destination %q: http.allow_private: %s may not reach private addresses", req.Destination, cc.who)
	}
	cfg.MaxRequestBytes, cfg.MaxResponseBytes = cc.c.MaxRequestBytes, cc.c.MaxResponseBytes
	log := req.Logger
	if log == nil {
		return NewGrant(ctx, cfg, nil)
	}
	return NewGrant(ctx, cfg, log.Named("http"))
}
