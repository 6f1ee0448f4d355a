package testenv

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// Logger returns a logger at level whose lines go to t's log (shown for
// failed tests and with -v).
func Logger(t testing.TB, level hclog.Level) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: level, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Runtime returns a host runtime made with c, closed when the test ends. An
// empty c.CacheDir (with no c.Cache) is Cache(t), and a nil c.Logger is
// Logger(t, hclog.Warn).
func Runtime(t testing.TB, c host.Config) *host.Runtime {
	t.Helper()
	if c.CacheDir == "" && c.Cache == nil {
		c.Cache = Cache(t)
	}
	if c.Logger == nil {
		c.Logger = Logger(t, hclog.Warn)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

var shared struct {
	once  sync.Once
	cache wazero.CompilationCache
	err   error
}

// Cache returns the compilation cache of this test process: on disk in
// CacheDir, and in memory, so that the runtimes of one process compile or
// load each guest once (loading the file guest's ~250 MB of machine code
// from disk takes seconds). It stays open until the process exits.
func Cache(t testing.TB) wazero.CompilationCache {
	t.Helper()
	c, err := ProcessCache()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ProcessCache is Cache for callers without a testing.TB, such as TestMain.
func ProcessCache() (wazero.CompilationCache, error) {
	shared.once.Do(func() {
		var dir string
		if dir, shared.err = CompilationCacheDir(); shared.err == nil {
			shared.cache, shared.err = wazero.NewCompilationCacheWithDir(dir)
		}
	})
	return shared.cache, shared.err
}

// LoadGuest loads the Go guest package pkg (see BuildGuest) into rt.
func LoadGuest(t testing.TB, rt *host.Runtime, pkg string) *host.Guest {
	t.Helper()
	g, err := rt.LoadFile(context.Background(), BuildGuest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// HostRecord returns rec as the host sends it to a guest in a sync with
// options o: its schema transformed (schema.Transform) and the internal
// columns filled. The caller releases it.
func HostRecord(t testing.TB, rec arrow.RecordBatch, o schema.Options) arrow.RecordBatch {
	t.Helper()
	out, err := schema.Transform(rec.Schema(), o)
	if err != nil {
		t.Fatal(err)
	}
	app, err := schema.NewAppender(out, o, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.Apply(rec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
