package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	httpcap "github.com/wasmdest/wasmdest/host/capability/http"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// server is a real local HTTP server that counts the connections made to
// it and records the requests it got.
type server struct {
	*httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	reqs  []recorded
}

type recorded struct {
	Method, URL string
	Header      nethttp.Header
	Host        string
	BodyLen     int64
	BodySHA     string
	Body        []byte // the first 1 MiB
}

func newServer(t *testing.T, h nethttp.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		sum := sha256.New()
		var head []byte
		buf := make([]byte, 32<<10)
		var n int64
		for {
			k, err := r.Body.Read(buf)
			sum.Write(buf[:k])
			if len(head) < 1<<20 {
				head = append(head, buf[:min(k, 1<<20-len(head))]...)
			}
			n += int64(k)
			if err != nil {
				break
			}
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, recorded{Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Host: r.Host, BodyLen: n, BodySHA: hex.EncodeToString(sum.Sum(nil)), Body: head})
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st nethttp.ConnState) {
		if st == nethttp.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// step and result are the httpprobe guest's script and output.
type step struct {
	abi.HTTPRequest
	Body      string `json:"body,omitempty"`
	BodySize  int64  `json:"body_size,omitempty"`
	Chunk     int    `json:"chunk,omitempty"`
	LeaveOpen bool   `json:"leave_open,omitempty"`
	Spec      bool   `json:"spec,omitempty"`
}

type result struct {
	Stage   string         `json:"stage"`
	Error   string         `json:"error"`
	Status  int            `json:"status"`
	Header  abi.HTTPHeader `json:"header"`
	Body    string         `json:"body"`
	BodyLen int64          `json:"body_len"`
	Spec    string         `json:"spec"`
}

var resultSchema = arrow.NewSchema([]arrow.Field{{Name: "result", Type: arrow.BinaryTypes.String}}, nil)

// probe runs the httpprobe guest with the capability opened from spec's
// http key (as a destination's spec), the guest getting spec without it.
func probe(t *testing.T, spec map[string]any, timeout time.Duration) *host.Pool {
	t.Helper()
	return probeWith(t, httpcap.Capability(), spec, timeout)
}

// probeWith is probe with the capability c.
func probeWith(t *testing.T, c host.Capability, spec map[string]any, timeout time.Duration) *host.Pool {
	t.Helper()
	ctx := context.Background()
	gr, err := c.Open(ctx, host.OpenRequest{Destination: "test", Spec: spec, Logger: testenv.Logger(t, hclog.Warn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gr.Close() })
	guestSpec := map[string]any{}
	for k, v := range spec {
		if k != httpcap.SpecKey {
			guestSpec[k] = v
		}
	}
	b, _ := json.Marshal(guestSpec)
	rt := testenv.Runtime(t, host.Config{})
	g := testenv.LoadGuest(t, rt, "host/testdata/guests/httpprobe")
	p, err := g.NewPool(host.PoolConfig{Grants: []host.Grant{gr}, Init: &abi.InitRequest{Destination: "test", Spec: b}, CallTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

// run runs steps in one operation of p and returns what the guest saw.
func run(t *testing.T, p *host.Pool, steps ...step) []result {
	t.Helper()
	script, _ := json.Marshal(steps)
	var out strings.Builder
	w := &writer{&out}
	if err := p.Call(context.Background(), nil, abi.OpRead, abi.TableRequest{Table: string(script)}, host.RecordBody(resultSchema), w); err != nil {
		t.Fatal(err)
	}
	_, recs, err := host.ReadRecords(strings.NewReader(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	var res []result
	for _, rec := range recs {
		col := rec.Column(0).(*array.String)
		for i := range col.Len() {
			var r result
			if err := json.Unmarshal([]byte(col.Value(i)), &r); err != nil {
				t.Fatal(err)
			}
			res = append(res, r)
		}
		rec.Release()
	}
	if len(res) != len(steps) {
		t.Fatalf("%d results for %d steps", len(res), len(steps))
	}
	return res
}

type writer struct{ b *strings.Builder }

func (w *writer) Write(p []byte) (int, error) { return w.b.Write(p) }

func httpSpec(allowPrivate bool, allow ...string) map[string]any {
	a := make([]any, len(allow))
	for i, s := range allow {
		a[i] = s
	}
	return map[string]any{"http": map[string]any{"allow": a, "allow_private": allowPrivate}}
}

func get(url string) step { return step{HTTPRequest: abi.HTTPRequest{Method: "GET", URL: url}} }

// TestParseOrigin: allowlist entries are parsed strictly and normalised;
// hosts that are IPv4 addresses in odd forms are refused.
func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://API.Example.COM":    "https://api.example.com:443",
		"http://example.com/":        "http://example.com:80",
		"http://127.0.0.1:9000":      "http://127.0.0.1:9000",
		"https://[::1]:8443":         "https://[::1]:8443",
		"http://[0:0:0:0:0:0:0:1]":   "http://[::1]:80",
		"https://example.com.":       "https://example.com:443",
		"https://s3.eu-west-1.aws.x": "https://s3.eu-west-1.aws.x:443",
	} {
		o, err := httpcap.ParseOrigin(in)
		if err != nil || o.String() != want {
			t.Errorf("ParseOrigin(%q) = %v, %v; want %s", in, o, err, want)
		}
	}
	for in, want := range map[string]string{
		"ftp://example.com":           "only http and https",
		"https://example.com/path":    "only scheme, host and port",
		"https://u:p@example.com":     "only scheme, host and port",
		"https://example.com?x=1":     "only scheme, host and port",
		"http://2130706433":           "non-standard form",
		"http://0x7f.1":               "non-standard form",
		"http://127.1":                "non-standard form",
		"http://0177.0.0.1":           "non-standard form",
		"http://0x7f000001":           "non-standard form",
		"http://example.com:0":        "not a port",
		"http://example.com:99999":    "not a port",
		"http://[fe80::1%25eth0]:80":  "zones",
		"http://exa mple.com":         "",
		"http://例え.jp":                "punycode",
		"example.com":                 "give only scheme, host and port",
		"http://example.com:80:80":    "",
		"https://[::ffff:127.0.0.1]x": "",
	} {
		_, err := httpcap.ParseOrigin(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOrigin(%q): %v; want an error containing %q", in, err, want)
		}
	}
}

// TestParseConfig: defaults, errors naming the key, the S3 allowlists.
func TestParseConfig(t *testing.T) {
	cfg, err := httpcap.ParseConfig(httpSpec(false, "https://api.example.com"))
	if err != nil || cfg.Timeout != httpcap.DefaultTimeout || cfg.MaxConcurrency != 4 || cfg.MaxRetries != 3 || cfg.AllowPrivate {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for _, c := range []struct {
		spec map[string]any
		want string
	}{
		{map[string]any{}, "the spec has no http key"},
		{map[string]any{"http": "x"}, "must be an object"},
		{map[string]any{"http": map[string]any{"allow": []any{}}}, "http.allow is empty"},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example"}, "alow_private": true}}, `unknown field "alow_private"`},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example"}, "timeout": "soon"}}, `http.timeout "soon"`},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example"}, "auth": map[string]any{"type": "bearer"}}}, "http.auth: type bearer needs token"},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example"}, "auth": map[string]any{"type": "oauth", "token": "SECRET1"}}}, `type "oauth" is not one of`},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example"}, "auth": map[string]any{"type": "aws_sigv4", "access_key_id": "AK"}}}, "needs region"},
		{map[string]any{"region": "x", "http": map[string]any{"allow": []any{"https://a.example"}, "auth": map[string]any{"type": "aws_sigv4", "access_key_id": "AK"}}}, "both access_key_id and secret_access_key"},
		{map[string]any{"http": map[string]any{"allow": []any{"https://a.example/x"}}}, "http.allow[0]"},
	} {
		_, err := httpcap.ParseConfig(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error containing %q", c.spec, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET1") {
			t.Errorf("an error quotes a secret: %v", err)
		}
	}
	// aws_sigv4 without allow: the endpoint's origin, or AWS's regional ones.
	cfg, err = httpcap.ParseConfig(map[string]any{"endpoint": "http://127.0.0.1:9000", "region": "us-east-1", "http": map[string]any{"auth": map[string]any{"type": "aws_sigv4", "access_key_id": "a", "secret_access_key": "b"}}})
	if err != nil || len(cfg.Allow) != 1 || cfg.Allow[0].String() != "http://127.0.0.1:9000" || cfg.Auth.Region != "us-east-1" || cfg.Auth.Service != "s3" {
		t.Errorf("endpoint: %+v, %v", cfg, err)
	}
	cfg, err = httpcap.ParseConfig(map[string]any{"bucket": "My-Bucket", "region": "eu-west-1", "http": map[string]any{"auth": map[string]any{"type": "aws_sigv4", "access_key_id": "a", "secret_access_key": "b"}}})
	if err != nil || len(cfg.Allow) != 2 || cfg.Allow[0].String() != "https://s3.eu-west-1.amazonaws.com:443" || cfg.Allow[1].String() != "https://my-bucket.s3.eu-west-1.amazonaws.com:443" {
		t.Errorf("region: %+v, %v", cfg.Allow, err)
	}
}

// TestCapabilityMetadata: the whole http key is a secret; inspect's line
// names the capability's guarantees.
func TestCapabilityMetadata(t *testing.T) {
	c := httpcap.Capability()
	if c.Name() != abi.CapHTTP || len(c.SecretKeys()) != 1 || c.SecretKeys()[0] != "http" {
		t.Errorf("name %s, secret keys %v", c.Name(), c.SecretKeys())
	}
	if !strings.Contains(c.Describe(), "allow_private") {
		t.Errorf("Describe: %s", c.Describe())
	}
	if len(c.Functions()) != 5 {
		t.Errorf("%d functions", len(c.Functions()))
	}
}

// TestAllowlistRefusesBeforeConnecting: an origin outside the allowlist, in
// whatever form, is refused by http_open: the server never sees a
// connection.
func TestAllowlistRefusesBeforeConnecting(t *testing.T) {
	s := newServer(t, nil)
	port := s.port()
	p := probe(t, httpSpec(true, "http://127.0.0.1:"+port), time.Minute)
	refused := []string{
		"http://localhost:" + port + "/",
		"https://127.0.0.1:" + port + "/",
		"http://127.0.0.1:1/",
		"http://2130706433:" + port + "/",
		"http://0x7f.1:" + port + "/",
		"http://0x7f000001:" + port + "/",
		"http://127.1:" + port + "/",
		"http://0177.0.0.1:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://user:pw@127.0.0.1:" + port + "/",
		"ftp://127.0.0.1:" + port + "/",
		"/relative",
	}
	var steps []step
	for _, u := range refused {
		steps = append(steps, get(u))
	}
	for i, r := range run(t, p, steps...) {
		if r.Stage != "open" || r.Error == "" {
			t.Errorf("%s: %+v; want refused at open", refused[i], r)
		}
	}
	if n := s.conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections from refused requests", n)
	}
	res := run(t, p, get("http://127.0.0.1:"+port+"/ok?x=1"))
	if res[0].Status != 200 || res[0].Body != "ok" {
		t.Fatalf("allowed request: %+v", res[0])
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	// The refusal names the method, the URL without its query, the origin
	// and the allowlist.
	res = run(t, p, step{HTTPRequest: abi.HTTPRequest{Method: "put", URL: "http://127.0.0.1:1/k?token=SECRET2"}})
	want := "http PUT http://127.0.0.1:1/k: origin http://127.0.0.1:1 is not allowed (allow: http://127.0.0.1:" + port + ")"
	if !strings.Contains(res[0].Error, want) || strings.Contains(res[0].Error, "SECRET2") {
		t.Errorf("refusal: %q; want it to contain %q and no query", res[0].Error, want)
	}
}

// TestPrivateAddressesRefusedAtDial: without allow_private, an allowed
// origin whose address is loopback (a name resolving to it, IPv6, an
// IPv4-mapped IPv6 literal) is refused when dialled, before connecting.
func TestPrivateAddressesRefusedAtDial(t *testing.T) {
	s := newServer(t, nil)
	port := s.port()
	urls := []string{
		"http://127.0.0.1:" + port + "/",
		"http://localhost:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::ffff:7f00:1]:" + port + "/",
	}
	p := probe(t, httpSpec(false, urls...), time.Minute)
	var steps []step
	for _, u := range urls {
		steps = append(steps, get(u+"x?q=SECRET3"))
	}
	for i, r := range run(t, p, steps...) {
		if r.Stage != "send" || !strings.Contains(r.Error, "a loopback address: refused") || !strings.Contains(r.Error, "http GET "+urls[i]+"x:") || strings.Contains(r.Error, "SECRET3") {
			t.Errorf("%s: %+v; want refused at send, loopback, naming the request without its query", urls[i], r)
		}
	}
	if n := s.conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections", n)
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("refused requests were retried into %d requests", n)
	}
}

// TestCheckAddr: which addresses are refused without allow_private.
func TestCheckAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.255.0.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "100.64.0.1": "non-public", "0.1.2.3": "non-public",
		"255.255.255.255": "non-public", "64:ff9b::7f00:1": "non-public", "2002:7f00:1::": "non-public",
		"::ffff:10.0.0.1": "private", "::127.0.0.1": "non-public",
		"8.8.8.8": "", "1.1.1.1": "", "2606:4700:4700::1111": "",
	} {
		if got := httpcap.CheckAddr(addr); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// TestRedirects: a redirect inside the allowlist is followed; one out of
// it fails the request before the other server sees a connection.
func TestRedirects(t *testing.T) {
	other := newServer(t, nil)
	var s *server
	s = newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/in":
			nethttp.Redirect(w, r, "/final", nethttp.StatusFound)
		case "/out":
			nethttp.Redirect(w, r, other.URL+"/stolen", nethttp.StatusTemporaryRedirect)
		case "/odd":
			nethttp.Redirect(w, r, "http://2130706433:"+s.port()+"/final", nethttp.StatusFound)
		default:
			io.WriteString(w, "final")
		}
	})
	p := probe(t, httpSpec(true, s.URL), time.Minute)
	res := run(t, p, get(s.URL+"/in"), get(s.URL+"/out"), get(s.URL+"/odd"))
	if res[0].Status != 200 || res[0].Body != "final" {
		t.Errorf("redirect inside: %+v", res[0])
	}
	if res[1].Stage != "send" || !strings.Contains(res[1].Error, "redirect to "+other.URL+"/stolen: origin "+other.URL+" is not allowed") {
		t.Errorf("redirect out: %+v", res[1])
	}
	if res[2].Stage != "send" || !strings.Contains(res[2].Error, "non-standard form") {
		t.Errorf("redirect to an odd literal: %+v", res[2])
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the other server saw %d connections", n)
	}
}

// TestAuth: the host adds the configured credentials to each request; the
// guest's spec, the response it sees and the errors never hold them; a
// guest cannot set credential headers itself.
func TestAuth(t *testing.T) {
	s := newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("X-Seen", "yes")
		io.WriteString(w, "ok")
	})
	for _, c := range []struct {
		auth   map[string]any
		header string
		want   string
	}{
		{map[string]any{"type": "bearer", "token": "tok-SECRET"}, "Authorization", "Bearer tok-SECRET"},
		{map[string]any{"type": "basic", "username": "u", "password": "pw-SECRET"}, "Authorization", "Basic dTpwdy1TRUNSRVQ="},
		{map[string]any{"type": "header", "name": "X-Api-Key", "value": "key-SECRET"}, "X-Api-Key", "key-SECRET"},
	} {
		t.Run(c.auth["type"].(string), func(t *testing.T) {
			spec := httpSpec(true, s.URL)
			spec["http"].(map[string]any)["auth"] = c.auth
			spec["other"] = "visible"
			p := probe(t, spec, time.Minute)
			before := len(s.requests())
			res := run(t, p,
				step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL + "/hook", Header: abi.HTTPHeader{"Content-Type": {"application/json"}}}, Body: `{"a":1}`},
				step{HTTPRequest: abi.HTTPRequest{URL: s.URL, Header: abi.HTTPHeader{c.header: {"mine"}}}},
				step{HTTPRequest: abi.HTTPRequest{URL: s.URL, Header: abi.HTTPHeader{"authorization": {"mine"}}}},
				get("http://127.0.0.1:1/refused"),
				step{Spec: true},
			)
			reqs := s.requests()[before:]
			if len(reqs) != 1 || reqs[0].Header.Get(c.header) != c.want || string(reqs[0].Body) != `{"a":1}` || reqs[0].Header.Get("Content-Type") != "application/json" {
				t.Fatalf("the server got %+v; want one request with %s: %s", reqs, c.header, c.want)
			}
			if res[0].Status != 200 || res[0].Header.Get("x-seen") != "yes" {
				t.Errorf("response: %+v", res[0])
			}
			for _, r := range res[1:3] {
				if r.Stage != "open" || !strings.Contains(r.Error, "is set by the host") {
					t.Errorf("a guest-set credential header: %+v", r)
				}
			}
			if res[4].Spec != `{"other":"visible"}` {
				t.Errorf("the guest's spec: %s", res[4].Spec)
			}
			all, _ := json.Marshal(res)
			if strings.Contains(string(all), "SECRET") {
				t.Errorf("the guest saw a secret: %s", all)
			}
		})
	}
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/(\d{8})/eu-central-1/s3/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// TestSigV4: the host signs requests with AWS Signature V4: a held body
// with its SHA-256, a streamed one as UNSIGNED-PAYLOAD. The signature is
// checked by signing the request the server got again, with the same
// clock and keys.
func TestSigV4(t *testing.T) {
	s := newServer(t, nil)
	spec := map[string]any{"region": "eu-central-1", "endpoint": s.URL, "http": map[string]any{"allow_private": true,
		"auth": map[string]any{"type": "aws_sigv4", "access_key_id": "AKIDTEST", "secret_access_key": "sk-SECRET", "session_token": "st-SECRET"}}}
	p := probe(t, spec, time.Minute)
	body := strings.Repeat("x", 1000)
	res := run(t, p,
		step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/bucket/dir/a b+c.csv?x-id=PutObject", Header: abi.HTTPHeader{"Content-Type": {"text/csv"}, "X-Amz-Meta-Rows": {"3"}}}, Body: body},
		step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/bucket/big", ContentLength: 9 << 20}, BodySize: 9 << 20, Chunk: 1 << 20},
		step{HTTPRequest: abi.HTTPRequest{URL: s.URL + "/bucket", Header: abi.HTTPHeader{"X-Amz-Date": {"20200101T000000Z"}}}},
	)
	if res[0].Status != 200 || res[1].Status != 200 {
		t.Fatalf("responses: %+v", res[:2])
	}
	if res[2].Stage != "open" || !strings.Contains(res[2].Error, "X-Amz-Date is set by the host") {
		t.Errorf("a guest-set X-Amz-Date: %+v", res[2])
	}
	sum := sha256.Sum256([]byte(body))
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, want := range []string{hex.EncodeToString(sum[:]), httpcap.UnsignedPayload} {
		r := reqs[i]
		if got := r.Header.Get("X-Amz-Content-Sha256"); got != want {
			t.Errorf("request %d: X-Amz-Content-Sha256 %s, want %s", i, got, want)
		}
		if r.Header.Get("X-Amz-Security-Token") != "st-SECRET" {
			t.Errorf("request %d: no session token", i)
		}
		m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			t.Fatalf("request %d: Authorization %q", i, r.Header.Get("Authorization"))
		}
		if i == 0 && !strings.Contains(m[2], "x-amz-meta-rows") {
			t.Errorf("signed headers %s miss the guest's x-amz-meta-rows", m[2])
		}
		// Sign again what the server got, with the keys and the request's
		// own X-Amz-Date, and compare.
		when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			t.Fatal(err)
		}
		again, _ := nethttp.NewRequest(r.Method, "http://"+r.Host+r.URL, nil)
		for _, h := range strings.Split(m[2], ";") {
			if h != "host" {
				again.Header[nethttp.CanonicalHeaderKey(h)] = r.Header.Values(h)
			}
		}
		again.ContentLength = r.BodyLen
		creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "sk-SECRET", SessionToken: "st-SECRET"}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(context.Background(), creds, again, want, "s3", "eu-central-1", when); err != nil {
			t.Fatal(err)
		}
		if again.Header.Get("Authorization") != r.Header.Get("Authorization") {
			t.Errorf("request %d: signature differs from an independent signing:\n got  %s\n want %s", i, r.Header.Get("Authorization"), again.Header.Get("Authorization"))
		}
	}
	if reqs[1].BodyLen != 9<<20 || reqs[1].Header.Get("Content-Length") != "" && reqs[1].Header.Get("Content-Length") != fmt.Sprint(9<<20) {
		t.Errorf("streamed body: %d bytes", reqs[1].BodyLen)
	}
}

// TestRetries: 503 and 429 are retried with backoff until a success; a
// refusing status is returned as it is after the last retry; a streamed
// body is sent once.
func TestRetries(t *testing.T) {
	var calls atomic.Int64
	s := newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/flaky" && n <= 2:
			w.WriteHeader(nethttp.StatusServiceUnavailable)
		case r.URL.Path == "/busy" && n <= 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(nethttp.StatusTooManyRequests)
		case r.URL.Path == "/down" || r.URL.Path == "/streamed":
			w.WriteHeader(nethttp.StatusBadGateway)
			io.WriteString(w, "upstream down")
		default:
			io.WriteString(w, "ok")
		}
	})
	spec := httpSpec(true, s.URL)
	spec["http"].(map[string]any)["max_retries"] = 2
	p := probe(t, spec, time.Minute)
	check := func(st step, status, want int, body string) {
		t.Helper()
		calls.Store(0)
		before := len(s.requests())
		res := run(t, p, st)
		reqs := s.requests()[before:]
		if res[0].Status != status || res[0].Body != body || len(reqs) != want {
			t.Errorf("%s %s: %+v after %d requests; want status %d after %d", st.Method, st.URL, res[0], len(reqs), status, want)
		}
		for _, r := range reqs {
			if string(r.Body) != st.Body && st.BodySize == 0 {
				t.Errorf("a retry sent body %q, want %q", r.Body, st.Body)
			}
		}
	}
	check(step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL + "/flaky"}, Body: "payload"}, 200, 3, "ok")
	check(step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/busy"}, Body: "payload"}, 200, 2, "ok")
	check(step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL + "/down"}, Body: "payload"}, 502, 3, "upstream down")
	check(step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/streamed"}, BodySize: 9 << 20}, 502, 1, "upstream down")
}

// TestStreamedBody: a 64 MiB body written in 1 MiB chunks reaches the
// server whole while the host's heap stays far below the body's size.
func TestStreamedBody(t *testing.T) {
	const size = 64 << 20
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for {
			p := peak.Load()
			if ms.HeapInuse <= p || peak.CompareAndSwap(p, ms.HeapInuse) {
				return
			}
		}
	}
	var got atomic.Int64
	s := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		buf := make([]byte, 1<<20)
		h := sha256.New()
		var n int64
		for i := 0; ; i++ {
			k, err := io.ReadFull(r.Body, buf)
			h.Write(buf[:k])
			n += int64(k)
			if i%4 == 0 {
				sample()
			}
			if err != nil {
				break
			}
		}
		got.Store(n)
		fmt.Fprintf(w, "%d %s %s", n, hex.EncodeToString(h.Sum(nil)), r.Header.Get("Content-Length"))
	}))
	defer s.Close()
	p := probe(t, httpSpec(true, s.URL), 5*time.Minute)
	script := []step{
		{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL}, BodySize: size, Chunk: 1 << 20},
		{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL, ContentLength: size}, BodySize: size, Chunk: 1 << 20},
	}
	// A first run lets the guest's memory grow to what it needs (wazero
	// reallocates it on the host's heap); the second is measured.
	run(t, p, script...)
	mem := func() uint32 {
		in, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Release(context.Background(), in)
		return in.MemorySize()
	}
	guestBefore := mem()
	// Collect often, so that the heap in use is close to what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak.Store(0)
	res := run(t, p, script...)
	t.Logf("guest memory: %d MiB before, %d MiB after", guestBefore>>20, mem()>>20)
	want := sha256.New()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for range size >> 20 {
		want.Write(chunk)
	}
	sum := hex.EncodeToString(want.Sum(nil))
	if res[0].Body != fmt.Sprintf("%d %s ", size, sum) || res[1].Body != fmt.Sprintf("%d %s %d", size, sum, size) {
		t.Fatalf("the server got %q and %q", res[0].Body, res[1].Body)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("host heap in use: %d MiB before, peak %d MiB while streaming 2 x %d MiB", base>>20, peak.Load()>>20, size>>20)
	if growth > size/2 {
		t.Errorf("the host's heap grew by %d MiB while streaming a %d MiB body: it is not streamed", growth>>20, size>>20)
	}
}

// TestOperationEndAborts: a request the guest leaves open is aborted when
// the operation ends: the server sees its connection go away.
func TestOperationEndAborts(t *testing.T) {
	gone := make(chan struct{})
	s := newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path != "/endless" {
			io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(200)
		w.(nethttp.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				close(gone)
				return
			case <-time.After(10 * time.Millisecond):
				if _, err := io.WriteString(w, strings.Repeat("z", 64<<10)); err != nil {
					close(gone)
					return
				}
				w.(nethttp.Flusher).Flush()
			}
		}
	})
	spec := httpSpec(true, s.URL)
	spec["http"].(map[string]any)["max_concurrency"] = 1
	p := probe(t, spec, time.Minute)
	res := run(t, p, step{HTTPRequest: abi.HTTPRequest{URL: s.URL + "/endless"}, LeaveOpen: true})
	if res[0].Status != 200 {
		t.Fatalf("%+v", res[0])
	}
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("the request left open is still running 30 s after its operation ended")
	}
	// Its concurrency slot was given back: with max_concurrency 1 the
	// next request goes through.
	res = run(t, p, get(s.URL+"/ok"))
	if res[0].Status != 200 || res[0].Body != "ok" {
		t.Errorf("after the abort: %+v", res[0])
	}
}

// TestConcurrencyLimit: with max_concurrency 1, a second request waits for
// the first's slot, at most http.timeout.
func TestConcurrencyLimit(t *testing.T) {
	s := newServer(t, nil)
	spec := httpSpec(true, s.URL)
	spec["http"].(map[string]any)["max_concurrency"] = 1
	spec["http"].(map[string]any)["timeout"] = "1s"
	p := probe(t, spec, time.Minute)
	res := run(t, p, step{HTTPRequest: abi.HTTPRequest{URL: s.URL + "/a"}, LeaveOpen: true}, get(s.URL+"/b"))
	if res[0].Status != 200 || res[1].Stage != "send" || !strings.Contains(res[1].Error, "http.max_concurrency") || !strings.Contains(res[1].Error, "http GET "+s.URL+"/b") {
		t.Errorf("%+v", res)
	}
	res = run(t, p, get(s.URL+"/a"), get(s.URL+"/b"))
	if res[0].Status != 200 || res[1].Status != 200 {
		t.Errorf("sequential requests: %+v", res)
	}
}

// TestBadRequests: errors of misuse name the request.
func TestBadRequests(t *testing.T) {
	s := newServer(t, nil)
	p := probe(t, httpSpec(true, s.URL), time.Minute)
	res := run(t, p,
		step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/short", ContentLength: 10}, Body: "abc"},
		step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/long", ContentLength: 2}, Body: "abc"},
		step{HTTPRequest: abi.HTTPRequest{Method: "GE T", URL: s.URL}},
	)
	if res[0].Stage != "send" || !strings.Contains(res[0].Error, "http PUT "+s.URL+"/short: the body is 3 bytes, not its content_length 10") {
		t.Errorf("short body: %+v", res[0])
	}
	if res[1].Stage != "write" || !strings.Contains(res[1].Error, "longer than its content_length 2") {
		t.Errorf("long body: %+v", res[1])
	}
	if res[2].Stage != "open" || !strings.Contains(res[2].Error, "not an HTTP method") {
		t.Errorf("bad method: %+v", res[2])
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestCeiling: an operator's ceiling refuses allowlists beyond it and
// allow_private it does not allow, and caps request and response bodies.
func TestCeiling(t *testing.T) {
	s := newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, strings.Repeat("r", 3000))
	})
	if _, err := httpcap.WithCeiling(httpcap.Ceiling{}, `tenant "t"`); err == nil || !strings.Contains(err.Error(), `tenant "t": http: allow is empty`) {
		t.Errorf("empty ceiling: %v", err)
	}
	c, err := httpcap.WithCeiling(httpcap.Ceiling{Allow: []string{s.URL}, AllowPrivate: true, MaxRequestBytes: 1000, MaxResponseBytes: 2000}, `tenant "t"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(context.Background(), host.OpenRequest{Destination: "d", Spec: httpSpec(true, s.URL, "https://other.example")}); err == nil ||
		!strings.Contains(err.Error(), `destination "d": http: origin https://other.example:443 is outside what tenant "t" may reach`) {
		t.Errorf("allowlist beyond the ceiling: %v", err)
	}
	strict, _ := httpcap.WithCeiling(httpcap.Ceiling{Allow: []string{s.URL}}, `tenant "t"`)
	if _, err := strict.Open(context.Background(), host.OpenRequest{Destination: "d", Spec: httpSpec(true, s.URL)}); err == nil || !strings.Contains(err.Error(), "may not reach private addresses") {
		t.Errorf("allow_private beyond the ceiling: %v", err)
	}
	p := probeWith(t, c, httpSpec(true, s.URL), time.Minute)
	res := run(t, p,
		step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL}, Body: strings.Repeat("q", 1001)},
		step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL}, Body: strings.Repeat("q", 1000)},
	)
	if res[0].Stage != "write" || !strings.Contains(res[0].Error, "longer than the operator's limit of 1000 bytes per request") {
		t.Errorf("request over the cap: %+v", res[0])
	}
	if res[1].Stage != "read" || !strings.Contains(res[1].Error, "longer than the operator's limit of 2000 bytes per response") || res[1].BodyLen != 2000 {
		t.Errorf("response over the cap: stage %s, error %s, %d bytes read", res[1].Stage, res[1].Error, res[1].BodyLen)
	}
}

// TestRetryAfterDroppedConnection: a connection dropped before any
// response is retried for an idempotent method, and not for POST, which
// the server may have processed.
func TestRetryAfterDroppedConnection(t *testing.T) {
	var calls atomic.Int64
	s := newServer(t, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if calls.Add(1) == 1 {
			c, _, err := w.(nethttp.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		io.WriteString(w, "ok")
	})
	p := probe(t, httpSpec(true, s.URL), time.Minute)
	res := run(t, p, step{HTTPRequest: abi.HTTPRequest{Method: "PUT", URL: s.URL + "/k"}, Body: "v"})
	if res[0].Status != 200 || calls.Load() != 2 {
		t.Errorf("PUT after a dropped connection: %+v after %d requests; want 200 after 2", res[0], calls.Load())
	}
	calls.Store(0)
	res = run(t, p, step{HTTPRequest: abi.HTTPRequest{Method: "POST", URL: s.URL + "/hook"}, Body: "v"})
	if res[0].Stage != "send" || !strings.Contains(res[0].Error, "http POST "+s.URL+"/hook: ") || calls.Load() != 1 {
		t.Errorf("POST after a dropped connection: %+v after %d requests; want an error after 1", res[0], calls.Load())
	}
}
