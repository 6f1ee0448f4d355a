package testenv

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/host"
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
// empty c.CacheDir (with no c.Cache) is the tests' shared compilation cache
// (CacheDir) and a nil c.Logger is Logger(t, hclog.Warn).
func Runtime(t testing.TB, c host.Config) *host.Runtime {
	t.Helper()
	if c.CacheDir == "" && c.Cache == nil {
		c.CacheDir = CacheDir(t)
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

// LoadGuest loads the Go guest package pkg (see BuildGuest) into rt.
func LoadGuest(t testing.TB, rt *host.Runtime, pkg string) *host.Guest {
	t.Helper()
	g, err := rt.LoadFile(context.Background(), BuildGuest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return g
}
