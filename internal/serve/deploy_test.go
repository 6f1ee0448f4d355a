package serve_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/internal/serve"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// deployable lets a tenant deploy guests, with a compile_timeout that a
// cold compilation on a busy machine stays under (the tests of compile
// limits set their own): the race-enabled suite on 2 cores gave a compiling
// child a quarter of a core, 14 s of CPU in 60 s.
const deployable = "may_deploy = true\ncompile_timeout = \"10m\"\n"

// deployedDest is a destination of the tenant's deployed guest name.
func deployedDest(dest, guest string) string {
	return "[[tenant.destination]]\nname = \"" + dest + "\"\nregistry = \"deployed\"\npath = \"" + guest + "\"\nwrite_mode = \"append\"\n" +
		"[tenant.destination.spec]\nmode = \"flood\"\nlines = 0\n" // v2 (the hostile guest) writes quietly; misbehave ignores it
}

// TestServeDeployHotSwap: a tenant deploys a guest over Flight, syncs
// through it, deploys v2 while a sync runs (it completes on v1, its
// summary says so) and is unloaded once that sync ends, the next sync runs
// v2; rollback makes v1 current again
// in one action; the store survives a restart; delete ends it.
func TestServeDeployHotSwap(t *testing.T) {
	v1, err := os.ReadFile(misbehave(t))
	if err != nil {
		t.Fatal(err)
	}
	// v2 is another guest (one the test suite has likely compiled already:
	// a new build of misbehave would always take a cold compilation).
	v2, err := os.ReadFile(hostile(t))
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := sha(v1), sha(v2)
	store := t.TempDir()
	acme := tenantSpec{name: "acme", extra: deployable, dests: deployedDest("d", "w")}
	l := startServer(t, serve.Options{GuestStore: store}, acme)
	ctx := context.Background()
	c := l.client("acme")

	if _, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"}); code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `no deployed guest "w"`) {
		t.Fatalf("begin before any deploy: %v", err)
	}
	res, err := c.Deploy(ctx, "w", v1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hash != h1 || res.Previous != "" || res.Guest.Name != "misbehave" || res.Guest.ABIVersion == "" || res.Size != int64(len(v1)) {
		t.Fatalf("deploy v1: %+v", res)
	}
	t.Logf("deployed v1 %s: guest %s %s, ABI %s, imports %d, capabilities asked %v granted %v", res.Hash[:12], res.Guest.Name, res.Guest.Version,
		res.Guest.ABIVersion, len(res.Guest.Imports), res.Guest.Asked, res.Guest.Granted)

	s1, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s1.GuestHash != h1 {
		t.Fatalf("sync 1 runs %s, want v1 %s", s1.GuestHash, h1)
	}
	// A put of sync 1 is running (half its records sent) while v2 is deployed.
	put, err := c.OpenPut(ctx, s1.Sync, "t", usersSchema)
	if err != nil {
		t.Fatal(err)
	}
	recs := batches(0, 20, 30)
	defer release(recs)
	for _, r := range recs[:10] {
		if err := put.Write(r); err != nil {
			t.Fatal(err)
		}
	}

	res, err = c.Deploy(ctx, "w", v2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hash != h2 || res.Previous != h1 {
		t.Fatalf("deploy v2: %+v", res)
	}
	s2, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s2.GuestHash != h2 {
		t.Errorf("sync begun after deploying v2 runs %s, want %s", s2.GuestHash, h2)
	}
	// v1 is no longer held for new begins, but sync 1 still runs on it.
	unloadedV1 := "guest unloaded: guest=misbehave hash=" + h1
	if strings.Contains(l.logs.String(), unloadedV1) {
		t.Errorf("v1 was unloaded while sync 1 still runs on it")
	}
	for _, r := range recs[10:] {
		if err := put.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	pr, err := put.Close()
	if err != nil || pr.Rows != 600 {
		t.Fatalf("the put running across the deploy: %+v, %v", pr, err)
	}
	sum1, err := c.Finish(ctx, s1.Sync)
	if err != nil {
		t.Fatal(err)
	}
	if sum1.GuestHash != h1 || len(sum1.Tables) != 1 || sum1.Tables[0].Rows != 600 {
		t.Errorf("sync 1's summary: %+v, want 600 rows by v1 %s", sum1, h1)
	}
	// Its last sync ended: v1's instances and its compiled module are
	// closed (none of its instances is there to be reused).
	if n := strings.Count(l.logs.String(), unloadedV1); n != 1 {
		t.Errorf("v1 unloaded %d times once sync 1 ended, want once", n)
	}
	if m := l.metrics(); strings.Contains(m, `wasmdest_serve_guest_instances{guest="misbehave",tenant="acme"}`) {
		t.Errorf("v1 has live instances after its last sync ended:\n%s", m)
	}
	recs2 := batches(0, 1, 10)
	defer release(recs2)
	if _, err := c.Put(ctx, s2.Sync, "t", usersSchema, recs2...); err != nil {
		t.Fatal(err)
	}
	sum2, err := c.Finish(ctx, s2.Sync)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.GuestHash != h2 || sum2.Tables[0].Rows != 10 {
		t.Errorf("sync 2's summary: %+v, want 10 rows by v2 %s", sum2, h2)
	}

	// Rollback: one action.
	ref, err := c.RollbackGuest(ctx, "w")
	if err != nil || ref.Hash != h1 || ref.Previous != h2 {
		t.Fatalf("rollback: %+v, %v", ref, err)
	}
	s3, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil || s3.GuestHash != h1 {
		t.Fatalf("begin after rollback: %+v, %v", s3, err)
	}
	if err := c.Abort(ctx, s3.Sync); err != nil {
		t.Fatal(err)
	}
	list, err := c.Guests(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "w" || list[0].Hash != h1 || list[0].Previous != h2 || list[0].Size != int64(len(v1)) {
		t.Fatalf("list: %+v, %v", list, err)
	}
	// Describe: the verdict on v1 was kept when it was deployed; neither
	// describe starts a compile child (each child logs a line), and both
	// say the same.
	childLog := "upload compiled in a child process"
	children := strings.Count(l.logs.String(), childLog)
	desc, err := c.DescribeGuest(ctx, "w")
	if err != nil || desc.Hash != h1 || desc.Guest.Name != "misbehave" || desc.Guest.HostABIVersion == "" {
		t.Fatalf("describe: %+v, %v", desc, err)
	}
	again, err := c.DescribeGuest(ctx, "w")
	if err != nil || !reflect.DeepEqual(again, desc) {
		t.Fatalf("describe again: %+v, %v; the first said %+v", again, err, desc)
	}
	if n := strings.Count(l.logs.String(), childLog) - children; n != 0 {
		t.Errorf("describing a deployed guest twice started %d compile children, want 0 (the verdict on its hash is kept)", n)
	}
	// Another tenant sees none of it.
	globex := tenantSpec{name: "globex", extra: deployable, dests: deployedDest("d", "w")}
	l.writeConfig(acme, globex)
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := l.client("globex").Guests(ctx); err != nil || len(list) != 0 {
		t.Errorf("globex lists %+v, %v", list, err)
	}
	if _, err := l.client("globex").DescribeGuest(ctx, "w"); code(err) != codes.NotFound {
		t.Errorf("globex describes acme's guest: %v", err)
	}

	// A restart: a new server on the same store.
	l2 := startServer(t, serve.Options{GuestStore: store}, acme)
	c2 := l2.client("acme")
	s4, err := c2.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil || s4.GuestHash != h1 {
		t.Fatalf("begin after a restart: %+v, %v", s4, err)
	}
	if err := c2.Abort(ctx, s4.Sync); err != nil {
		t.Fatal(err)
	}
	// The new server keeps verdicts of its own: its first describe starts
	// a compile child, the second does not.
	for i, want := range []int{1, 0} {
		before := strings.Count(l2.logs.String(), childLog)
		d, err := c2.DescribeGuest(ctx, "w")
		if err != nil || !reflect.DeepEqual(d.Guest, desc.Guest) {
			t.Fatalf("describe %d after a restart: %+v, %v; before it: %+v", i+1, d, err, desc)
		}
		if n := strings.Count(l2.logs.String(), childLog) - before; n != want {
			t.Errorf("describe %d after a restart started %d compile children, want %d", i+1, n, want)
		}
	}
	if err := c2.DeleteGuest(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"}); code(err) != codes.FailedPrecondition {
		t.Errorf("begin after delete: %v", err)
	}
	// A tenant without may_deploy cannot.
	if _, err := l.client("globex").Deploy(ctx, "x", v1); err != nil {
		t.Errorf("globex may deploy: %v", err)
	}
	l.writeConfig(acme, tenantSpec{name: "globex", dests: deployedDest("d", "w")})
	l.srv.Reload(ctx)
	if _, err := l.client("globex").Deploy(ctx, "y", v1); code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "may_deploy") {
		t.Errorf("deploy without may_deploy: %v", err)
	}
}
