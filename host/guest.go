package host

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
)

// Guest is a compiled guest whose exports, imports, ABI version and manifest
// have been checked. Make a Pool to run it. A Guest does not change once
// loaded, so it may be shared (wasmdest serve shares one between tenants):
// its accessors return copies.
type Guest struct {
	rt              *Runtime
	compiled        wazero.CompiledModule
	name            string
	manifest        abi.Manifest
	abiVersion      abi.Version
	size            int
	compileTime     time.Duration
	instantiateTime time.Duration
}

// Manifest returns what the guest says of itself (a copy).
func (g *Guest) Manifest() abi.Manifest {
	m := g.manifest
	m.Capabilities = slices.Clone(m.Capabilities)
	m.SpecSchema = slices.Clone(m.SpecSchema)
	m.Secrets = slices.Clone(m.Secrets)
	m.WriteModes = slices.Clone(m.WriteModes)
	m.Features = slices.Clone(m.Features)
	return m
}

// ABIVersion returns the ABI version the guest was built for.
func (g *Guest) ABIVersion() abi.Version { return g.abiVersion }

// Size returns the size of the .wasm in bytes.
func (g *Guest) Size() int { return g.size }

// CompileTime returns how long compiling (or loading from the cache) took.
func (g *Guest) CompileTime() time.Duration { return g.compileTime }

// InstantiateTime returns how long the first instantiation and _initialize
// took.
func (g *Guest) InstantiateTime() time.Duration { return g.instantiateTime }

// Name returns the guest's name from its manifest.
func (g *Guest) Name() string { return g.name }

// Imports lists the host functions the guest imports, as "module.name".
func (g *Guest) Imports() []string {
	var out []string
	for _, f := range g.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, mod+"."+name)
	}
	sort.Strings(out)
	return out
}

// Exports lists the functions the guest exports.
func (g *Guest) Exports() []string {
	var out []string
	for name := range g.compiled.ExportedFunctions() {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Close releases the compiled code.
func (g *Guest) Close(ctx context.Context) error { return g.compiled.Close(ctx) }

// checkShape checks the guest's exports and imports against the ABI before
// anything of it runs.
func (g *Guest) checkShape() error {
	exports := g.compiled.ExportedFunctions()
	for name, want := range requiredExports {
		f, ok := exports[name]
		if !ok {
			return fmt.Errorf("does not export %s: not a wasmdest guest (abi/ABI.md lists the exports; this host speaks ABI %s)", name, abi.CurrentVersion)
		}
		got := signature{f.ParamTypes(), f.ResultTypes()}
		if !sameTypes(got.params, want.params) || !sameTypes(got.results, want.results) {
			return fmt.Errorf("export %s has type %s, ABI %s wants %s", name, got, abi.CurrentVersion, want)
		}
	}
	if _, ok := g.compiled.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("does not export its memory as \"memory\"")
	}
	for _, f := range g.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case "wasi_snapshot_preview1":
			continue
		case abi.ImportModule:
			imp, ok := abi.LookupImport(name)
			if !ok {
				return fmt.Errorf("imports %s.%s, which ABI %s does not have: is the guest built for a newer ABI?", mod, name, abi.CurrentVersion)
			}
			got := signature{f.ParamTypes(), f.ResultTypes()}
			want := signature{apiTypes(imp.ParamTypes()), apiTypes(imp.Results)}
			if !sameTypes(got.params, want.params) || !sameTypes(got.results, want.results) {
				return fmt.Errorf("imports %s.%s with type %s, ABI %s has %s", mod, name, got, abi.CurrentVersion, want)
			}
		default:
			return fmt.Errorf("imports %s.%s: a guest may import only from %q and WASI (wasi_snapshot_preview1)", mod, name, abi.ImportModule)
		}
	}
	return nil
}

// readManifest instantiates the guest once with no capabilities, checks its
// ABI version and reads its manifest.
func (g *Guest) readManifest(ctx context.Context) error {
	start := time.Now()
	in, err := g.instantiate(ctx, nil, PoolConfig{})
	if err != nil {
		return err
	}
	defer in.close(ctx)
	g.instantiateTime = time.Since(start)
	if !in.pin() {
		return fmt.Errorf("%s: instance closed", abi.ExportVersion)
	}
	res, err := in.fn.version.Call(ctx)
	in.unpin()
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportVersion, err)
	}
	g.abiVersion = abi.Version(uint32(res[0]))
	if err := g.abiVersion.Compatible(abi.CurrentVersion); err != nil {
		return err
	}
	var out strings.Builder
	if err := in.call(ctx, abi.OpManifest, nil, nil, &out); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out.String()), &g.manifest); err != nil {
		return fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	return g.checkManifest()
}

func (g *Guest) checkManifest() error {
	m := &g.manifest
	if m.Name == "" {
		return fmt.Errorf("manifest has no name")
	}
	if !abi.ValidSemver(m.Version) {
		return fmt.Errorf("manifest version %q is not a semantic version like v1.2.3", m.Version)
	}
	if m.ABIVersion != g.abiVersion.String() {
		return fmt.Errorf("manifest says ABI %q but %s returns %s", m.ABIVersion, abi.ExportVersion, g.abiVersion)
	}
	for _, c := range m.Capabilities {
		if err := c.Valid(); err != nil {
			return fmt.Errorf("manifest asks for a capability ABI %s does not have: %w", abi.CurrentVersion, err)
		}
	}
	for _, f := range g.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if imp, ok := abi.LookupImport(name); ok && mod == abi.ImportModule && imp.Capability != "" && !slices.Contains(m.Capabilities, imp.Capability) {
			return fmt.Errorf("imports %s.%s of capability %q, which its manifest does not ask for", mod, name, imp.Capability)
		}
	}
	if len(m.SpecSchema) > 0 && !json.Valid(m.SpecSchema) {
		return fmt.Errorf("manifest spec_schema is not valid JSON")
	}
	for _, w := range m.WriteModes {
		if err := w.Valid(); err != nil {
			return fmt.Errorf("manifest write_modes: %w", err)
		}
	}
	for _, f := range m.Features {
		if err := f.Valid(); err != nil {
			return fmt.Errorf("manifest features: %w", err)
		}
	}
	return nil
}

// HasCapability reports whether the manifest asks for c.
func (g *Guest) HasCapability(c abi.Capability) bool {
	return slices.Contains(g.manifest.Capabilities, c)
}

// HasFeature reports whether the manifest lists the optional feature f.
func (g *Guest) HasFeature(f abi.Feature) bool { return slices.Contains(g.manifest.Features, f) }
