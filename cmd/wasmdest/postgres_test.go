package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// demoInputs writes the demo dataset's tables as files, the users table cut
// to its first users rows.
func demoInputs(t *testing.T, users int64) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for table, rec := range demoTables(t) {
		if table == "demo_users" {
			cut := rec.NewSlice(0, users)
			rec.Release()
			rec = cut
		}
		p := filepath.Join(dir, table+".arrows")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := ipc.NewWriter(f, ipc.WithSchema(rec.Schema()))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
		f.Close()
		rec.Release()
		paths = append(paths, p)
	}
	return paths
}

func count(t *testing.T, url, table string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("select count(*) from %q", table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresWriteModes loads the two-table demo dataset into PostgreSQL
// through `wasmdest run` with the builtin postgres guest, twice per write
// mode, and counts what the modes promise.
func TestPostgresWriteModes(t *testing.T) {
	cases := []struct {
		mode string
		// users after the first run (all 500) and after a second run of
		// the first 300 users.
		second int64
	}{
		{"append", 800},
		{"overwrite", 500},
		{"overwrite-delete-stale", 300},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			url := testenv.PostgresURL(t)
			t.Setenv("WASMDEST_TEST_URL", url)
			cfg := filepath.Join(t.TempDir(), "wasmdest.toml")
			src := fmt.Sprintf("[[destination]]\nname = \"pg\"\npath = \"postgres\"\nwrite_mode = %q\nsend_sync_summary = true\n[destination.spec]\nconnection_string = \"${WASMDEST_TEST_URL}\"\n", c.mode)
			if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			for i, users := range []int64{500, 300} {
				// Two writers: append batches go over two instances at once.
				args := append([]string{"run", "--config", cfg, "--source-name", "demo", "--writers", "2"}, demoInputs(t, users)...)
				code, stdout, stderr := wasmdest(t, args...)
				if code != 0 {
					t.Fatalf("run %d: exit %d\n%s\n%s", i+1, code, stdout, stderr)
				}
			}
			if got := count(t, url, "demo_users"); got != c.second {
				t.Errorf("demo_users has %d rows after two runs, want %d", got, c.second)
			}
			wantOrders := int64(2000)
			if c.mode == "append" {
				wantOrders = 4000
			}
			if got := count(t, url, "demo_orders"); got != wantOrders {
				t.Errorf("demo_orders has %d rows, want %d", got, wantOrders)
			}
			if got := count(t, url, "cloudquery_sync_summaries"); got != 2 {
				t.Errorf("cloudquery_sync_summaries has %d rows, want 2", got)
			}
		})
	}
}

// TestSwitchingWriteModeNeedsForced: a table written in append mode (no key)
// cannot silently become an overwrite table (keyed), nor back, unless
// migrate_mode is forced.
func TestSwitchingWriteModeNeedsForced(t *testing.T) {
	url := testenv.PostgresURL(t)
	t.Setenv("WASMDEST_TEST_URL", url)
	dir := t.TempDir()
	inputs := demoInputs(t, 500)
	runMode := func(mode, migrate string) (int, string) {
		cfg := filepath.Join(dir, "wasmdest.toml")
		src := fmt.Sprintf("[[destination]]\nname = \"pg\"\npath = \"postgres\"\nwrite_mode = %q\nmigrate_mode = %q\n[destination.spec]\nconnection_string = \"${WASMDEST_TEST_URL}\"\n", mode, migrate)
		if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := wasmdest(t, append([]string{"run", "--config", cfg}, inputs...)...)
		return code, stdout + stderr
	}
	if code, out := runMode("append", "safe"); code != 0 {
		t.Fatalf("append: %s", out)
	}
	code, out := runMode("overwrite", "safe")
	if code == 0 || !strings.Contains(out, "Can't migrate tables automatically") || !strings.Contains(out, "migrate_mode: forced") {
		t.Fatalf("switching to overwrite was not refused (exit %d):\n%s", code, out)
	}
	if got := count(t, url, "demo_users"); got != 500 {
		t.Errorf("the refused run changed demo_users: %d rows, want 500", got)
	}
	if code, out := runMode("overwrite", "forced"); code != 0 {
		t.Fatalf("forced: %s", out)
	}
	if got := count(t, url, "demo_users"); got != 500 {
		t.Errorf("after the forced recreate demo_users has %d rows, want 500", got)
	}
	if code, out := runMode("append", "safe"); code == 0 {
		t.Errorf("switching back to append was not refused:\n%s", out)
	}
}
