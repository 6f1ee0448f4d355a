package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// lockedBuffer collects the server's log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// live is a server on a loopback port with its tenants file.
type live struct {
	t      testing.TB
	srv    *serve.Server
	addr   string
	http   *httptest.Server
	config string
	dir    string
	logs   *lockedBuffer
	tokens map[string]string
}

// tenantSpec is a tenant of a test tenants file.
type tenantSpec struct {
	name  string
	extra string // more tenant keys, TOML
	dests string // [[tenant.destination]] tables, TOML
}

func (l *live) writeConfig(tenants ...tenantSpec) {
	var b strings.Builder
	for _, t := range tenants {
		tok, ok := l.tokens[t.name]
		if !ok {
			tok = "token-of-" + t.name + "-" + fmt.Sprint(time.Now().UnixNano())
			l.tokens[t.name] = tok
		}
		grant := "grant = [\"filesystem\"]\n"
		if strings.Contains(t.extra, "grant =") {
			grant = ""
		}
		fmt.Fprintf(&b, "[[tenant]]\nname = %q\ntoken_sha256 = %q\nroot = %q\n%s%s\n%s\n",
			t.name, serve.HashToken(tok), filepath.Join(l.dir, "tenants", t.name), grant, t.extra, t.dests)
	}
	if err := os.WriteFile(l.config, []byte(b.String()), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func startServer(t testing.TB, opts serve.Options, tenants ...tenantSpec) *live {
	t.Helper()
	dir := t.TempDir()
	l := &live{t: t, dir: dir, config: filepath.Join(dir, "tenants.toml"), logs: &lockedBuffer{}, tokens: map[string]string{}}
	l.writeConfig(tenants...)
	return l.start(opts)
}

// replica starts another server on l's tenants file, with its tokens.
func (l *live) replica(opts serve.Options) *live {
	r := &live{t: l.t, dir: l.dir, config: l.config, logs: &lockedBuffer{}, tokens: l.tokens}
	return r.start(opts)
}

// start serves l's tenants file on a loopback port. Options.Advertise
// "auto" advertises that port.
func (l *live) start(opts serve.Options) *live {
	t := l.t
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Advertise == "auto" {
		opts.Advertise = "grpc+tcp://" + lis.Addr().String()
	}
	opts.ConfigPath = l.config
	opts.Cache = testenv.Cache(t)
	opts.CacheDir = testenv.CacheDir(t) // Cache's directory, for the compile child
	if opts.CompileExecutable == "" {
		opts.CompileExecutable = compileExecutable(t)
	}
	opts.LogOutput = l.logs
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Info
	}
	opts.Log = hclog.New(&hclog.LoggerOptions{Name: "serve", Level: hclog.Info, Output: l.logs})
	ctx := context.Background()
	srv, err := serve.New(ctx, opts)
	if err != nil {
		lis.Close()
		t.Fatal(err)
	}
	go srv.ServeFlight(lis)
	l.srv, l.addr = srv, lis.Addr().String()
	l.http = httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(func() {
		l.http.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Close(sctx)
		if t.Failed() {
			t.Logf("server log:\n%s", tail(l.logs.String(), 60))
		}
	})
	return l
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (l *live) client(tenant string) *serve.Client {
	l.t.Helper()
	return l.dial(l.tokens[tenant])
}

func (l *live) dial(token string) *serve.Client {
	l.t.Helper()
	c, err := serve.Dial(l.addr, token)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	return c
}

func (l *live) metrics() string {
	l.t.Helper()
	resp, err := http.Get(l.http.URL + "/metrics")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Guests used by the tests.
func fileGuest(t testing.TB) string  { return testenv.BuildGuest(t, "guests/file") }
func misbehave(t testing.TB) string  { return testenv.BuildGuest(t, "host/testdata/guests/misbehave") }
func hostile(t testing.TB) string    { return testenv.BuildGuest(t, "host/testdata/guests/hostile") }
func pgnocap(t testing.TB) string    { return testenv.BuildGuest(t, "host/testdata/guests/pgnocap") }
func pgprobe(t testing.TB) string    { return testenv.BuildGuest(t, "host/testdata/guests/pgprobe") }
func abiv2Guest(t testing.TB) string { return testenv.BuildGuest(t, "host/testdata/guests/abiv2") }

// fileDest is a file guest destination writing JSON Lines, one file per batch.
func fileDest(t testing.TB, name string) string {
	return fmt.Sprintf("[[tenant.destination]]\nname = %q\nregistry = \"local\"\npath = %q\nwrite_mode = \"append\"\n[tenant.destination.spec]\npath = \"{{TABLE}}/{{UUID}}.{{FORMAT}}\"\nformat = \"json\"\nbatch_size = 2000\n",
		name, fileGuest(t))
}

// guestDest is a destination of any test guest with a JSON spec.
func guestDest(name, wasm, writeMode, spec string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[tenant.destination]]\nname = %q\nregistry = \"local\"\npath = %q\nwrite_mode = %q\n[tenant.destination.spec]\n", name, wasm, writeMode)
	var m map[string]any
	if err := json.Unmarshal([]byte(spec), &m); err != nil {
		panic(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := json.Marshal(m[k])
		if _, isMap := m[k].(map[string]any); isMap {
			// TOML inline table from JSON object of strings.
			var parts []string
			for kk, vv := range m[k].(map[string]any) {
				vb, _ := json.Marshal(vv)
				parts = append(parts, fmt.Sprintf("%s = %s", kk, vb))
			}
			sort.Strings(parts)
			fmt.Fprintf(&b, "%s = { %s }\n", k, strings.Join(parts, ", "))
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	return b.String()
}

var usersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func users(from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, usersSchema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user %d", i))
	}
	return b.NewRecordBatch()
}

// batches makes n records of size rows each, ids from from on.
func batches(from, n, size int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := 0; i < n; i++ {
		out = append(out, users(from+i*size, size))
	}
	return out
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// fileIDs reads every JSON Lines file the file guest wrote for table below
// dir and returns how often each id occurs.
func fileIDs(t testing.TB, dir, table string) map[int64]int {
	t.Helper()
	ids := map[int64]int{}
	files, _ := filepath.Glob(filepath.Join(dir, table, "*.json"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var row struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			ids[row.ID]++
		}
		fh.Close()
	}
	return ids
}

// checkIDs fails unless ids holds each of [0, n) exactly once.
func checkIDs(t testing.TB, what string, ids map[int64]int, n int) {
	t.Helper()
	lost, dup := 0, 0
	for i := 0; i < n; i++ {
		switch c := ids[int64(i)]; {
		case c == 0:
			lost++
		case c > 1:
			dup++
		}
	}
	if lost > 0 || dup > 0 || len(ids) != n {
		t.Errorf("%s: %d ids of %d lost, %d duplicated, %d distinct", what, lost, n, dup, len(ids))
	}
}

var _ = abi.WriteModeAppend
