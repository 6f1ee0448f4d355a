package serve_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/wasmdest/wasmdest/internal/serve"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}

// TestServeReload: a reload adds a tenant, gives a changed tenant a new
// generation whose new guest takes over new syncs while a stream running on
// the old one finishes there, and removes a tenant, all without dropping the
// running stream. It also shows rows_per_minute throttling that stream.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	guest := filepath.Join(dir, "guest.wasm")
	copyFile(t, misbehave(t), guest)
	// 600 rows a minute: the bucket starts full, the 60 rows past it take ~6s.
	acme := tenantSpec{name: "acme", extra: "rows_per_minute = 600\n", dests: guestDest("d", guest, "append", `{}`)}
	l := startServer(t, serve.Options{}, acme)
	ctx := context.Background()
	c := l.client("acme")
	s1, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Guest != "misbehave" {
		t.Fatalf("begin: %+v", s1)
	}
	type result struct {
		res *serve.PutResult
		err error
		at  time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		recs := batches(0, 11, 60)
		defer release(recs)
		res, err := c.Put(ctx, s1.Sync, "t", usersSchema, recs...)
		done <- result{res, err, time.Since(start)}
	}()
	time.Sleep(500 * time.Millisecond)

	// A new guest for acme (hostile instead of misbehave, as a new version
	// would be), and a new tenant.
	copyFile(t, hostile(t), guest)
	globex := tenantSpec{name: "globex", dests: fileDest(t, "files")}
	l.writeConfig(acme, globex)
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Guest != "hostile" {
		t.Errorf("new sync after the reload runs %s, want the new guest", s2.Guest)
	}
	if err := c.Abort(ctx, s2.Sync); err != nil {
		t.Fatal(err)
	}
	g := l.client("globex")
	gs, err := g.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	recs := batches(0, 1, 100)
	if _, err := g.Put(ctx, gs.Sync, "t", usersSchema, recs...); err != nil {
		t.Fatal(err)
	}
	release(recs)
	if _, err := g.Finish(ctx, gs.Sync); err != nil {
		t.Fatal(err)
	}

	// Remove acme while its stream still runs on the old generation.
	l.writeConfig(globex)
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Begin(ctx, serve.BeginRequest{Destination: "d"}); code(err) != codes.Unauthenticated {
		t.Errorf("removed tenant: %v", err)
	}
	r := <-done
	if r.err != nil || r.res.Rows != 660 {
		t.Fatalf("the stream running across the reloads: %+v, %v", r.res, r.err)
	}
	if r.at < 4*time.Second {
		t.Errorf("660 rows at 600 a minute took %v: not throttled", r.at)
	}
	t.Logf("throttled stream took %v", r.at)
}
