package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func newRuntime(t *testing.T, c host.Config) *host.Runtime {
	t.Helper()
	if c.CacheDir == "" {
		c.CacheDir = testenv.CacheDir(t)
	}
	if c.Logger == nil {
		c.Logger = hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: testWriter{t}})
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func load(t *testing.T, rt *host.Runtime, pkg string) *host.Guest {
	t.Helper()
	g, err := rt.LoadFile(context.Background(), testenv.BuildGuest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return g
}
