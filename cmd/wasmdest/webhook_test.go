package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// hook is a real local webhook receiver: it checks the bearer token, may
// refuse the first requests with 503, and keeps every row it got.
type hook struct {
	*httptest.Server
	token    string
	refuse   atomic.Int64 // answer 503 to this many requests first
	mu       sync.Mutex
	requests int
	bodies   []int // body sizes
	rows     map[string][]string
	tables   map[string]int
	headers  []nethttp.Header
	badAuth  int
}

func newHook(t *testing.T, token string, refuse int64) *hook {
	h := &hook{token: token, rows: map[string][]string{}, tables: map[string]int{}}
	h.refuse.Store(refuse)
	h.Server = httptest.NewServer(nethttp.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) serve(w nethttp.ResponseWriter, r *nethttp.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if r.Header.Get("Authorization") != "Bearer "+h.token {
		h.badAuth++
		nethttp.Error(w, "bad token", nethttp.StatusUnauthorized)
		return
	}
	if h.refuse.Add(-1) >= 0 {
		nethttp.Error(w, "try later", nethttp.StatusServiceUnavailable)
		return
	}
	table := r.Header.Get("X-Wasmdest-Table")
	h.tables[table]++
	h.bodies = append(h.bodies, len(body))
	h.headers = append(h.headers, r.Header.Clone())
	switch r.Header.Get("Content-Type") {
	case "application/x-ndjson":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				nethttp.Error(w, "bad JSON line: "+err.Error(), nethttp.StatusBadRequest)
				return
			}
			h.rows[table] = append(h.rows[table], fmt.Sprint(row[keyOf(table)]))
		}
	case "application/vnd.apache.arrow.stream":
		rd, err := ipc.NewReader(bytes.NewReader(body))
		if err != nil {
			nethttp.Error(w, "bad Arrow stream: "+err.Error(), nethttp.StatusBadRequest)
			return
		}
		for rd.Next() {
			rec := rd.RecordBatch()
			i := rec.Schema().FieldIndices(keyOf(table))
			if len(i) != 1 {
				nethttp.Error(w, "no key column", nethttp.StatusBadRequest)
				return
			}
			for row := range int(rec.NumRows()) {
				h.rows[table] = append(h.rows[table], rec.Column(i[0]).ValueStr(row))
			}
		}
		if rd.Err() != nil {
			nethttp.Error(w, "bad Arrow stream: "+rd.Err().Error(), nethttp.StatusBadRequest)
			return
		}
		rd.Release()
	default:
		nethttp.Error(w, "unexpected content type", nethttp.StatusUnsupportedMediaType)
		return
	}
	w.WriteHeader(nethttp.StatusNoContent)
}

// keyOf is the key column of a demo table.
func keyOf(table string) string {
	if table == "demo_orders" {
		return "order_id"
	}
	return "id"
}

// webhookConfig writes a configuration sending to h, with the bearer token
// from the environment variable WEBHOOK_TEST_TOKEN.
func webhookConfig(t *testing.T, h *hook, format string, maxBody int) string {
	t.Helper()
	t.Setenv("WEBHOOK_TEST_TOKEN", h.token)
	cfg := filepath.Join(t.TempDir(), "wasmdest.toml")
	src := fmt.Sprintf(`[[destination]]
name = "hook"
registry = "local"
path = %q
write_mode = "append"
[destination.spec]
url = "%s/ingest/{{TABLE}}?sync={{SYNC_ID}}"
format = %q
max_body_bytes = %d
batch_size = 700
headers = { "X-Source" = "test" }
[destination.spec.http]
allow = [%q]
allow_private = true
[destination.spec.http.auth]
type = "bearer"
token = "${WEBHOOK_TEST_TOKEN}"
`, testenv.BuildGuest(t, "guests/webhook"), h.URL, format, maxBody, h.URL)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// demoInput returns the demo dataset's files as --input arguments.
func demoInput(t *testing.T) []string {
	t.Helper()
	var args []string
	for _, f := range []string{"demo_orders.arrows", "demo_users.arrows"} {
		in := filepath.Join(t.TempDir(), f)
		b, _ := demoData.ReadFile("demodata/" + f)
		if err := os.WriteFile(in, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--input", in)
	}
	return args
}

// TestWebhookDeliversEveryRowOnce: `wasmdest run` sends the demo data to a
// local webhook in both formats: batches are split by max_body_bytes into
// requests of whole rows, the first requests are refused with 503 and
// retried by the host, the bearer token comes from the host's
// configuration, and every row arrives exactly once.
func TestWebhookDeliversEveryRowOnce(t *testing.T) {
	tables := demoTables(t)
	for _, format := range []string{"json", "arrow"} {
		t.Run(format, func(t *testing.T) {
			h := newHook(t, "tok-"+format+"-SECRET", 2)
			const maxBody = 32 << 10
			code, stdout, stderr := wasmdest(t, append([]string{"run", "--config", webhookConfig(t, h, format, maxBody)}, demoInput(t)...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.badAuth != 0 {
				t.Errorf("%d requests without the host's token", h.badAuth)
			}
			for name, rec := range tables {
				got := h.rows[name]
				want := int(rec.NumRows())
				ids := slices.Clone(got)
				slices.Sort(ids)
				ids = slices.Compact(ids)
				if len(got) != want || len(ids) != want {
					t.Errorf("table %s: %d rows received, %d distinct; want each of %d once", name, len(got), len(ids), want)
				}
				if h.tables[name] < 2 {
					t.Errorf("table %s came in %d requests: batches were not split", name, h.tables[name])
				}
			}
			for i, n := range h.bodies {
				if n > maxBody {
					t.Errorf("request %d: body of %d bytes, over max_body_bytes %d", i, n, maxBody)
				}
			}
			for _, hd := range h.headers {
				if hd.Get("X-Source") != "test" {
					t.Fatalf("a request lacks the spec's header: %v", hd)
				}
			}
			if h.requests != len(h.bodies)+2 {
				t.Errorf("%d requests for %d deliveries and 2 refusals", h.requests, len(h.bodies))
			}
			if strings.Contains(stdout+stderr, "SECRET") {
				t.Errorf("the output shows the token:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// TestWebhookRefusalSaysStatusAndExcerpt: a server that refuses a batch
// fails the run with its status and the start of its answer, naming the
// request, without the token.
func TestWebhookRefusalSaysStatusAndExcerpt(t *testing.T) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(nethttp.StatusUnprocessableEntity)
		io.WriteString(w, `{"error":"field amount must be positive"}`+strings.Repeat(" padding", 200))
	}))
	defer srv.Close()
	h := &hook{Server: srv, token: "tok-REFUSED-SECRET"}
	code, stdout, stderr := wasmdest(t, append([]string{"run", "--config", webhookConfig(t, h, "json", 1<<20)}, demoInput(t)...)...)
	out := stdout + stderr
	if code == 0 {
		t.Fatalf("exit 0 from a refusing server\n%s", out)
	}
	for _, want := range []string{
		"POST " + srv.URL + "/ingest/demo_",
		"the server answered 422",
		`field amount must be positive`,
		" ...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the error lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") || strings.Contains(out, "sync=") {
		t.Errorf("the error shows the token or the URL's query:\n%s", out)
	}
}

// TestWebhookRefusedOrigin: a url outside http.allow fails before any
// connection, naming the origin and the allowlist.
func TestWebhookRefusedOrigin(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, st nethttp.ConnState) {
		if st == nethttp.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	h := &hook{Server: srv, token: "t"}
	cfg := webhookConfig(t, h, "json", 1<<20)
	b, _ := os.ReadFile(cfg)
	// The url names localhost, the allowlist 127.0.0.1: not the same origin.
	src := strings.Replace(string(b), "url = \"http://127.0.0.1", "url = \"http://localhost", 1)
	os.WriteFile(cfg, []byte(src), 0o644)
	code, stdout, stderr := wasmdest(t, append([]string{"run", "--config", cfg}, demoInput(t)...)...)
	if code == 0 || !strings.Contains(stdout+stderr, "is not allowed (allow: "+srv.URL+")") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if conns.Load() != 0 {
		t.Errorf("%d connections to the server", conns.Load())
	}
}

// TestInspectShowsHTTP: inspect names the http capability, what it
// guarantees, and its secret key.
func TestInspectShowsHTTP(t *testing.T) {
	code, stdout, stderr := wasmdest(t, "inspect", testenv.BuildGuest(t, "guests/webhook"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"http", "http_* host functions", "allow_private", "codec"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect does not show %q:\n%s", want, stdout)
		}
	}
}
