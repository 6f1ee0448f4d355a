package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wasmdest/wasmdest/internal/serve"
)

// TestServeHostileGuests runs the corpus of hostile guests, each as its own
// tenant, against a live server while a well-behaved tenant streams beside
// them. Each hostile call fails alone, with a clear error to its own client;
// no batch is counted half-written; the well-behaved tenant finishes with
// every row once.
func TestServeHostileGuests(t *testing.T) {
	mb := misbehave(t)
	const untrusted = "call_timeout = \"2s\"\nmemory_limit_mib = 64\n"
	l := startServer(t, serve.Options{GuestLogLinesPerSecond: 50, GuestStore: t.TempDir()}, tenantSpec{name: "good", dests: fileDest(t, "files")})
	goodFile := filepath.Join(l.dir, "tenants", "good", "secret.txt")
	tenants := []tenantSpec{
		{name: "good", dests: fileDest(t, "files")},
		{name: "spin", extra: untrusted, dests: guestDest("d", mb, "append", `{"fail": {"write": "spin"}, "after": 1}`)},
		{name: "oom", extra: "call_timeout = \"20s\"\nmemory_limit_mib = 64\n", dests: guestDest("d", mb, "append", `{"fail": {"write": "oom"}, "after": 1}`)},
		{name: "panic", extra: untrusted, dests: guestDest("d", mb, "append", `{"fail": {"write": "panic"}, "after": 1}`)},
		{name: "exit", extra: untrusted, dests: guestDest("d", mb, "append", `{"fail": {"write": "exit"}, "after": 1}`)},
		{name: "flood", extra: "call_timeout = \"30s\"\n", dests: guestDest("d", hostile(t), "append", `{"mode": "flood", "lines": 20000}`)},
		// The probe aims at the good tenant's files and at the server's own port.
		{name: "probe", extra: untrusted, dests: guestDest("d", hostile(t), "append", fmt.Sprintf(`{"mode": "probe", "targets": [%q, "../../good/secret.txt", "/../good/secret.txt", "../../../../../../../../%s"], "dial": [%q, "127.0.0.1:22"]}`,
			goodFile, goodFile, l.addr))},
		{name: "nocap", extra: untrusted, dests: guestDest("d", pgnocap(t), "append", `{}`)},
		{name: "pgwant", extra: untrusted, dests: guestDest("d", pgprobe(t), "append", `{}`)},
		// A guest the tenant deployed itself, its manifest valid, that
		// allocates to its memory cap (and past it) on every write.
		{name: "hog", extra: untrusted + "may_deploy = true\n", dests: "[[tenant.destination]]\nname = \"d\"\nregistry = \"deployed\"\npath = \"hog\"\nwrite_mode = \"append\"\n" +
			"[tenant.destination.spec]\nhold_mib = 64\n"},
	}
	// Started with one tenant, the others come with a reload.
	l.writeConfig(tenants...)
	ctx := context.Background()
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(goodFile), 0o755)
	os.WriteFile(goodFile, []byte("secret"), 0o644)
	mbWasm, err := os.ReadFile(mb)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.client("hog").Deploy(ctx, "hog", mbWasm); err != nil || res.Guest.Name != "misbehave" {
		t.Fatalf("deploy the hog: %+v, %v", res, err)
	}

	// The well-behaved tenant streams all along.
	good := l.client("good")
	gb, err := good.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	stopGood := make(chan struct{})
	var goodWG sync.WaitGroup
	var goodRows, goodPuts int
	var goodErr error
	goodWG.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stopGood:
				if i < 3 {
					break // at least a few puts overlap the hostile ones
				}
				return
			default:
			}
			recs := batches(goodRows, 2, 1000)
			_, err := good.Put(ctx, gb.Sync, "users", usersSchema, recs...)
			release(recs)
			if err != nil {
				goodErr = err
				return
			}
			goodRows += 2000
			goodPuts++
		}
	})

	// put begins a sync of tenant, sends two batches (one record each) and
	// returns the put's error and the summary's written rows.
	put := func(tenant string) (error, int64) {
		c := l.client(tenant)
		b, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
		if err != nil {
			return err, 0
		}
		recs := batches(0, 3, 500)
		defer release(recs)
		start := time.Now()
		_, err = c.Put(ctx, b.Sync, "t", usersSchema, recs...)
		t.Logf("%s: put returned after %v: %v", tenant, time.Since(start).Round(time.Millisecond), err)
		sum, ferr := c.Finish(ctx, b.Sync)
		if ferr != nil {
			t.Errorf("%s: finish: %v", tenant, ferr)
			return err, 0
		}
		var rows int64
		for _, ts := range sum.Tables {
			rows += ts.Rows
		}
		return err, rows
	}
	type want struct {
		code codes.Code
		says string
	}
	cases := map[string]want{
		"spin":  {codes.DeadlineExceeded, "call_timeout"},
		"oom":   {codes.ResourceExhausted, "out of memory"},
		"panic": {codes.Aborted, "panicked"},
		"exit":  {codes.Aborted, "exited with code 3"},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for tenant, w := range cases {
		wg.Go(func() {
			// Batch size 1000 (the misbehave guest's default): the first
			// batch is written, the second misbehaves.
			err, rows := put(tenant)
			mu.Lock()
			defer mu.Unlock()
			if code(err) != w.code || !strings.Contains(status.Convert(err).Message(), w.says) {
				t.Errorf("%s: got %v, want %s saying %q", tenant, err, w.code, w.says)
			}
			if rows != 1000 {
				t.Errorf("%s: summary says %d rows written, want the 1000 of the batch before the failure", tenant, rows)
			}
		})
	}
	// The deployed hog: each of its syncs fails at its first write (the
	// write allocates its 64 MiB cap), naming the limit; nothing written.
	wg.Go(func() {
		for i := range 2 {
			err, rows := put("hog")
			if code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "(memory limit 64 MiB) (the guest ran out of the tenant's memory_limit_mib") {
				t.Errorf("hog, sync %d: got %v, want ResourceExhausted naming its memory limit of 64 MiB", i+1, err)
			}
			if rows != 0 {
				t.Errorf("hog, sync %d: summary says %d rows written, want 0", i+1, rows)
			}
		}
	})
	wg.Wait()

	// Log flood: the write succeeds; the host's log got a bounded share.
	if err, rows := put("flood"); err != nil || rows != 1500 {
		t.Errorf("flood: %v, %d rows", err, rows)
	}
	if n := strings.Count(l.logs.String(), "flood"); n > 2000 {
		t.Errorf("the log flood reached the host's log: %d lines", n)
	}

	// Probe: nothing outside its directory, no environment, no network.
	err, _ = put("probe")
	report, rerr := os.ReadFile(filepath.Join(l.dir, "tenants", "probe", "d", "report.json"))
	if err != nil || rerr != nil {
		t.Errorf("probe: %v (report: %v)\n%s", err, rerr, report)
	}
	var rep struct{ Escaped, Refused, Root, Env []string }
	json.Unmarshal(report, &rep)
	t.Logf("probe refused: %q; root %q; env %q", rep.Refused, rep.Root, rep.Env)
	if len(rep.Escaped) > 0 || len(rep.Env) != 1 {
		t.Errorf("probe escaped: %q, env %q", rep.Escaped, rep.Env)
	}

	// A guest importing pg_exec without asking for postgres is refused at
	// load; one that asks for it is refused for a tenant not granted it.
	_, err = l.client("nocap").Begin(ctx, serve.BeginRequest{Destination: "d"})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "pg_exec") {
		t.Errorf("nocap: %v", err)
	}
	_, err = l.client("pgwant").Begin(ctx, serve.BeginRequest{Destination: "d"})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `capability "postgres", which tenant "pgwant" is not granted`) {
		t.Errorf("pgwant: %v", err)
	}

	close(stopGood)
	goodWG.Wait()
	if goodErr != nil {
		t.Fatalf("the well-behaved tenant failed: %v", goodErr)
	}
	if _, err := good.Finish(ctx, gb.Sync); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "good tenant", fileIDs(t, filepath.Join(l.dir, "tenants", "good", "files"), "users"), goodRows)
	t.Logf("good tenant: %d puts, %d rows beside the hostile ones", goodPuts, goodRows)
	m := l.metrics()
	for _, want := range []string{`kind="timeout",tenant="spin"`, `kind="oom",tenant="oom"`, `kind="panic",tenant="panic"`, `kind="trap",tenant="exit"`,
		`kind="oom",tenant="hog"`, `wasmdest_serve_guest_log_lines_dropped_total{tenant="flood"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
