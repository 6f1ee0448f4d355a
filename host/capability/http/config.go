package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SpecKey is the destination's spec key holding the capability's
// configuration (Config's JSON form). The whole key is a secret: the guest
// never sees it.
const SpecKey = "http"

// Defaults of Config.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxConcurrency = 4
	DefaultMaxRetries     = 3
	// DefaultAWSService is the SigV4 service of auth type aws_sigv4.
	DefaultAWSService = "s3"
)

// Auth types (Auth.Type).
const (
	AuthBearer   = "bearer"
	AuthBasic    = "basic"
	AuthHeader   = "header"
	AuthSigV4    = "aws_sigv4"
	authTypeList = "bearer, basic, header, aws_sigv4"
)

// Config is the capability's configuration for one destination, from the
// spec key "http".
type Config struct {
	// Allow lists the origins requests may go to; nothing else is reached.
	Allow []Origin
	// AllowPrivate lets requests reach loopback, link-local, private and
	// other non-public addresses (tests set it for their local servers).
	AllowPrivate bool
	// Auth is what the host adds to every request; Type "" adds nothing.
	Auth Auth
	// Timeout bounds each attempt up to its response head.
	Timeout time.Duration
	// MaxConcurrency bounds the destination's requests in flight.
	MaxConcurrency int
	// MaxRetries bounds the retries of a request (not counting the first
	// attempt).
	MaxRetries int
	// MaxRequestBytes caps each request's body and MaxResponseBytes what
	// the guest reads of each response's body; 0 is no cap. Not spec keys:
	// an operator's Ceiling sets them.
	MaxRequestBytes  int64
	MaxResponseBytes int64
}

// Auth is how the host authenticates requests. Its secrets never leave the
// host.
type Auth struct {
	// Type is AuthBearer, AuthBasic, AuthHeader, AuthSigV4 or "" (none).
	Type string `json:"type"`
	// Token is the bearer token.
	Token string `json:"token,omitempty"`
	// Username and Password are basic auth's.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Name and Value are the header of type header.
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
	// Region, Service and the keys are aws_sigv4's; without keys the AWS
	// SDK's default credential chain of the host is used.
	Region          string `json:"region,omitempty"`
	Service         string `json:"service,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`
}

// configJSON is Config's JSON form (the spec key).
type configJSON struct {
	Allow          []string `json:"allow"`
	AllowPrivate   bool     `json:"allow_private"`
	Auth           *Auth    `json:"auth"`
	Timeout        string   `json:"timeout"`
	MaxConcurrency *int     `json:"max_concurrency"`
	MaxRetries     *int     `json:"max_retries"`
}

// ParseConfig reads the capability's configuration from a destination's
// whole spec: its key "http", and for aws_sigv4 without an allowlist the
// spec's endpoint, region and bucket (S3-compatible stores: the endpoint's
// origin; AWS: the region's S3 origins). Errors name the key and never
// quote a secret.
func ParseConfig(spec map[string]any) (Config, error) {
	cfg := Config{Timeout: DefaultTimeout, MaxConcurrency: DefaultMaxConcurrency, MaxRetries: DefaultMaxRetries}
	raw, ok := spec[SpecKey]
	if !ok || raw == nil {
		return cfg, fmt.Errorf("the spec has no %s key: set %s.allow to the origins the guest may reach (e.g. [\"https://api.example.com\"])", SpecKey, SpecKey)
	}
	if _, ok := raw.(map[string]any); !ok {
		return cfg, fmt.Errorf("spec key %s must be an object (allow, allow_private, auth, timeout, max_concurrency, max_retries), not %T", SpecKey, raw)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return cfg, fmt.Errorf("spec key %s: %w", SpecKey, err)
	}
	var j configJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		// The decoder's messages name fields and types, never values.
		return cfg, fmt.Errorf("spec key %s: %w", SpecKey, err)
	}
	cfg.AllowPrivate = j.AllowPrivate
	for i, s := range j.Allow {
		o, err := ParseOrigin(s)
		if err != nil {
			return cfg, fmt.Errorf("%s.allow[%d]: %w", SpecKey, i, err)
		}
		cfg.Allow = append(cfg.Allow, o)
	}
	if j.Timeout != "" {
		if cfg.Timeout, err = time.ParseDuration(j.Timeout); err != nil || cfg.Timeout <= 0 {
			return cfg, fmt.Errorf("%s.timeout %q: want a positive duration such as \"60s\"", SpecKey, j.Timeout)
		}
	}
	if j.MaxConcurrency != nil {
		if *j.MaxConcurrency < 1 {
			return cfg, fmt.Errorf("%s.max_concurrency %d: want at least 1", SpecKey, *j.MaxConcurrency)
		}
		cfg.MaxConcurrency = *j.MaxConcurrency
	}
	if j.MaxRetries != nil {
		if *j.MaxRetries < 0 || *j.MaxRetries > 20 {
			return cfg, fmt.Errorf("%s.max_retries %d: want 0 to 20", SpecKey, *j.MaxRetries)
		}
		cfg.MaxRetries = *j.MaxRetries
	}
	if j.Auth != nil {
		cfg.Auth = *j.Auth
	}
	if err := cfg.Auth.check(spec); err != nil {
		return cfg, fmt.Errorf("%s.auth: %w", SpecKey, err)
	}
	if len(cfg.Allow) == 0 && cfg.Auth.Type == AuthSigV4 {
		if cfg.Allow, err = s3Origins(spec); err != nil {
			return cfg, err
		}
	}
	if len(cfg.Allow) == 0 {
		return cfg, fmt.Errorf("%s.allow is empty: list the origins the guest may reach (e.g. [\"https://api.example.com\"])", SpecKey)
	}
	return cfg, nil
}

// check checks a's fields for its type and fills aws_sigv4's defaults
// (region: the spec's region; service: s3).
func (a *Auth) check(spec map[string]any) error {
	need := func(fields ...string) error {
		var missing []string
		for i := 0; i < len(fields); i += 2 {
			if fields[i+1] == "" {
				missing = append(missing, fields[i])
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("type %s needs %s", a.Type, strings.Join(missing, " and "))
		}
		return nil
	}
	switch a.Type {
	case "":
		if *a != (Auth{}) {
			return fmt.Errorf("no type: set type (%s)", authTypeList)
		}
		return nil
	case AuthBearer:
		return need("token", a.Token)
	case AuthBasic:
		return need("username", a.Username)
	case AuthHeader:
		if err := need("name", a.Name, "value", a.Value); err != nil {
			return err
		}
		if _, bad := forbiddenAlways[canonical(a.Name)]; bad && canonical(a.Name) != "Authorization" {
			return fmt.Errorf("type header: name %q is a header the host manages itself", a.Name)
		}
		return nil
	case AuthSigV4:
		if a.Region == "" {
			a.Region, _ = spec["region"].(string)
		}
		if a.Service == "" {
			a.Service = DefaultAWSService
		}
		if a.Region == "" {
			return errors.New("type aws_sigv4 needs region (or the spec's region)")
		}
		if (a.AccessKeyID == "") != (a.SecretAccessKey == "") {
			return errors.New("type aws_sigv4 needs both access_key_id and secret_access_key, or neither (the host's default AWS credential chain)")
		}
		return nil
	}
	return fmt.Errorf("type %q is not one of %s", a.Type, authTypeList)
}

// s3Origins is the allowlist of an aws_sigv4 destination that lists none:
// the origin of the spec's endpoint, or AWS's S3 origins of its region.
func s3Origins(spec map[string]any) ([]Origin, error) {
	if ep, _ := spec["endpoint"].(string); ep != "" {
		o, err := ParseOrigin(ep)
		if err != nil {
			return nil, fmt.Errorf("endpoint (the allowlist of %s.auth aws_sigv4 without %s.allow): %w", SpecKey, SpecKey, err)
		}
		return []Origin{o}, nil
	}
	region, _ := spec["region"].(string)
	if auth, ok := spec[SpecKey].(map[string]any)["auth"].(map[string]any); ok {
		if r, _ := auth["region"].(string); r != "" {
			region = r
		}
	}
	if region == "" {
		return nil, nil
	}
	out := []Origin{{Scheme: "https", Host: "s3." + strings.ToLower(region) + ".amazonaws.com", Port: 443}}
	if bucket, _ := spec["bucket"].(string); bucket != "" {
		out = append(out, Origin{Scheme: "https", Host: strings.ToLower(bucket) + ".s3." + strings.ToLower(region) + ".amazonaws.com", Port: 443})
	}
	return out, nil
}

// Origin is a scheme, a host and a port: what an allowlist entry allows.
type Origin struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is a lower-case DNS name or an IP address in its canonical
	// form (IPv6 without brackets).
	Host string
	// Port is the port, the scheme's default filled in.
	Port int
}

// String writes o as a URL origin with its port: "https://example.com:443".
func (o Origin) String() string {
	return o.Scheme + "://" + netJoin(o.Host, o.Port)
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// ParseOrigin parses an allowlist entry: scheme http or https, a host, an
// optional port, and nothing else (a trailing "/" is allowed).
func ParseOrigin(s string) (Origin, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Origin{}, fmt.Errorf("origin %q: %w", s, err)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Origin{}, fmt.Errorf("origin %q: give only scheme, host and port, like https://api.example.com or http://127.0.0.1:9000", s)
	}
	o, err := originOf(u)
	if err != nil {
		return Origin{}, fmt.Errorf("origin %q: %w", s, err)
	}
	return o, nil
}

// originOf returns the origin of an absolute URL, strictly: scheme http or
// https, no userinfo, a host that is a DNS name or a canonical IP address
// (not a numeric form a resolver could read as one, such as 2130706433,
// 0x7f.1 or 127.1), and a port in range.
func originOf(u *url.URL) (Origin, error) {
	scheme := strings.ToLower(u.Scheme)
	var port int
	switch scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return Origin{}, fmt.Errorf("scheme %q: only http and https are allowed", u.Scheme)
	}
	if u.User != nil {
		return Origin{}, errors.New("the URL has userinfo: credentials are the host's, configured in the destination's http.auth")
	}
	host := u.Hostname()
	if host == "" {
		return Origin{}, errors.New("the URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Origin{}, fmt.Errorf("port %q is not a port number", p)
		}
		port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Origin{}, errors.New("empty port")
	}
	h, err := canonicalHost(host)
	if err != nil {
		return Origin{}, err
	}
	return Origin{Scheme: scheme, Host: h, Port: port}, nil
}

// canonicalHost lower-cases a DNS name and writes an IP address in its
// canonical form; it refuses names that are IPv4 addresses in a form other
// than dotted decimal (resolvers disagree on those), IPv6 zones, and
// characters no DNS name has.
func canonicalHost(host string) (string, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("host %q: IPv6 zones are not allowed", host)
		}
		return a.String(), nil
	}
	if strings.Contains(host, ":") || strings.Contains(host, "%") {
		return "", fmt.Errorf("host %q is not an IP address or a DNS name", host)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return "", fmt.Errorf("host %q is empty", host)
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("host %q is not a DNS name", host)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return "", fmt.Errorf("host %q is not a DNS name (non-ASCII names: use their punycode form)", host)
			}
		}
	}
	// A name whose last label is numeric (decimal, octal or 0x hex) is
	// an IPv4 address to inet_aton and to browsers (127.1, 2130706433,
	// 0x7f.1, 0177.0.0.1), and never a DNS name under a real top-level
	// domain: refuse it rather than guess how the resolver reads it.
	if numericLabel(labels[len(labels)-1]) {
		return "", fmt.Errorf("host %q looks like an IPv4 address in a non-standard form: write it as dotted decimal (like 127.0.0.1)", host)
	}
	return h, nil
}

func numericLabel(l string) bool {
	if rest, ok := strings.CutPrefix(l, "0x"); ok {
		l = rest
		for _, r := range l {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return false
			}
		}
		return true
	}
	for _, r := range l {
		if r < '0' || r > '9' {
			return false
		}
	}
	return l != ""
}

// allows reports whether o is one of allow.
func allows(allow []Origin, o Origin) bool {
	for _, a := range allow {
		if a == o {
			return true
		}
	}
	return false
}

func originList(allow []Origin) string {
	s := make([]string, len(allow))
	for i, o := range allow {
		s[i] = o.String()
	}
	return strings.Join(s, ", ")
}
