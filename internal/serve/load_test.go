package serve_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/internal/serve"
)

// loadResult is what one bounded load run measured.
type loadResult struct {
	tenants, streams int
	rows             int64
	took             time.Duration
	putLatency       []time.Duration
}

func (r loadResult) rowsPerSecond() float64 { return float64(r.rows) / r.took.Seconds() }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// runLoad runs tenants x streams DoPut streams at once, each of puts puts of
// recs records of size rows into the tenant's one sync (table "events", ids
// in disjoint ranges), then finishes every sync and checks that each tenant's
// files hold every id exactly once.
func runLoad(t *testing.T, l *live, tenants []string, streams, puts, recs, size int) loadResult {
	t.Helper()
	ctx := context.Background()
	res := loadResult{tenants: len(tenants), streams: len(tenants) * streams}
	var mu sync.Mutex
	var errs []error
	syncs := map[string]string{}
	for _, name := range tenants {
		b, err := l.client(name).Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "load"})
		if err != nil {
			t.Fatal(err)
		}
		syncs[name] = b.Sync
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, name := range tenants {
		c := l.client(name)
		for s := 0; s < streams; s++ {
			wg.Go(func() {
				for p := 0; p < puts; p++ {
					from := ((s * puts) + p) * recs * size
					rs := batches(from, recs, size)
					t0 := time.Now()
					_, err := c.Put(ctx, syncs[name], "events", usersSchema, rs...)
					took := time.Since(t0)
					release(rs)
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("%s stream %d: %w", name, s, err))
					} else {
						res.rows += int64(recs * size)
						res.putLatency = append(res.putLatency, took)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	res.took = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, name := range tenants {
		if _, err := l.client(name).Finish(ctx, syncs[name]); err != nil {
			t.Fatal(err)
		}
		checkIDs(t, name, fileIDs(t, filepath.Join(l.dir, "tenants", name, "files"), "events"), streams*puts*recs*size)
	}
	return res
}

// TestServeLoad is a bounded load test on loopback: 4 tenants x 3 streams at
// once, 30,000 rows each, trusted and untrusted mixed; no row is lost or
// duplicated.
func TestServeLoad(t *testing.T) {
	var specs []tenantSpec
	var names []string
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("t%d", i)
		extra := "max_concurrent_writes = 3\n"
		if i%2 == 0 {
			extra += "trusted = true\n"
		}
		specs = append(specs, tenantSpec{name: name, extra: extra, dests: fileDest(t, "files")})
		names = append(names, name)
	}
	l := startServer(t, serve.Options{}, specs...)
	r := runLoad(t, l, names, 3, 2, 5, 2000)
	t.Logf("%d tenants x %d streams: %d rows in %v, %.0f rows/s; put p50 %v p95 %v",
		r.tenants, r.streams/r.tenants, r.rows, r.took.Round(time.Millisecond), r.rowsPerSecond(), pct(r.putLatency, 0.5), pct(r.putLatency, 0.95))
}

// TestServeMeasure measures what docs/serve.md reports. It is bounded but
// long, so it runs only with WASMDEST_SERVE_MEASURE=1:
//
//	WASMDEST_SERVE_MEASURE=1 go test ./internal/serve -run TestServeMeasure -v -timeout 30m
func TestServeMeasure(t *testing.T) {
	if os.Getenv("WASMDEST_SERVE_MEASURE") == "" {
		t.Skip("set WASMDEST_SERVE_MEASURE=1")
	}
	n := func(env string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(env)); err == nil {
			return v
		}
		return def
	}
	t.Logf("GOMAXPROCS %d", runtime.GOMAXPROCS(0))
	t.Run("capacity", func(t *testing.T) {
		tenants, streams := n("MEASURE_TENANTS", 16), n("MEASURE_STREAMS", 4)
		var specs []tenantSpec
		var names []string
		for i := 0; i < tenants; i++ {
			name := fmt.Sprintf("t%02d", i)
			extra := fmt.Sprintf("max_concurrent_writes = %d\nmax_syncs = 2\n", streams)
			if i%2 == 0 {
				extra += "trusted = true\n"
			}
			specs = append(specs, tenantSpec{name: name, extra: extra, dests: fileDest(t, "files")})
			names = append(names, name)
		}
		l := startServer(t, serve.Options{MaxActiveStreams: tenants * streams}, specs...)
		var ms runtime.MemStats
		r := runLoad(t, l, names, streams, 2, 5, 2000)
		runtime.ReadMemStats(&ms)
		t.Logf("capacity: %d tenants x %d streams = %d concurrent streams: %d rows in %v = %.0f rows/s; put (10,000 rows) p50 %v p95 %v; Go heap %d MiB, sys %d MiB",
			r.tenants, streams, r.streams, r.rows, r.took.Round(time.Millisecond), r.rowsPerSecond(), pct(r.putLatency, 0.5), pct(r.putLatency, 0.95), ms.HeapAlloc>>20, ms.Sys>>20)
	})
	t.Run("tenants", func(t *testing.T) {
		// Many tenants configured: load time and memory, then one stream each at once.
		tenants := n("MEASURE_MANY_TENANTS", 64)
		var specs []tenantSpec
		var names []string
		for i := 0; i < tenants; i++ {
			name := fmt.Sprintf("m%03d", i)
			extra := "max_concurrent_writes = 1\n"
			if i%2 == 0 {
				extra += "trusted = true\n"
			}
			specs = append(specs, tenantSpec{name: name, extra: extra, dests: fileDest(t, "files")})
			names = append(names, name)
		}
		before := rssMiB()
		t0 := time.Now()
		l := startServer(t, serve.Options{MaxActiveStreams: tenants}, specs...)
		loaded, took := rssMiB(), time.Since(t0)
		r := runLoad(t, l, names, 1, 1, 5, 2000)
		t.Logf("tenants: %d tenants loaded in %v, RSS %d -> %d MiB (%.1f MiB a tenant); %d streams at once: %d rows in %v = %.0f rows/s, put (10,000 rows) p50 %v p95 %v; RSS after %d MiB",
			tenants, took.Round(time.Millisecond), before, loaded, float64(loaded-before)/float64(tenants), r.streams, r.rows, r.took.Round(time.Millisecond), r.rowsPerSecond(),
			pct(r.putLatency, .5), pct(r.putLatency, .95), rssMiB())
	})
	t.Run("neighbour", func(t *testing.T) {
		// Three well-behaved tenants put 1,000-row batches one after another,
		// alone, then beside hostile neighbours whose guests spin until their
		// deadline (untrusted, call_timeout 2s), two at a time.
		mb := misbehave(t)
		specs := []tenantSpec{
			{name: "spin1", extra: "call_timeout = \"2s\"\nmax_concurrent_writes = 2\n", dests: guestDest("d", mb, "append", `{"fail": {"write": "spin"}}`)},
			{name: "spin2", extra: "call_timeout = \"2s\"\nmax_concurrent_writes = 2\n", dests: guestDest("d", mb, "append", `{"fail": {"write": "spin"}}`)},
		}
		good := []string{"g1", "g2", "g3"}
		for _, name := range good {
			specs = append(specs, tenantSpec{name: name, dests: fileDest(t, "files")})
		}
		l := startServer(t, serve.Options{}, specs...)
		ctx := context.Background()
		measure := func(d time.Duration) []time.Duration {
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			for _, name := range good {
				wg.Go(func() {
					c := l.client(name)
					b, err := c.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "s"})
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Finish(ctx, b.Sync)
					for end, i := time.Now().Add(d), 0; time.Now().Before(end); i++ {
						rs := batches(i*1000, 1, 1000)
						t0 := time.Now()
						_, err := c.Put(ctx, b.Sync, "t", usersSchema, rs...)
						release(rs)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(t0))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return lat
		}
		alone := measure(10 * time.Second)
		stop := make(chan struct{})
		var hw sync.WaitGroup
		var spins int
		for _, name := range []string{"spin1", "spin2"} {
			hw.Go(func() {
				c := l.client(name)
				for {
					select {
					case <-stop:
						return
					default:
					}
					b, err := c.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
					if err != nil {
						t.Error(err)
						return
					}
					rs := batches(0, 1, 10)
					c.Put(ctx, b.Sync, "t", usersSchema, rs...)
					release(rs)
					c.Finish(ctx, b.Sync)
					spins++
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		beside := measure(10 * time.Second)
		close(stop)
		hw.Wait()
		t.Logf("well-behaved puts of 1,000 rows, 3 tenants: alone n=%d p50 %v p95 %v p99 %v; beside 2 spinning untrusted tenants (%d spins of 2s): n=%d p50 %v p95 %v p99 %v",
			len(alone), pct(alone, .5), pct(alone, .95), pct(alone, .99), spins, len(beside), pct(beside, .5), pct(beside, .95), pct(beside, .99))
	})
	t.Run("interruptible", func(t *testing.T) {
		// The same guest and data, trusted (uninterruptible) and untrusted
		// (Interruptible): one tenant, one stream, 200,000 rows, 3 rounds each.
		l := startServer(t, serve.Options{},
			tenantSpec{name: "trusted", extra: "trusted = true\n", dests: fileDest(t, "files")},
			tenantSpec{name: "untrusted", dests: fileDest(t, "files")})
		ctx := context.Background()
		rs := batches(0, 20, 10000)
		defer release(rs)
		run := func(name string) time.Duration {
			c := l.client(name)
			b, err := c.Begin(ctx, serve.BeginRequest{Destination: "files", SourceName: "s"})
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			if _, err := c.Put(ctx, b.Sync, "t", usersSchema, rs...); err != nil {
				t.Fatal(err)
			}
			d := time.Since(t0)
			if _, err := c.Finish(ctx, b.Sync); err != nil {
				t.Fatal(err)
			}
			return d
		}
		var tr, un []time.Duration
		run("trusted")
		run("untrusted") // warm both
		for i := 0; i < 3; i++ {
			tr = append(tr, run("trusted"))
			un = append(un, run("untrusted"))
		}
		mt, mu := pct(tr, .5), pct(un, .5)
		t.Logf("200,000 rows through the file guest: trusted %v (%.0f rows/s), interruptible %v (%.0f rows/s): %.2fx; guest write-call time from metrics below",
			mt, 200000/mt.Seconds(), mu, 200000/mu.Seconds(), mu.Seconds()/mt.Seconds())
		for _, line := range grepLines(l.metrics(), "wasmdest_serve_guest_call_seconds_sum") {
			t.Log(line)
		}
	})
}

// rssMiB is the process's resident memory.
func rssMiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range splitLines(string(b)) {
		var kb int
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			return kb >> 10
		}
	}
	return 0
}

func grepLines(s, prefix string) []string {
	var out []string
	for _, line := range splitLines(s) {
		if len(line) >= len(prefix) && line[:len(prefix)] == prefix {
			out = append(out, line)
		}
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
