package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

//go:embed demodata/*.arrows
var demoData embed.FS

// demoDestination is the demo's destination: the builtin file guest, Parquet,
// one file per table and batch, below dir.
func demoDestination(dir string) config.Destination {
	return config.Destination{
		Name: "demo", Registry: config.RegistryBuiltin, Path: config.BuiltinFile,
		WriteMode: abi.WriteModeAppend, MigrateMode: abi.DefaultMigrateMode, PKMode: abi.DefaultPKMode,
		Directory: dir, File: "(demo)",
		Spec: map[string]any{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": demoFormat},
	}
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("demo", "wasmdest demo [--dir DIR] [flags]",
		"Writes a bundled dataset (users and orders) through the file guest into DIR: no server needed.", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	var dir string
	fs.StringVar(&dir, "dir", "wasmdest-demo", "directory to write the files into")
	if _, err := fs.parseN(args, 0, ""); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	env, err := c.env(ctx, log, "", "wasmdest-demo")
	if err != nil {
		return err
	}
	defer env.Runtime.Close(context.WithoutCancel(ctx))
	dests, err := openAll(ctx, env, []config.Destination{demoDestination(dir)})
	if err != nil {
		return err
	}
	entries, err := demoData.ReadDir("demodata")
	if err != nil {
		return err
	}
	var inputs []syncer.Input
	for _, e := range entries {
		b, err := demoData.ReadFile("demodata/" + e.Name())
		if err != nil {
			return err
		}
		r, err := arrowio.NewReader(e.Name(), bytes.NewReader(b), arrowio.DefaultLimits)
		if err != nil {
			return err
		}
		inputs = append(inputs, r)
	}
	s := syncer.New(env, dests)
	runErr := s.Run(ctx, inputs)
	runErr = errors.Join(runErr, s.Finish(context.WithoutCancel(ctx)))
	printSummary(stdout, s, runErr)
	if runErr != nil {
		return runErr
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s files of %d tables below %s\n", demoFormat, len(inputs), abs)
	return nil
}

// demoFormat is the format the demo writes.
const demoFormat = "parquet"
