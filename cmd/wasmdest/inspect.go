package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
)

// inspection is what `wasmdest inspect` reports of a guest.
type inspection struct {
	File string `json:"file"`
	Size int64  `json:"size"`
	// Runnable: this host loads the guest; else Reason says why not.
	Runnable bool   `json:"runnable"`
	Reason   string `json:"reason,omitempty"`
	// HostABI is the ABI version this host speaks; ABIVersion the guest's,
	// when it could be read.
	HostABI    string        `json:"host_abi_version"`
	ABIVersion string        `json:"abi_version,omitempty"`
	Manifest   *abi.Manifest `json:"manifest,omitempty"`
	// Capabilities describes the capabilities the manifest asks for.
	Capabilities []capabilityInfo `json:"capabilities,omitempty"`
	// SpecKeys are the top-level keys of the manifest's spec schema.
	SpecKeys []specKey  `json:"spec_keys,omitempty"`
	Exports  []wasmFunc `json:"exports"`
	Imports  []wasmFunc `json:"imports"`
	// Memory is the exported memory's size in 64 KiB pages.
	Memory *wasmMemory `json:"memory,omitempty"`
}

type wasmFunc struct {
	Module string `json:"module,omitempty"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	// ABI says what the function is to the ABI: "required export",
	// "host function", "capability postgres", "WASI", or why it is wrong.
	ABI string `json:"abi"`
}

type wasmMemory struct {
	Name     string  `json:"name"`
	MinPages uint32  `json:"min_pages"`
	MaxPages *uint32 `json:"max_pages,omitempty"`
}

type specKey struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
}

// capabilityInfo is what inspect says of a capability the guest asks for.
type capabilityInfo struct {
	Name abi.Capability `json:"name"`
	// Description is the capability's own (host.Capability.Describe), or
	// why this host cannot grant it.
	Description string `json:"description"`
	// SecretKeys are the spec keys the host keeps from the guest for it.
	SecretKeys []string `json:"secret_keys,omitempty"`
}

var requiredExportNames = []string{abi.ExportInitialize, abi.ExportVersion, abi.ExportAlloc, abi.ExportFree, abi.ExportCall}

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("inspect", "wasmdest inspect GUEST.wasm [--json] [flags]",
		"Shows a guest's manifest, exports and imports, and whether this host can run it (exit 1 if not).", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	c.logLevel = "warn"
	fs.Lookup("log-level").DefValue = "warn"
	paths, err := fs.parseN(args, 1, "GUEST.wasm")
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	rep, err := inspect(ctx, paths[0], c, log)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printInspection(stdout, rep)
	}
	if !rep.Runnable {
		return exitError{1}
	}
	return nil
}

// inspect reads a guest without running it (its exports, imports and
// memory), then loads it as the host does, which checks it and reads its
// manifest.
func inspect(ctx context.Context, path string, c common, log hclog.Logger) (*inspection, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	rep := &inspection{File: path, Size: int64(len(wasm)), HostABI: abi.CurrentVersion.String(), Exports: []wasmFunc{}, Imports: []wasmFunc{}}

	// Listing needs no machine code: wazero's interpreter only decodes and
	// validates the module.
	if err := host.CheckBinary(wasm); err != nil {
		rep.Reason = fmt.Sprintf("not a valid WebAssembly module: %v", err)
		return rep, nil
	}
	raw := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer raw.Close(ctx)
	mod, err := raw.CompileModule(ctx, wasm)
	if err != nil {
		rep.Reason = fmt.Sprintf("not a valid WebAssembly module: %v", err)
		return rep, nil
	}
	exports := mod.ExportedFunctions()
	for name, f := range exports {
		rep.Exports = append(rep.Exports, wasmFunc{Name: name, Type: funcType(f), ABI: exportRole(name)})
	}
	sort.Slice(rep.Exports, func(i, j int) bool { return rep.Exports[i].Name < rep.Exports[j].Name })
	for _, f := range mod.ImportedFunctions() {
		m, name, _ := f.Import()
		rep.Imports = append(rep.Imports, wasmFunc{Module: m, Name: name, Type: funcType(f), ABI: importRole(m, name)})
	}
	sort.Slice(rep.Imports, func(i, j int) bool {
		a, b := rep.Imports[i], rep.Imports[j]
		return a.Module+"."+a.Name < b.Module+"."+b.Name
	})
	for name, m := range mod.ExportedMemories() {
		mem := &wasmMemory{Name: name, MinPages: m.Min()}
		if max, ok := m.Max(); ok {
			mem.MaxPages = &max
		}
		rep.Memory = mem
	}

	rt, err := c.runtime(ctx, log)
	if err != nil {
		return nil, err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	g, err := rt.Load(ctx, path, wasm)
	if err != nil {
		rep.Reason = strings.TrimPrefix(err.Error(), "guest "+path+": ")
		return rep, nil
	}
	rep.Runnable = true
	rep.ABIVersion = g.ABIVersion().String()
	m := g.Manifest()
	rep.Manifest = &m
	secrets := slices.Clone(m.Secrets)
	for _, name := range m.Capabilities {
		info := capabilityInfo{Name: name, Description: "not provided by this host"}
		if c := capability.Find(capability.Builtin(), name); c != nil {
			info.Description, info.SecretKeys = c.Describe(), c.SecretKeys()
			secrets = append(secrets, c.SecretKeys()...)
		}
		rep.Capabilities = append(rep.Capabilities, info)
	}
	rep.SpecKeys = specKeys(m.SpecSchema, secrets)
	return rep, nil
}

func funcType(f api.FunctionDefinition) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", name(f.ParamTypes()), name(f.ResultTypes()))
}

func exportRole(name string) string {
	for _, r := range requiredExportNames {
		if name == r {
			return "required export"
		}
	}
	if name == "_start" {
		return "ignored: a guest is a reactor, the host never calls _start"
	}
	return "not used by the host"
}

func importRole(module, name string) string {
	switch module {
	case "wasi_snapshot_preview1":
		return "WASI"
	case abi.ImportModule:
		imp, ok := abi.LookupImport(name)
		switch {
		case !ok:
			return fmt.Sprintf("unknown to ABI %s: the guest may need a newer host", abi.CurrentVersion)
		case imp.Capability != "":
			return "capability " + string(imp.Capability)
		}
		return "host function"
	}
	return fmt.Sprintf("refused: a guest may import only from %q and WASI", abi.ImportModule)
}

// specKeys lists the top-level properties of a JSON Schema.
func specKeys(schema json.RawMessage, secrets []string) []specKey {
	var s struct {
		Properties map[string]struct {
			Type        any    `json:"type"`
			Default     any    `json:"default"`
			Description string `json:"description"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil {
		return nil
	}
	var out []specKey
	for name, p := range s.Properties {
		k := specKey{Name: name, Default: p.Default, Description: p.Description}
		switch t := p.Type.(type) {
		case string:
			k.Type = t
		case []any:
			var ts []string
			for _, x := range t {
				ts = append(ts, fmt.Sprint(x))
			}
			k.Type = strings.Join(ts, "|")
		}
		for _, r := range s.Required {
			k.Required = k.Required || r == name
		}
		for _, sec := range secrets {
			k.Secret = k.Secret || sec == name
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func printInspection(w io.Writer, r *inspection) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "guest:\t%s (%d bytes)\n", r.File, r.Size)
	if r.Runnable {
		fmt.Fprintf(tw, "runnable:\tyes: this host (ABI %s) loads it\n", r.HostABI)
	} else {
		fmt.Fprintf(tw, "runnable:\tNO: %s\n", r.Reason)
	}
	if m := r.Manifest; m != nil {
		fmt.Fprintf(tw, "name:\t%s\n", m.Name)
		fmt.Fprintf(tw, "version:\t%s\n", m.Version)
		fmt.Fprintf(tw, "ABI:\t%s (host %s)\n", r.ABIVersion, r.HostABI)
		fmt.Fprintf(tw, "capabilities:\t%s\n", orText(abi.List(m.Capabilities), "none"))
		if len(m.SQLDrivers) > 0 {
			fmt.Fprintf(tw, "sql drivers:\t%s\n", strings.Join(m.SQLDrivers, ", "))
		}
		fmt.Fprintf(tw, "secrets:\t%s\n", orText(strings.Join(m.Secrets, ", "), "none"))
		fmt.Fprintf(tw, "write modes:\t%s\n", orText(abi.List(m.WriteModes), "all"))
		fmt.Fprintf(tw, "features:\t%s\n", orText(abi.List(m.Features), "none"))
		b := m.BatchDefaults
		timeout := "none"
		if b.Timeout > 0 {
			timeout = b.Timeout.String()
		}
		fmt.Fprintf(tw, "batch defaults:\t%s rows, %s bytes, timeout %s\n", limit(b.Rows), limit(b.Bytes), timeout)
	}
	tw.Flush()
	if len(r.Capabilities) > 0 {
		fmt.Fprintln(w, "\ncapabilities (what the host grants):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range r.Capabilities {
			desc := c.Description
			if len(c.SecretKeys) > 0 {
				desc += "; secret spec keys: " + strings.Join(c.SecretKeys, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\n", c.Name, desc)
		}
		tw.Flush()
	}
	if r.Manifest != nil {
		if len(r.SpecKeys) == 0 {
			fmt.Fprintln(w, "\nspec: no keys declared (spec_schema empty or without properties)")
		} else {
			fmt.Fprintln(w, "\nspec keys (spec_schema):")
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, k := range r.SpecKeys {
				var notes []string
				if k.Required {
					notes = append(notes, "required")
				}
				if k.Secret {
					notes = append(notes, "secret")
				}
				if k.Default != nil {
					d, _ := json.Marshal(k.Default)
					notes = append(notes, "default "+string(d))
				}
				desc := k.Description
				if len(desc) > 100 {
					desc = desc[:97] + "..."
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k.Name, k.Type, strings.Join(notes, ", "), desc)
			}
			tw.Flush()
		}
	}
	section := func(title string, fns []wasmFunc) {
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(fns))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range fns {
			name := f.Name
			if f.Module != "" {
				name = f.Module + "." + f.Name
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, f.Type, f.ABI)
		}
		tw.Flush()
	}
	section("exports", r.Exports)
	section("imports", r.Imports)
	if r.Memory != nil {
		max := "no maximum"
		if r.Memory.MaxPages != nil {
			max = fmt.Sprintf("maximum %d pages", *r.Memory.MaxPages)
		}
		fmt.Fprintf(w, "\nmemory %q: %d pages (%d KiB) at start, %s\n", r.Memory.Name, r.Memory.MinPages, r.Memory.MinPages*64, max)
	}
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func limit(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}
