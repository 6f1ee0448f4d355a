// Command wasmdest loads Arrow data into databases and files through
// destination guests compiled to WebAssembly.
//
//	wasmdest run --config wasmdest.toml data/*.arrows
//	wasmdest run --guest dist/guests/file.wasm --input data.arrows
//	wasmdest validate --config wasmdest.toml
//	wasmdest demo
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `wasmdest loads Arrow data into databases and files through WebAssembly destination guests.

Usage:
  wasmdest run      --config FILE [flags] [INPUT...]   sync Arrow IPC files or streams ("-" is stdin)
  wasmdest run      --guest GUEST.wasm --input INPUT [--spec JSON] [flags]
  wasmdest validate --config FILE                      check a configuration and its guests, write nothing
  wasmdest demo     [--dir DIR]                        write a bundled dataset through the file guest
  wasmdest version

Run 'wasmdest COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code for errors already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

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
	case "version", "--version":
		fmt.Fprintln(stdout, "wasmdest", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wasmdest: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(stderr, "wasmdest:", err)
	return 1
}
