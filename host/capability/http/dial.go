package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"net/netip"
	"syscall"
	"time"
)

// RefusedError is a request the host refused before or instead of
// connecting: an origin outside the allowlist, a non-public address, a
// redirect leaving the allowlist. It is never retried.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// nonPublic are the IP ranges refused without allow_private, besides what
// netip's predicates cover (loopback, private, link-local, multicast,
// unspecified).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/32"),       // Teredo: tunnels to any IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: tunnels to any IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
}

// checkAddr returns why a is not a public address, or "" when it is. An
// IPv4-mapped IPv6 address is judged as its IPv4 address.
func checkAddr(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return "non-public (" + p.String() + ")"
		}
	}
	return ""
}

// dialer dials the addresses DNS gives for an allowed host and checks each
// one it actually connects to, after resolution: so a name that resolves
// to loopback, a resolver that reads an odd literal as one, or DNS
// rebinding between the check and the connection never reach a refused
// address.
type dialer struct {
	allowPrivate bool
	timeout      time.Duration
}

func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	nd := net.Dialer{
		Timeout:   d.timeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, addr string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return &RefusedError{Reason: fmt.Sprintf("host %s: dial address %q is not an IP address and port", host, addr)}
			}
			if d.allowPrivate {
				return nil
			}
			if why := checkAddr(ap.Addr()); why != "" {
				return &RefusedError{Reason: fmt.Sprintf("host %s resolves to %s, a %s address: refused (set http.allow_private: true to reach private addresses)", host, ap.Addr().Unmap(), why)}
			}
			return nil
		},
	}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		// Keep the refusal as the cause, without net.OpError's wrapping.
		if re := (*RefusedError)(nil); errors.As(err, &re) {
			return nil, re
		}
	}
	return c, err
}

// newTransport is the destination's transport: its own dialer, no proxy
// from the environment, HTTP/2 where the server offers it.
func newTransport(cfg Config) *nethttp.Transport {
	return &nethttp.Transport{
		Proxy:                  nil,
		DialContext:            dialer{allowPrivate: cfg.AllowPrivate, timeout: cfg.Timeout}.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    cfg.MaxConcurrency,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}
