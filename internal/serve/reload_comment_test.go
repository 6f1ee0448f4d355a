package serve_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/serve"
)

// lastReload is the "changed=N" of the last "tenants loaded" log line.
func lastReload(t *testing.T, l *live) string {
	t.Helper()
	lines := strings.Split(l.logs.String(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "tenants loaded") {
			for _, f := range strings.Fields(lines[i]) {
				if strings.HasPrefix(f, "changed=") {
					return f
				}
			}
		}
	}
	t.Fatalf("no reload logged:\n%s", l.logs.String())
	return ""
}

// A reload compares the parsed configuration: comments and blank lines,
// which move every line below them, change no tenant; a changed value does.
func TestReloadIgnoresCommentsAndPositions(t *testing.T) {
	ctx := context.Background()
	acme := tenantSpec{name: "acme", dests: guestDest("d", misbehave(t), "append", `{}`)}
	globex := tenantSpec{name: "globex", dests: guestDest("d", misbehave(t), "append", `{}`)}
	l := startServer(t, serve.Options{}, acme, globex)
	b, err := os.ReadFile(l.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.config, append([]byte("# tenants of the staging cluster\n\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastReload(t, l); got != "changed=0" {
		t.Errorf("a comment line: reload says %s, want changed=0", got)
	}
	acme.extra = "max_syncs = 3\n"
	l.writeConfig(acme, globex)
	if err := l.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastReload(t, l); got != "changed=1" {
		t.Errorf("one tenant's max_syncs changed: reload says %s, want changed=1", got)
	}
}
