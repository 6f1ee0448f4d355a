package host_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// BenchmarkCachedLoad loads the file guest from a warm compilation cache in
// a fresh Runtime per iteration, as a new wasmdest process does. It reports
// the first load's compile time (cold, unless WASMDEST_BENCH_CACHE names a
// cache already holding the guest) and the medians of: the guest's
// CompileTime (wazero's CompileModule, the figure of the bench's "Guest
// start" table), its InstantiateTime (the manifest probe), the wall time of the whole LoadFile (reading, checks,
// manifest) and its CPU time (user+sys of the process, steadier than wall
// time on a shared machine). Set WASMDEST_BENCH_GUEST to a .wasm to load that
// one instead of building guests/file. Run it with, e.g.,
//
//	go test -run '^$' -bench CachedLoad -benchtime 20x ./host/
func BenchmarkCachedLoad(b *testing.B) {
	wasm := os.Getenv("WASMDEST_BENCH_GUEST")
	if wasm == "" {
		wasm = testenv.BuildGuest(b, "guests/file")
	}
	cache := os.Getenv("WASMDEST_BENCH_CACHE")
	if cache == "" {
		cache = filepath.Join(b.TempDir(), "cache")
	}
	ctx := context.Background()
	cfg := host.Config{CacheDir: cache, Logger: hclog.NewNullLogger()}
	load := func() (compile time.Duration) {
		rt, err := host.NewRuntime(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close(ctx)
		g, err := rt.LoadFile(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		return g.CompileTime()
	}
	first := load() // fills the cache
	var compile, inst, wall, cpu []time.Duration
	for b.Loop() {
		rt, err := host.NewRuntime(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cpu0, wall0 := cpuTime(b), time.Now()
		g, err := rt.LoadFile(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		wall = append(wall, time.Since(wall0))
		cpu = append(cpu, cpuTime(b)-cpu0)
		compile = append(compile, g.CompileTime())
		inst = append(inst, g.InstantiateTime())
		rt.Close(ctx)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(first.Seconds()*1e3, "first-compile-ms")
	b.ReportMetric(median(compile).Seconds()*1e3, "compile-ms")
	b.ReportMetric(slices.Min(compile).Seconds()*1e3, "compile-min-ms")
	b.ReportMetric(median(inst).Seconds()*1e3, "instantiate-ms")
	b.ReportMetric(median(wall).Seconds()*1e3, "load-ms")
	b.ReportMetric(median(cpu).Seconds()*1e3, "load-cpu-ms")
	if fi, err := os.Stat(wasm); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "wasm-MB")
	}
}

// cpuTime returns the user+sys CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
