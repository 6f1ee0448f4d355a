package compilejail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/host"
)

// child is the compile child: it limits itself, reads the module from in,
// loads it and writes its reply to out. It returns the exit code.
func child(reqJSON string, in io.Reader, out io.Writer) int {
	say := func(r reply) int {
		b, _ := json.Marshal(r)
		out.Write(append(b, '\n'))
		return 0
	}
	var req Request
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return say(reply{Failed: fmt.Sprintf("bad request: %v", err)})
	}
	// The limits first: nothing of the module is read before.
	if err := limitSelf(req); err != nil {
		return say(reply{Failed: err.Error()})
	}
	// The collector works harder before the hard limit: a module whose
	// compilation would fit after a collection is not refused for garbage.
	debug.SetMemoryLimit(int64(req.dataBytes()) / 10 * 9)
	wasm, err := io.ReadAll(in)
	if err != nil {
		return say(reply{Failed: fmt.Sprintf("reading the module: %v", err)})
	}
	cache := req.CacheDir
	if cache == "" {
		cache = "off"
	}
	ctx := context.Background()
	// Interruptible, as an untrusted tenant's runtime: wazero keys its cache
	// by the module's bytes only, so the code cached here is the code a
	// tenant's runtime will run (RATIONALE.md).
	rt, err := host.NewRuntime(ctx, host.Config{CacheDir: cache, MemoryLimit: uint64(req.GuestMemoryMiB) << 20,
		Interruptible: true, Logger: hclog.NewNullLogger()})
	if err != nil {
		return say(reply{Failed: err.Error()})
	}
	defer rt.Close(ctx)
	g, err := rt.Load(ctx, req.Source, wasm)
	if err != nil {
		return say(reply{Refused: err.Error()})
	}
	v := &Verdict{Name: g.Name(), Version: g.Manifest().Version, ABIVersion: g.ABIVersion().String(), Size: g.Size(),
		Imports: g.Imports(), Manifest: g.Manifest(), CompileTime: g.CompileTime()}
	g.Close(ctx)
	return say(reply{Verdict: v})
}
