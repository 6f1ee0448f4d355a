//go:build !wasip1

// Package ccounter tests the C example guest: built with clang when clang
// is installed (skipped otherwise), then run through the conformance suite.
package ccounter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/filesystem"
	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// build compiles src/counter.c as the Taskfile's guest-c task does.
func build(t *testing.T) string {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang is not installed (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)")
	}
	probe := exec.Command(clang, "--target=wasm32-wasi", "-x", "c", "-", "-o", os.DevNull)
	probe.Stdin = strings.NewReader("int main(void){return 0;}")
	if b, err := probe.CombinedOutput(); err != nil {
		t.Skipf("clang cannot build for wasm32-wasi (Debian: apt-get install lld wasi-libc libclang-rt-dev-wasm32): %v\n%s", err, b)
	}
	out := filepath.Join(t.TempDir(), "c-counter.wasm")
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out, "src/counter.c")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	return out
}

// TestConformance runs the suite: the guest must pass everything its
// manifest claims (append, read), and the row counts it writes at close
// must match what it was given.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	rep := conformance.RunTests(t, conformance.Config{
		Guest:       build(t),
		CacheDir:    testenv.CacheDir(t),
		Directory:   dir,
		TablePrefix: "c_",
	})
	for _, r := range rep.Results {
		switch r.Name {
		case "load", "unknown_op", "write", "types", "insert_basic", "insert_all":
			if r.Status != conformance.Pass {
				t.Errorf("%s: %s, want pass", r.Name, r.Status)
			}
		default:
			if r.Status != conformance.Skip {
				t.Errorf("%s: %s, want skip: the guest claims no more", r.Name, r.Status)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "row-counts-*.json"))
	counts := map[string]int64{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Tables map[string]int64 }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v: %s", f, err, b)
		}
		for table, n := range doc.Tables {
			counts[table] += n
		}
	}
	want := map[string]int64{"c_write": 12, "c_types": 12, "c_insert_basic": 2, "c_insert_all": 20}
	for table, n := range want {
		if counts[table] != n {
			t.Errorf("row counts files say %d rows for %s, want %d (files %v: %v)", counts[table], table, n, files, counts)
		}
	}
}

// TestMalformedBodies feeds write broken Arrow IPC: every one must be
// refused with status bad request, without a trap, and leave the instance
// usable.
func TestMalformedBodies(t *testing.T) {
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{CacheDir: testenv.CacheDir(t), Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	g, err := rt.LoadFile(ctx, build(t))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := filesystem.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.NewPool(host.PoolConfig{Grants: []host.Grant{fs},
		Init: &abi.InitRequest{Spec: []byte("{}"), WriteMode: abi.WriteModeAppend, MaxMessageBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	in, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(ctx, in)

	s := conformance.TableSchema("t", false, conformance.ScalarFields()...)
	rec := conformance.Rows(s, 0, 5, conformance.RowOptions{})
	good, _ := io.ReadAll(host.RecordBody(s, rec))
	big := conformance.Rows(s, 0, 20000, conformance.RowOptions{})
	bodies := map[string][]byte{
		"empty":                  nil,
		"garbage":                []byte("this is not arrow at all, not even close"),
		"no end-of-stream":       good[:len(good)-8],
		"old framing":            good[4:],
		"metadata length absurd": append([]byte{0xff, 0xff, 0xff, 0xff, 0xf8, 0xff, 0xff, 0x7f}, good[8:]...),
		"body over the limit":    must(io.ReadAll(host.RecordBody(s, big))),
	}
	for _, cut := range []int{3, 8, 20, 200, len(good) / 2, len(good) - 9} {
		bodies["cut at "+strconv.Itoa(cut)] = good[:cut]
	}
	for name, b := range bodies {
		err := p.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: "t"}, bytes.NewReader(b), nil)
		var ce *host.CallError
		if !errors.As(err, &ce) || ce.Trapped || ce.Status != abi.StatusBadRequest {
			t.Errorf("%s: %v, want status bad request", name, err)
		}
		if in.Broken() {
			t.Fatalf("%s: the instance broke", name)
		}
	}
	if err := p.Call(ctx, in, abi.OpWrite, abi.TableRequest{Table: "t"}, bytes.NewReader(good), nil); err != nil {
		t.Fatalf("a good batch after the bad ones: %v", err)
	}
	var out bytes.Buffer
	if err := p.Call(ctx, in, abi.OpRead, abi.TableRequest{Table: "t"}, host.RecordBody(s), &out); err != nil {
		t.Fatal(err)
	}
	_, recs, err := host.ReadRecords(&out)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, rec := range recs {
		n += rec.NumRows()
		rec.Release()
	}
	if n != 5 {
		t.Errorf("read back %d rows, want the 5 of the one good batch", n)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
