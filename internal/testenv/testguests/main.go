// Command testguests builds every guest the tests use (testenv.Guests) into
// a directory, two at a time, and compiles each into the tests' compilation
// cache, so that the test processes of one run find them built and compiled
// instead of each building and compiling its own copies. It also builds the
// S3 tests' versitygw (testenv.VersityGW) unless $WASMDEST_TEST_S3_URL is set.
// `go tool task test` runs it, then go test with $WASMDEST_TEST_GUESTS set:
//
//	go run ./internal/testenv/testguests DIR
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testguests DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "testguests:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	cacheDir, err := testenv.CompilationCacheDir()
	if err != nil {
		return err
	}
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return err
	}
	defer cache.Close(ctx)
	pkgs := testenv.Guests()
	errs := make([]error, len(pkgs))
	slots := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, pkg := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = prepare(ctx, cache, dir, pkg)
		}()
	}
	// The S3 tests' versitygw is built once per machine; building it here
	// keeps its first build out of the test timeouts.
	var gwErr error
	if os.Getenv(testenv.S3URLEnv) == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			var p string
			if p, gwErr = testenv.VersityGW(); gwErr == nil {
				fmt.Printf("testguests: versitygw: %s ready in %s\n", p, time.Since(start).Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, gwErr)...)
}

// interruptibleToo are the guests tests run in Interruptible runtimes too.
var interruptibleToo = []string{"guests/file", "host/testdata/guests/misbehave", "host/testdata/guests/hostile"}

// prepare builds pkg into dir and compiles it into cache.
func prepare(ctx context.Context, cache wazero.CompilationCache, dir, pkg string) error {
	start := time.Now()
	out := testenv.GuestPath(dir, pkg)
	if err := testenv.BuildTo(pkg, out); err != nil {
		return err
	}
	built := time.Since(start)
	wasm, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	// The compiled code depends on whether the runtime is Interruptible
	// (host.Config): every guest is compiled as the tests mostly run it,
	// and those that several test processes also run interruptible
	// (untrusted tenants of serve, the killed writes of the file guest's
	// tests, host's call timeouts) that way too.
	for _, interruptible := range []bool{false, true} {
		if interruptible && !slices.Contains(interruptibleToo, pkg) {
			continue
		}
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache).WithCloseOnContextDone(interruptible))
		_, err := rt.CompileModule(ctx, wasm)
		rt.Close(ctx)
		if err != nil {
			return fmt.Errorf("compile %s: %w", pkg, err)
		}
	}
	fmt.Printf("testguests: %s: built in %s, compiled in %s\n", pkg, built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
	return nil
}
