package serve_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/wasmdest/wasmdest/internal/serve"
)

// TestServeTwoReplicas: two replicas on loopback share the tenants file and
// the guest store. A guest deployed through one is run by the other; a
// sync begun on one is found from the other through GetFlightInfo's
// endpoint location (what a client behind a load balancer does), and
// finishes on its owner. Draining a replica refuses new syncs and turns
// its /healthz to 503 while its open sync finishes.
func TestServeTwoReplicas(t *testing.T) {
	v1, err := os.ReadFile(misbehave(t))
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	acme := tenantSpec{name: "acme", extra: deployable, dests: deployedDest("d", "w")}
	a := startServer(t, serve.Options{GuestStore: store, Advertise: "auto"}, acme)
	b := a.replica(serve.Options{GuestStore: store, Advertise: "auto"})
	ctx := context.Background()
	ca, cb := a.client("acme"), b.client("acme")

	dep, err := ca.Deploy(ctx, "w", v1)
	if err != nil {
		t.Fatal(err)
	}
	// Begun on B, which loads the guest A stored.
	sb, err := cb.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if sb.GuestHash != dep.Hash || sb.Location == "" || !strings.HasSuffix(sb.Location, b.addr) {
		t.Fatalf("begin on B: %+v (B is %s)", sb, b.addr)
	}
	recs := batches(0, 2, 100)
	defer release(recs)
	// The client reaches A (as a load balancer may send it): A does not own
	// the sync and says where it lives.
	if _, err := ca.Put(ctx, sb.Sync, "t", usersSchema, recs...); code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), b.addr) {
		t.Fatalf("put to the replica that does not own the sync: %v", err)
	}
	// Flight's way: GetFlightInfo on A gives B's location.
	route, err := ca.ForSync(ctx, sb.Sync)
	if err != nil {
		t.Fatal(err)
	}
	if route == ca {
		t.Fatal("GetFlightInfo on A sent the client to A")
	}
	if res, err := route.Put(ctx, sb.Sync, "t", usersSchema, recs...); err != nil || res.Rows != 200 {
		t.Fatalf("put routed to B: %+v, %v", res, err)
	}
	// B drains: no new syncs, readiness fails, the open sync finishes.
	drained := make(chan error, 1)
	go func() { drained <- b.srv.Drain(ctx) }()
	for !b.srv.Draining() {
		time.Sleep(time.Millisecond)
	}
	if _, err := cb.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"}); code(err) != codes.Unavailable {
		t.Errorf("begin on a draining replica: %v", err)
	}
	resp, err := http.Get(b.http.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz of a draining replica: %d %s", resp.StatusCode, body)
	}
	sum, err := route.Finish(ctx, sb.Sync)
	if err != nil || sum.GuestHash != dep.Hash || sum.Tables[0].Rows != 200 {
		t.Fatalf("finish on B: %+v, %v", sum, err)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	// A still serves; a sync begun on A routes to A.
	sa, err := ca.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cb.ForSync(ctx, sa.Sync); err != nil || r == cb {
		t.Fatalf("GetFlightInfo on B for A's sync: %v", err)
	} else if err := r.Abort(ctx, sa.Sync); err != nil {
		t.Fatal(err)
	}
}
