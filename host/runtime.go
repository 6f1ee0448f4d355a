// Package host runs wasmdest destination guests: WebAssembly modules that
// implement ABI v1 (see abi/ABI.md) under wazero.
//
// A Runtime compiles guests, caching machine code on disk. A Guest is one
// compiled, checked module with its manifest. A Pool holds instances of a
// guest configured for one destination, and gives each to one goroutine at a
// time. An instance that traps, panics or runs out of memory is discarded and
// replaced, never reused.
//
// Capabilities (a database, a directory) plug into the host through the
// Capability interface; the packages under host/capability implement them,
// and PoolConfig.Grants gives a pool's guests what was opened.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmdest/wasmdest/abi"
)

// DefaultMemoryLimit is the default cap on one guest instance's linear memory.
const DefaultMemoryLimit = 512 << 20

// CacheDirEnv names the environment variable that overrides the default
// compilation cache directory.
const CacheDirEnv = "WASMDEST_CACHE_DIR"

// Config configures a Runtime. The zero value is usable.
type Config struct {
	// CacheDir is where compiled machine code is cached. "" means
	// $WASMDEST_CACHE_DIR, else the user cache directory's wasmdest/wazero.
	// "off" disables the on-disk cache.
	CacheDir string
	// Logger receives host and guest logs. nil means hclog.Default().
	Logger hclog.Logger
	// MemoryLimit caps each instance's linear memory in bytes, rounded down
	// to 64 KiB pages. 0 means DefaultMemoryLimit. At most 4 GiB.
	MemoryLimit uint64
	// Interruptible makes guest code stop when a call's context is done, at a
	// measured cost in guest speed (see RATIONALE.md). Without it a guest
	// that loops forever cannot be stopped. Use it for untrusted guests.
	Interruptible bool
	// Cache, if set, is a compilation cache shared with other runtimes
	// (wazero.NewCompilationCacheWithDir): runtimes sharing it share compiled
	// guests in memory too, instead of each holding its own copy of the
	// machine code (~400 MiB for the file guest). Runtimes may differ in
	// MemoryLimit and Interruptible. The caller closes it after the last
	// runtime using it; CacheDir is then ignored.
	Cache wazero.CompilationCache
}

// Runtime compiles and instantiates guests. It is safe for concurrent use.
type Runtime struct {
	rt          wazero.Runtime
	cache       wazero.CompilationCache
	log         hclog.Logger
	memoryLimit uint64
	cacheDir    string
}

// DefaultCacheDir returns the compilation cache directory used when
// Config.CacheDir is empty.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(base, "wasmdest", "wazero"), nil
}

// NewRuntime makes a Runtime. Close it to release compiled code.
func NewRuntime(ctx context.Context, c Config) (*Runtime, error) {
	r := &Runtime{log: c.Logger, memoryLimit: c.MemoryLimit}
	if r.log == nil {
		r.log = hclog.Default()
	}
	if r.memoryLimit == 0 {
		r.memoryLimit = DefaultMemoryLimit
	}
	if r.memoryLimit > 1<<32 {
		return nil, fmt.Errorf("memory limit %d bytes is over the 4 GiB a 32-bit guest can address", r.memoryLimit)
	}
	if r.memoryLimit < 16<<20 {
		return nil, fmt.Errorf("memory limit %d bytes is too small: a Go guest needs at least 16 MiB", r.memoryLimit)
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(uint32(r.memoryLimit / 65536)).
		WithCloseOnContextDone(c.Interruptible)
	if c.Cache != nil {
		rc = rc.WithCompilationCache(c.Cache)
	} else if c.CacheDir != "off" {
		dir := c.CacheDir
		if dir == "" {
			var err error
			if dir, err = DefaultCacheDir(); err != nil {
				return nil, err
			}
		}
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
		}
		r.cache, r.cacheDir = cache, dir
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, r.rt); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("instantiate host functions: %w", err)
	}
	return r, nil
}

// CacheDir returns the compilation cache directory in use, or "" when off.
func (r *Runtime) CacheDir() string { return r.cacheDir }

// MemoryLimit returns the per-instance memory cap in bytes.
func (r *Runtime) MemoryLimit() uint64 { return r.memoryLimit }

// Close releases the runtime and every guest compiled by it.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// LoadFile reads a .wasm file and loads it with Load, named after the file.
func (r *Runtime) LoadFile(ctx context.Context, path string) (*Guest, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load guest: %w", err)
	}
	return r.Load(ctx, path, wasm)
}

// Load compiles a guest and checks it: its exports and imports against the
// ABI, its ABI version (a guest for another major version is refused), and
// its manifest. source names the guest in errors until its manifest is read.
func (r *Runtime) Load(ctx context.Context, source string, wasm []byte) (*Guest, error) {
	if err := CheckBinary(wasm); err != nil {
		return nil, fmt.Errorf("guest %s: %w", source, err)
	}
	start := time.Now()
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("guest %s: compile: %w", source, err)
	}
	compileTime := time.Since(start)
	g := &Guest{rt: r, compiled: compiled, name: source, compileTime: compileTime, size: len(wasm)}
	if err := g.checkShape(); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("guest %s: %w", source, err)
	}
	if err := g.readManifest(ctx); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("guest %s: %w", source, err)
	}
	g.name = g.manifest.Name
	r.log.Debug("guest loaded", "guest", g.name, "version", g.manifest.Version, "source", source,
		"bytes", len(wasm), "compile", compileTime)
	return g, nil
}

// signature is a wasm function type, for comparing with the ABI's.
type signature struct{ params, results []api.ValueType }

func (s signature) String() string {
	return fmt.Sprintf("(%s) -> (%s)", valueTypes(s.params), valueTypes(s.results))
}

func valueTypes(ts []api.ValueType) string {
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ", "
		}
		out += api.ValueTypeName(t)
	}
	return out
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// requiredExports are the functions every guest exports, with their types.
var requiredExports = map[string]signature{
	abi.ExportInitialize: {},
	abi.ExportVersion:    {nil, []api.ValueType{i32}},
	abi.ExportAlloc:      {[]api.ValueType{i32}, []api.ValueType{i32}},
	abi.ExportFree:       {[]api.ValueType{i32}, nil},
	abi.ExportCall:       {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
}
