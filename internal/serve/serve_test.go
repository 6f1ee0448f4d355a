package serve_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/internal/serve"
)

func code(err error) codes.Code { return status.Code(err) }

// TestServeSync: a sync over Flight through the file guest: begin, two
// tables streamed at once and one more later, finish with the summary; every
// row lands once.
func TestServeSync(t *testing.T) {
	l := startServer(t, serve.Options{}, tenantSpec{name: "acme", dests: fileDest(t, "files")})
	c := l.client("acme")
	ctx := context.Background()
	b, err := c.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Guest != "file" || b.Sync == "" || b.SyncID == "" {
		t.Fatalf("begin: %+v", b)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, table := range []string{"users", "orders"} {
		wg.Go(func() {
			recs := batches(0, 5, 1000)
			defer release(recs)
			res, err := c.Put(ctx, b.Sync, table, usersSchema, recs...)
			if err == nil && (res.Rows != 5000 || res.Table != table || res.Records != 5) {
				err = errors.New("put result: " + res.Table)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	recs := batches(5000, 1, 500)
	if _, err := c.Put(ctx, b.Sync, "users", usersSchema, recs...); err != nil {
		t.Fatal(err)
	}
	release(recs)
	sum, err := c.Finish(ctx, b.Sync)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, ts := range sum.Tables {
		got[ts.Table] = ts.Rows
		if ts.Error != "" {
			t.Errorf("table %s: %s", ts.Table, ts.Error)
		}
	}
	if got["users"] != 5500 || got["orders"] != 5000 {
		t.Errorf("summary: %+v", sum)
	}
	dir := filepath.Join(l.dir, "tenants", "acme", "files")
	checkIDs(t, "users", fileIDs(t, dir, "users"), 5500)
	checkIDs(t, "orders", fileIDs(t, dir, "orders"), 5000)
	m := l.metrics()
	for _, want := range []string{`wasmdest_serve_rows_total{guest="file",tenant="acme"} 10500`, `wasmdest_serve_guest_call_seconds_count{guest="file",op="write",tenant="acme"}`,
		`wasmdest_serve_batches_written_total{guest="file",tenant="acme"}`, "wasmdest_serve_tenants 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The sync is gone.
	if _, err := c.Finish(ctx, b.Sync); code(err) != codes.NotFound {
		t.Errorf("second finish: %v", err)
	}
}

// TestServeAuth: requests without a valid token are refused with one error,
// whichever way the token is wrong; a tenant cannot see another's syncs or
// destinations, and the answers do not say whether they exist.
func TestServeAuth(t *testing.T) {
	l := startServer(t, serve.Options{},
		tenantSpec{name: "acme", dests: fileDest(t, "files")},
		tenantSpec{name: "globex", dests: fileDest(t, "gfiles")})
	ctx := context.Background()
	acme, globex := l.client("acme"), l.client("globex")
	b, err := acme.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Finish(ctx, b.Sync)

	var msgs []string
	for name, c := range map[string]*serve.Client{
		"none": l.dial(""), "wrong": l.dial("token-of-nobody"), "almost": l.dial(l.tokens["acme"] + "x"),
		"other's hash": l.dial(serve.HashToken(l.tokens["acme"])),
	} {
		_, err := c.Begin(ctx, serve.BeginRequest{Destination: "files"})
		if code(err) != codes.Unauthenticated {
			t.Errorf("%s token: %v", name, err)
		}
		msgs = append(msgs, status.Convert(err).Message())
		recs := batches(0, 1, 10)
		if _, err := c.Put(ctx, b.Sync, "users", usersSchema, recs...); code(err) != codes.Unauthenticated {
			t.Errorf("%s token: put: %v", name, err)
		}
		release(recs)
	}
	sort.Strings(msgs)
	if msgs[0] != msgs[len(msgs)-1] {
		t.Errorf("unauthenticated answers differ: %q", msgs)
	}

	// Another tenant's sync and destination are "not found", as missing ones are.
	_, errOther := globex.Finish(ctx, b.Sync)
	_, errMissing := globex.Finish(ctx, "0123456789abcdef0123456789abcdef")
	if code(errOther) != codes.NotFound || code(errMissing) != codes.NotFound ||
		strings.Replace(status.Convert(errOther).Message(), b.Sync, "X", 1) != strings.Replace(status.Convert(errMissing).Message(), "0123456789abcdef0123456789abcdef", "X", 1) {
		t.Errorf("other tenant's sync: %v; missing sync: %v", errOther, errMissing)
	}
	recs := batches(0, 1, 10)
	defer release(recs)
	if _, err := globex.Put(ctx, b.Sync, "users", usersSchema, recs...); code(err) != codes.NotFound {
		t.Errorf("put into another tenant's sync: %v", err)
	}
	_, errOther = globex.Begin(ctx, serve.BeginRequest{Destination: "files"})
	_, errMissing = globex.Begin(ctx, serve.BeginRequest{Destination: "nothere"})
	if code(errOther) != codes.NotFound || code(errMissing) != codes.NotFound {
		t.Errorf("another tenant's destination: %v; missing: %v", errOther, errMissing)
	}

	// Timing: a valid token of the other tenant, a wrong one and none take
	// about as long to refuse (all hash and compare against every tenant).
	timeIt := func(c *serve.Client) time.Duration {
		var ds []time.Duration
		for i := 0; i < 30; i++ {
			start := time.Now()
			c.Finish(ctx, "0123456789abcdef0123456789abcdef")
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	known, unknown := timeIt(globex), timeIt(l.dial("token-of-nobody"))
	t.Logf("median refusal: wrong tenant's sync %v, unknown token %v", known, unknown)
}
