// Command wasmdest loads Arrow data into databases and files through
// destination guests compiled to WebAssembly.
//
//	wasmdest run --config wasmdest.toml data/*.arrows
//	wasmdest run --guest dist/guests/file.wasm --input data.arrows
//	wasmdest validate --config wasmdest.toml
//	wasmdest demo
//	wasmdest inspect GUEST.wasm
//	wasmdest conformance --guest GUEST.wasm --spec '{"connection_string":"..."}'
//	wasmdest new-guest NAME
//	wasmdest plugin --guest GUEST.wasm --address localhost:7777
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmdest/wasmdest/internal/compilejail"
	"github.com/wasmdest/wasmdest/internal/version"
)

const usage = `wasmdest loads Arrow data into databases and files through WebAssembly destination guests.

Usage:
  wasmdest run      --config FILE [flags] [INPUT...]   sync Arrow IPC, Parquet, CSV, JSON Lines ("-" is stdin)
  wasmdest run      --guest GUEST.wasm --input INPUT [--spec JSON] [flags]
                    exit status 1: failed (tables not begun: "not attempted");
                    3: with --keep-going, some tables failed, the others were written
  wasmdest validate --config FILE                      check a configuration and its guests, write nothing
  wasmdest demo     [--dir DIR]                        write a bundled dataset through the file guest
  wasmdest inspect  GUEST.wasm [--json]                manifest, exports, imports: can this host run the guest?
  wasmdest conformance --guest GUEST.wasm [--config FILE | --spec JSON] [--dir DIR]
                                                       run the destination behaviour suite on a guest
  wasmdest new-guest NAME [--dir DIR] [--module PATH]  write a new Go guest that builds and passes the suite
  wasmdest serve    --config TENANTS.toml [flags]        host tenants' guests over Arrow Flight (docs/serve.md)
  wasmdest plugin   --guest GUEST.wasm [--address HOST:PORT | --launcher PATH]
                                                       serve a guest as a CloudQuery destination plugin (docs/cloudquery.md)
  wasmdest version

Flags may come before or after a command's arguments.
Run 'wasmdest COMMAND -h' for a command's synopsis and flags.
`

func main() {
	// Re-run as the child process in which serve compiles a tenant's
	// upload (internal/compilejail), this does that and exits.
	compilejail.Main()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code for errors already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// codedError is an error to print, with the exit code to end with.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = cmdInspect(ctx, args[1:], stdout, stderr)
	case "conformance":
		err = cmdConformance(ctx, args[1:], stdout, stderr)
	case "new-guest":
		err = cmdNewGuest(args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "plugin":
		err = cmdPlugin(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "wasmdest", version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wasmdest: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ee exitError
	var ce codedError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, "wasmdest:", err)
		return ce.code
	}
	fmt.Fprintln(stderr, "wasmdest:", err)
	return 1
}
