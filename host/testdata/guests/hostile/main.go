//go:build wasip1

// Command hostile is a test guest that attacks its host from inside the
// sandbox, as its spec says:
//
//   - "flood": every write logs lines as fast as it can (log host function
//     and stdout), spec "lines" of each, then succeeds;
//   - "probe": every write tries to get out: files outside its directory
//     (absolute paths, "..", a symlink pointing out, the spec's "targets"),
//     the environment, and the network ("dial" addresses). It writes what
//     it found to report.json in its own directory, and fails the write if
//     anything outside was reachable.
//
// Its rows are counted, not stored.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

type spec struct {
	Mode    string   `json:"mode"`
	Lines   int      `json:"lines"`
	Targets []string `json:"targets"`
	Dial    []string `json:"dial"`
}

type dest struct {
	spec spec
	rows int64
}

func init() {
	sdk.Register(abi.Manifest{
		Name: "hostile", Version: "v0.0.1",
		Capabilities: []abi.Capability{abi.CapFilesystem},
		SpecSchema:   json.RawMessage(`{"type":"object"}`),
		WriteModes:   []abi.WriteMode{abi.WriteModeAppend},
	}, &dest{})
}

func main() {}

func (d *dest) Init(_ context.Context, req abi.InitRequest) error {
	return json.Unmarshal(req.Spec, &d.spec)
}

func (d *dest) Close(context.Context) error { return nil }

func (d *dest) Write(_ context.Context, table string, records array.RecordReader) error {
	for records.Next() {
		d.rows += records.RecordBatch().NumRows()
	}
	switch d.spec.Mode {
	case "flood":
		for i := 0; i < d.spec.Lines; i++ {
			sdk.Info("flood", "line", i, "padding", strings.Repeat("x", 100))
			fmt.Println("flood on stdout", i)
		}
		return nil
	case "probe":
		return d.probe()
	}
	return fmt.Errorf("unknown mode %q", d.spec.Mode)
}

// Report is what probe found; report.json holds it.
type Report struct {
	// Escaped lists everything outside the sandbox that was reachable.
	Escaped []string `json:"escaped"`
	// Refused lists each attempt and the error that stopped it.
	Refused []string `json:"refused"`
	// Root lists the guest's own directory.
	Root []string `json:"root"`
	// Env is the whole environment the guest saw.
	Env []string `json:"env"`
}

func (d *dest) probe() error {
	var r Report
	try := func(what string, err error) {
		if err == nil {
			r.Escaped = append(r.Escaped, what)
		} else {
			r.Refused = append(r.Refused, what+": "+err.Error())
		}
	}
	for _, p := range append([]string{"/etc/passwd", "/proc/self/environ", "../../../../etc/passwd", "/../etc/hostname"}, d.spec.Targets...) {
		_, err := os.ReadFile(p)
		try("read "+p, err)
	}
	// ".." of the root is the root itself, as in any chroot.
	if up, err := os.ReadDir("/../.."); err == nil {
		root, _ := os.ReadDir("/")
		if len(up) != len(root) {
			r.Escaped = append(r.Escaped, "list /../.. differs from /")
		}
	}
	// A symlink pointing out of the directory must not be followed.
	os.Remove("/escape")
	if err := os.Symlink("../../../../../etc/passwd", "/escape"); err == nil {
		_, err = os.ReadFile("/escape")
		try("read through symlink /escape -> ../../../../../etc/passwd", err)
		os.Remove("/escape")
	} else {
		r.Refused = append(r.Refused, "symlink: "+err.Error())
	}
	for _, t := range d.spec.Targets {
		try("write "+t, os.WriteFile(t, []byte("pwned"), 0o644))
	}
	r.Env = os.Environ()
	for _, kv := range r.Env {
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			r.Escaped = append(r.Escaped, "environment "+kv)
		}
	}
	for _, k := range []string{"HOME", "PATH", "USER", "PGPASSWORD"} {
		if v, ok := os.LookupEnv(k); ok {
			r.Escaped = append(r.Escaped, "environment "+k+"="+v)
		}
	}
	for _, a := range d.spec.Dial {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			c.Close()
		}
		try("dial tcp "+a, err)
	}
	_, err := net.LookupHost("localhost")
	try("resolve localhost", err)
	if es, err := os.ReadDir("/"); err == nil {
		for _, e := range es {
			r.Root = append(r.Root, e.Name())
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile("/report.json", b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if len(r.Escaped) > 0 {
		return fmt.Errorf("escaped the sandbox: %s", strings.Join(r.Escaped, "; "))
	}
	return nil
}
