package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wasmdest/wasmdest/abi"
	httpcap "github.com/wasmdest/wasmdest/host/capability/http"
	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/gueststore"
)

// Defaults of a tenant's limits.
const (
	DefaultMemoryLimitMiB      = 256
	DefaultCallTimeout         = 60 * time.Second
	DefaultMaxConcurrentWrites = 2
	DefaultMaxSyncs            = 8
	// Defaults of the limits on guests a tenant deploys (may_deploy).
	DefaultMaxModuleBytes = 128 << 20
	DefaultMaxGuests      = 16
	DefaultMaxGuestBytes  = 1 << 30
	DefaultCompileTimeout = 60 * time.Second
	// DefaultCompileMemoryMiB is the memory an upload's compiler may use
	// beyond the guest's own (compilejail.DefaultCompilerMiB).
	DefaultCompileMemoryMiB = compilejail.DefaultCompilerMiB
)

// checkMemoryLimit checks a memory limit in MiB.
func checkMemoryLimit(mib int) error {
	if mib < 16 || mib > 4096 {
		return fmt.Errorf("memory_limit_mib %d is not between 16 and 4096", mib)
	}
	return nil
}

// Config is a parsed tenants file.
type Config struct {
	Path    string
	Tenants []TenantConfig
}

// TenantConfig is one [[tenant]] of the tenants file.
type TenantConfig struct {
	Name string `toml:"name"`
	// TokenSHA256 is the hex SHA-256 of the tenant's bearer token.
	TokenSHA256 string `toml:"token_sha256"`
	// Trusted tenants' guests run uninterruptible (fast); untrusted ones'
	// run on an Interruptible runtime, stopped at CallTimeout.
	Trusted bool `toml:"trusted"`
	// MemoryLimitMiB caps each guest instance's memory; 0 means the
	// server's default (Options.MemoryLimitMiB).
	MemoryLimitMiB int `toml:"memory_limit_mib"`
	// CallTimeout bounds each guest call ("30s").
	CallTimeout duration `toml:"call_timeout"`
	// LockWait bounds how long a stream into a PostgreSQL table in write_mode
	// overwrite-delete-stale waits for another sync of the same source and
	// table to finish (syncer.Env.LockWait); default syncer.DefaultLockWait.
	LockWait duration `toml:"lock_wait"`
	// MaxConcurrentWrites bounds the tenant's DoPut streams running at once;
	// more wait their turn.
	MaxConcurrentWrites int `toml:"max_concurrent_writes"`
	// MaxSyncs bounds the tenant's open syncs (each holds guest instances).
	MaxSyncs int `toml:"max_syncs"`
	// RowsPerMinute and BytesPerMinute throttle what the tenant streams in
	// (0: unlimited). Bytes are Arrow buffer bytes.
	RowsPerMinute  int64 `toml:"rows_per_minute"`
	BytesPerMinute int64 `toml:"bytes_per_minute"`
	// Grant lists the capabilities the tenant's guests may have
	// ("filesystem", "postgres", "http"; "codec" is always granted). A guest asking
	// for another is refused.
	Grant []abi.Capability `toml:"grant"`
	// HTTP is the ceiling of the tenant's http destinations: the origins
	// their allowlists may name, whether they may reach private addresses,
	// and byte caps per request and response. Required with the http grant.
	HTTP *TenantHTTP `toml:"http"`
	// Root is the tenant's directory: every filesystem destination's
	// directory must be inside it; one without a directory gets
	// Root/<destination name>. Required with the filesystem grant.
	Root string `toml:"root"`

	// MayDeploy lets the tenant upload guests of its own (docs/serve.md,
	// "Deploying guests"); its destinations name them with registry =
	// "deployed". Its guests may ask only for the capabilities in Grant.
	MayDeploy bool `toml:"may_deploy"`
	// MaxModuleBytes caps one uploaded module; the upload is refused as
	// soon as it passes it.
	MaxModuleBytes int64 `toml:"max_module_bytes"`
	// MaxGuests caps the tenant's named guests; MaxGuestBytes the bytes of
	// the modules they name (current and previous versions).
	MaxGuests     int   `toml:"max_guests"`
	MaxGuestBytes int64 `toml:"max_guest_bytes"`
	// CompileTimeout bounds compiling and initializing one uploaded module
	// (and loading a deployed guest at begin).
	CompileTimeout duration `toml:"compile_timeout"`
	// CompileMemoryMiB bounds the memory of the child process that compiles
	// and initializes an upload, beyond the guest's own memory_limit_mib
	// (its RLIMIT_DATA is the sum).
	CompileMemoryMiB int `toml:"compile_memory_mib"`

	Destinations []config.Destination `toml:"-"`
	// hash is the decoded TokenSHA256.
	hash [sha256.Size]byte
	line int
}

// TenantHTTP is a tenant's [tenant.http] table (httpcap.Ceiling).
type TenantHTTP struct {
	// Allow lists the origins the tenant's destinations may allow.
	Allow []string `toml:"allow"`
	// AllowPrivate lets them set allow_private (loopback, private ranges).
	AllowPrivate bool `toml:"allow_private"`
	// MaxRequestBytes and MaxResponseBytes cap each request's body and
	// what a guest reads of each response (0: no cap).
	MaxRequestBytes  int64 `toml:"max_request_bytes"`
	MaxResponseBytes int64 `toml:"max_response_bytes"`
}

// ceiling is h as the http capability takes it.
func (h *TenantHTTP) ceiling() httpcap.Ceiling {
	return httpcap.Ceiling{Allow: h.Allow, AllowPrivate: h.AllowPrivate, MaxRequestBytes: h.MaxRequestBytes, MaxResponseBytes: h.MaxResponseBytes}
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %s must be positive", v)
	}
	d.Duration = v
	return nil
}

// HashToken returns the hex SHA-256 of a bearer token, as token_sha256 holds it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// LoadConfig reads and checks a tenants file. The destinations are decoded
// by internal/config, exactly as `wasmdest run` decodes [[destination]] tables.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses data, the content of the tenants file at path.
func ParseConfig(path string, data []byte) (*Config, error) {
	var raw struct {
		Tenant []map[string]any `toml:"tenant"`
	}
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) == 1 || (len(k) > 0 && k[0] != "tenant") {
			return nil, fmt.Errorf("%s: unknown key %q: the file holds [[tenant]] tables", path, k.String())
		}
	}
	dests, err := config.ParseTOMLNested(path, data, "tenant")
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path}
	var errs []error
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]string{}
	for i, m := range raw.Tenant {
		delete(m, "destination")
		var t TenantConfig
		if err := decodeTenant(m, &t); err != nil {
			errs = append(errs, fmt.Errorf("%s: tenant #%d: %w", path, i+1, err))
			continue
		}
		t.Destinations = dests[i]
		if err := t.check(filepath.Dir(path)); err != nil {
			errs = append(errs, fmt.Errorf("%s: tenant %q: %w", path, t.Name, err))
			continue
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("%s: tenant %q is declared twice", path, t.Name))
		}
		names[t.Name] = true
		if other, ok := hashes[t.hash]; ok {
			errs = append(errs, fmt.Errorf("%s: tenants %q and %q have the same token", path, other, t.Name))
		}
		hashes[t.hash] = t.Name
		c.Tenants = append(c.Tenants, t)
	}
	for i, a := range c.Tenants {
		for _, b := range c.Tenants[i+1:] {
			if a.Root != "" && b.Root != "" && (within(a.Root, b.Root) || within(b.Root, a.Root)) {
				errs = append(errs, fmt.Errorf("%s: tenants %q and %q have overlapping roots %s and %s", path, a.Name, b.Name, a.Root, b.Root))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func decodeTenant(m map[string]any, t *TenantConfig) error {
	// Round-trip through TOML so that field types and unknown keys are checked.
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		return err
	}
	md, err := toml.Decode(b.String(), t)
	if err != nil {
		return err
	}
	if u := md.Undecoded(); len(u) > 0 {
		return fmt.Errorf("unknown key %q", u[0].String())
	}
	return nil
}

func (t *TenantConfig) check(dir string) error {
	if t.Name == "" || strings.ContainsAny(t.Name, "/\\ \t\n") {
		return fmt.Errorf("name %q must be non-empty without slashes or spaces", t.Name)
	}
	h, err := hex.DecodeString(t.TokenSHA256)
	if err != nil || len(h) != sha256.Size {
		return errors.New("token_sha256 must be the 64 hex digits of the token's SHA-256 (wasmdest serve --new-token makes a token and its hash)")
	}
	copy(t.hash[:], h)
	if t.MemoryLimitMiB != 0 {
		if err := checkMemoryLimit(t.MemoryLimitMiB); err != nil {
			return err
		}
	}
	if t.CallTimeout.Duration == 0 {
		t.CallTimeout.Duration = DefaultCallTimeout
	}
	if t.MaxConcurrentWrites == 0 {
		t.MaxConcurrentWrites = DefaultMaxConcurrentWrites
	}
	if t.MaxSyncs == 0 {
		t.MaxSyncs = DefaultMaxSyncs
	}
	if t.MaxModuleBytes == 0 {
		t.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if t.MaxGuests == 0 {
		t.MaxGuests = DefaultMaxGuests
	}
	if t.MaxGuestBytes == 0 {
		t.MaxGuestBytes = DefaultMaxGuestBytes
	}
	if t.CompileTimeout.Duration == 0 {
		t.CompileTimeout.Duration = DefaultCompileTimeout
	}
	if t.CompileMemoryMiB == 0 {
		t.CompileMemoryMiB = DefaultCompileMemoryMiB
	}
	if t.CompileMemoryMiB < compilejail.MinCompilerMiB {
		return fmt.Errorf("compile_memory_mib %d is under %d: the process compiling an upload needs that much before it reads the module", t.CompileMemoryMiB, compilejail.MinCompilerMiB)
	}
	if t.MayDeploy {
		// The tenant's name is a path element (a directory, an S3 key) of the
		// guest store: refuse what the store refuses now, not at the first
		// upload.
		if err := gueststore.CheckName(t.Name); err != nil {
			return fmt.Errorf("may_deploy: the guest store keeps a tenant's guests under its name: %w; rename the tenant", err)
		}
	}
	if t.MaxConcurrentWrites < 0 || t.MaxSyncs < 0 || t.RowsPerMinute < 0 || t.BytesPerMinute < 0 ||
		t.MaxModuleBytes < 0 || t.MaxGuests < 0 || t.MaxGuestBytes < 0 {
		return errors.New("limits must not be negative")
	}
	for _, c := range t.Grant {
		if err := c.Valid(); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
	}
	switch {
	case t.HTTP != nil:
		if err := httpcap.CheckCeiling(t.HTTP.ceiling()); err != nil {
			return fmt.Errorf("http: %w", err)
		}
	case slices.Contains(t.Grant, abi.CapHTTP):
		return errors.New("the http grant needs an http table: [tenant.http] allow = [\"https://...\"], the origins its destinations may reach")
	}
	if t.Root != "" {
		if !filepath.IsAbs(t.Root) {
			t.Root = filepath.Join(dir, t.Root)
		}
		t.Root = filepath.Clean(t.Root)
	} else if slices.Contains(t.Grant, abi.CapFilesystem) {
		return errors.New("the filesystem grant needs a root directory")
	}
	for i := range t.Destinations {
		d := &t.Destinations[i]
		if !slices.Contains(t.Grant, abi.CapFilesystem) {
			continue
		}
		if d.Directory == "" {
			d.Directory = filepath.Join(t.Root, d.Name)
		}
		d.Directory = filepath.Clean(d.Directory)
		if !within(t.Root, d.Directory) {
			return fmt.Errorf("%s:%d: destination %q: directory %s is outside the tenant's root %s", d.File, d.Line, d.Name, d.Directory, t.Root)
		}
	}
	return nil
}

// within reports whether path is dir or below it (both clean and absolute).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// granted reports whether the tenant's guests may have c. The codec
// capability is always granted: it reaches nothing (no file, no network),
// it only encodes what the guest hands it, on the host's CPU.
func (t *TenantConfig) granted(c abi.Capability) bool {
	return c == abi.CapCodec || slices.Contains(t.Grant, c)
}
