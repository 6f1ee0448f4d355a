package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// errUnauthenticated is the one answer to a request without a valid token,
// whatever was wrong with it, so that it never says whether a tenant exists.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid bearer token")

// NewToken returns a new random bearer token and its hex SHA-256, the value
// of a tenant's token_sha256.
func NewToken() (token, sha string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = "wdt_" + hex.EncodeToString(b)
	return token, HashToken(token)
}

type tenantKey struct{}

// tenantFrom returns the tenant a request was authenticated as.
func tenantFrom(ctx context.Context) *tenant {
	t, _ := ctx.Value(tenantKey{}).(*tenant)
	return t
}

// authenticate finds the tenant of the request's "authorization: Bearer
// TOKEN" metadata. The token is hashed and its hash compared with every
// tenant's in constant time, all of them whatever matched, so the time taken
// does not depend on which tenant, if any, the token belongs to.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	var token string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				token = strings.TrimSpace(v[7:])
			}
		}
	}
	sum := sha256.Sum256([]byte(token))
	s.mu.RLock()
	tenants := s.auth
	s.mu.RUnlock()
	var found *tenant
	for _, t := range tenants {
		if subtle.ConstantTimeCompare(sum[:], t.cfg.hash[:]) == 1 && token != "" {
			found = t
		}
	}
	if found == nil {
		s.metrics.authFailures.Inc()
		return nil, errUnauthenticated
	}
	return context.WithValue(ctx, tenantKey{}, found), nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a authedStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, authedStream{ss, ctx})
}
