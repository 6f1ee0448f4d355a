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
// have been checked. Make a Pool to run it.
type Guest struct {
	rt       *Runtime
	compiled wazero.CompiledModule
	name     string
	// Manifest is what the guest says of itself.
	Manifest abi.Manifest
	// Version is the ABI version the guest was built for.
	Version abi.Version
	// Size is the size of the .wasm in bytes.
	Size int
	// CompileTime is how long compiling (or loading from the cache) took.
	CompileTime time.Duration
	// InstantiateTime is how long the first instantiation and _initialize took.
	InstantiateTime time.Duration
}

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
	g.InstantiateTime = time.Since(start)
	res, err := in.fn.version.Call(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportVersion, err)
	}
	g.Version = abi.Version(uint32(res[0]))
	if err := g.Version.Compatible(abi.CurrentVersion); err != nil {
		return err
	}
	var out strings.Builder
	if err := in.Call(ctx, abi.OpManifest, nil, nil, &out); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out.String()), &g.Manifest); err != nil {
		return fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	return g.checkManifest()
}

func (g *Guest) checkManifest() error {
	m := &g.Manifest
	if m.Name == "" {
		return fmt.Errorf("manifest has no name")
	}
	if !abi.ValidSemver(m.Version) {
		return fmt.Errorf("manifest version %q is not a semantic version like v1.2.3", m.Version)
	}
	if m.ABIVersion != g.Version.String() {
		return fmt.Errorf("manifest says ABI %q but %s returns %s", m.ABIVersion, abi.ExportVersion, g.Version)
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
	return slices.Contains(g.Manifest.Capabilities, c)
}

// HasFeature reports whether the manifest lists the optional feature f.
func (g *Guest) HasFeature(f abi.Feature) bool { return slices.Contains(g.Manifest.Features, f) }
