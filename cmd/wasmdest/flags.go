package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp ends a command that printed its usage because -h asked for it:
// the command succeeded.
var errHelp = errors.New("help printed")

// command is one subcommand's flag set, with its synopsis and description
// for -h.
type command struct {
	*flag.FlagSet
	synopsis, about string
	stdout, stderr  io.Writer
	usage           bytes.Buffer
}

// newCommand makes the flag set of `wasmdest NAME`. synopsis is the usage
// line after "Usage: "; about says what the command does.
func newCommand(name, synopsis, about string, stdout, stderr io.Writer) *command {
	c := &command{FlagSet: flag.NewFlagSet("wasmdest "+name, flag.ContinueOnError), synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
	c.SetOutput(stderr)
	c.Usage = func() { c.printUsage(&c.usage) }
	return c
}

func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags (before or after the arguments; \"--\" ends them):\n", c.synopsis, c.about)
	out := c.Output()
	c.SetOutput(w)
	c.PrintDefaults()
	c.SetOutput(out)
}

// parse parses args, flags and arguments in any order: a flag may follow an
// argument ("run data.arrows --config x"), and "--" makes everything after
// it an argument. It returns the arguments. -h or --help prints the usage to
// stdout and returns errHelp; a bad flag prints the problem and the usage to
// stderr and returns exitError{2}.
func (c *command) parse(args []string) ([]string, error) {
	var out []string
	for {
		err := c.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			c.usage.WriteTo(c.stdout)
			return nil, errHelp
		case err != nil:
			c.usage.WriteTo(c.stderr)
			return nil, exitError{2}
		}
		rest := c.Args()
		if len(rest) == 0 {
			return out, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(out, rest...), nil
		}
		out = append(out, rest[0])
		args = rest[1:]
	}
}

// parseN is parse for a command that takes exactly n arguments, named in
// what ("GUEST.wasm") for the error; n = 0 refuses every argument.
func (c *command) parseN(args []string, n int, what string) ([]string, error) {
	rest, err := c.parse(args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(rest) == n:
		return rest, nil
	case n == 0:
		return nil, c.fail("unexpected argument %q: this command takes flags only", rest[0])
	case len(rest) < n:
		return nil, c.fail("missing %s", what)
	}
	return nil, c.fail("give one %s, not %d arguments (%s)", what, len(rest), strings.Join(rest, " "))
}

// fail reports a usage problem and the synopsis on stderr: exit status 2.
func (c *command) fail(format string, args ...any) error {
	fmt.Fprintf(c.stderr, "%s: %s\nUsage: %s\nRun '%s -h' for the flags.\n", c.Name(), fmt.Sprintf(format, args...), c.synopsis, c.Name())
	return exitError{2}
}
