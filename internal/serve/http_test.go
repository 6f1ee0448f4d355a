package serve_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// webhookDest is a webhook guest destination sending JSON Lines to url,
// whose http block is httpTOML (inline table keys).
func webhookDest(t testing.TB, name, url string, maxBody int, httpTOML string) string {
	return fmt.Sprintf("[[tenant.destination]]\nname = %q\nregistry = \"local\"\npath = %q\nwrite_mode = \"append\"\n[tenant.destination.spec]\nurl = %q\nmax_body_bytes = %d\nhttp = { %s }\n",
		name, testenv.BuildGuest(t, "guests/webhook"), url, maxBody, httpTOML)
}

// TestServeHTTPCeiling: a tenant's [tenant.http] bounds its destinations:
// one within it delivers, one naming another origin or private addresses
// the tenant may not reach is unusable before any connection, and the
// tenant's byte cap per request fails a bigger body.
func TestServeHTTPCeiling(t *testing.T) {
	var got atomic.Int64
	var conns atomic.Int64
	hook := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Add(int64(strings.Count(string(b), "\n")))
		w.WriteHeader(http.StatusNoContent)
	}))
	hook.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	hook.Start()
	defer hook.Close()
	ceiling := fmt.Sprintf("grant = [\"http\"]\n[tenant.http]\nallow = [%q, %q]\nallow_private = true\nmax_request_bytes = 8000\n", hook.URL, "http://127.0.0.2:9")
	strict := fmt.Sprintf("grant = [\"http\"]\n[tenant.http]\nallow = [%q]\n", hook.URL)
	allow := fmt.Sprintf("allow = [%q], allow_private = true", hook.URL)
	l := startServer(t, serve.Options{},
		tenantSpec{name: "acme", extra: ceiling, dests: webhookDest(t, "hook", hook.URL+"/in", 4096, allow) +
			webhookDest(t, "elsewhere", "http://127.0.0.3:9/in", 4096, `allow = ["http://127.0.0.3:9"], allow_private = true`) +
			webhookDest(t, "big", hook.URL+"/in", 1<<20, allow)},
		tenantSpec{name: "strict", extra: strict, dests: webhookDest(t, "hook", hook.URL+"/in", 4096, allow)},
	)
	ctx := context.Background()
	c := l.client("acme")
	b, err := c.Begin(ctx, serve.BeginRequest{Destination: "hook", SourceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	recs := batches(0, 3, 1000)
	defer release(recs)
	if _, err := c.Put(ctx, b.Sync, "users", usersSchema, recs...); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Finish(ctx, b.Sync); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 3000 {
		t.Errorf("the hook got %d rows, want 3000", got.Load())
	}
	before := conns.Load()
	_, err = c.Begin(ctx, serve.BeginRequest{Destination: "elsewhere", SourceName: "test"})
	if err == nil || !strings.Contains(err.Error(), `origin http://127.0.0.3:9 is outside what tenant "acme" may reach`) {
		t.Errorf("a destination beyond the ceiling: %v", err)
	}
	_, err = l.client("strict").Begin(ctx, serve.BeginRequest{Destination: "hook", SourceName: "test"})
	if err == nil || !strings.Contains(err.Error(), `tenant "strict" may not reach private addresses`) {
		t.Errorf("allow_private beyond the ceiling: %v", err)
	}
	if conns.Load() != before {
		t.Errorf("refused destinations connected to the hook")
	}
	// The tenant caps request bodies at 8000 bytes: a destination sending
	// whole batches in one request fails, saying so.
	b, err = c.Begin(ctx, serve.BeginRequest{Destination: "big", SourceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Put(ctx, b.Sync, "users", usersSchema, recs[0])
	if err == nil {
		_, err = c.Finish(ctx, b.Sync)
	}
	if err == nil || !strings.Contains(err.Error(), "the operator's limit of 8000 bytes per request") {
		t.Errorf("a body over the tenant's cap: %v", err)
	}
}
