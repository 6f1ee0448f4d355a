package serve

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// encodeLocation makes a location safe in a sync handle.
func encodeLocation(loc string) string { return base64.RawURLEncoding.EncodeToString([]byte(loc)) }

// handleLocation returns the location a handle carries, or "".
func handleLocation(handle string) string {
	_, enc, ok := strings.Cut(handle, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return string(b)
}

// GetFlightInfo tells a client where a sync lives: the descriptor PATH
// [HANDLE] gets one endpoint whose location is the replica that began the
// sync (its Options.Advertise, carried in the handle), so that any replica
// behind a load balancer sends the client to the owner, by Flight's own
// mechanism. The ticket is the handle; nothing is read with DoGet.
func (s *Server) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	t := tenantFrom(ctx)
	if desc == nil || desc.Type != flight.DescriptorPATH || len(desc.Path) != 1 {
		return nil, s.fail(t, status.Error(codes.InvalidArgument, "GetFlightInfo needs a PATH descriptor [SYNC]"))
	}
	handle := desc.Path[0]
	loc := handleLocation(handle)
	if loc == "" || loc == s.opts.Advertise {
		// Ours: it must be an open sync of this tenant.
		if _, err := s.lookup(t, handle); err != nil {
			return nil, s.fail(t, err)
		}
		loc = s.opts.Advertise
	}
	ep := &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: []byte(handle)}}
	if loc != "" {
		ep.Location = []*flight.Location{{Uri: loc}}
	}
	return &flight.FlightInfo{FlightDescriptor: desc, Endpoint: []*flight.FlightEndpoint{ep}, TotalRecords: -1, TotalBytes: -1}, nil
}

// elsewhere is the error for a sync another replica owns.
func (s *Server) elsewhere(handle string) error {
	loc := handleLocation(handle)
	if loc == "" || loc == s.opts.Advertise {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "sync %q lives on the replica at %s: GetFlightInfo on PATH [SYNC] gives its location; send the sync's calls there", handle, loc)
}

// Drain stops taking new syncs (begin says Unavailable, /healthz 503 so
// that a load balancer or Kubernetes readiness takes the replica out) and
// waits until the open syncs have finished, or ctx ends. Close after it.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.RLock()
		open := len(s.syncs)
		s.mu.RUnlock()
		if open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %d syncs still open: %w", open, ctx.Err())
		case <-tick.C:
		}
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }
