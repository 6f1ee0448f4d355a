package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/input"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// inputFlags are run's flags about its inputs.
type inputFlags struct {
	format  string
	schemas multiFlag
	sample  int
}

func (f *inputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "", "input format: arrow, parquet, csv or json (JSON Lines); default: detected per file")
	fs.Var(&f.schemas, "schema", "schema of CSV and JSON inputs: an Arrow IPC file or stream holding it, used for the table its cq:table_name names, or for every table without one; or a CloudQuery table definition (JSON as `cloudquery tables --format json` writes it), one schema per table and relation (repeatable; default: inferred)")
	fs.IntVar(&f.sample, "infer-rows", 1000, "rows of a CSV or JSON input the schema is inferred from")
}

// opener returns what opens run's arguments: Arrow IPC, Parquet, CSV and
// JSON Lines files, directories, globs and stdin (internal/input).
func (f *inputFlags) opener() (func(string) ([]syncer.Input, error), error) {
	opts := input.Options{Format: input.Format(f.format), SampleRows: f.sample, Limits: arrowio.DefaultLimits}
	switch opts.Format {
	case input.FormatAuto, input.FormatArrow, input.FormatParquet, input.FormatCSV, input.FormatJSON:
	default:
		return nil, fmt.Errorf("run: --format %q is not arrow, parquet, csv or json", f.format)
	}
	for _, p := range f.schemas {
		if head, err := readHead(p); err == nil && input.IsCloudQueryTables(head) {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("run: --schema: %w", err)
			}
			scs, err := input.ParseCloudQueryTables(p, data)
			if err != nil {
				return nil, fmt.Errorf("run: --schema: %w", err)
			}
			opts.Schemas = append(opts.Schemas, scs...)
			continue
		}
		rd, err := arrowio.Open(p, arrowio.DefaultLimits)
		if err != nil {
			// A schema without cq:table_name from a file named like no table.
			return nil, fmt.Errorf("run: --schema: %w", err)
		}
		opts.Schemas = append(opts.Schemas, rd.Table().Schema)
		rd.Close()
	}
	o := input.NewOpener(opts)
	return func(p string) ([]syncer.Input, error) {
		ins, err := o.Open(p)
		if err != nil {
			return nil, err
		}
		out := make([]syncer.Input, len(ins))
		for i, in := range ins {
			out[i] = in
		}
		return out, nil
	}, nil
}

// readHead returns the first bytes of the file at p (what tells a JSON table
// definition from Arrow IPC).
func readHead(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 64)
	n, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:n], err
}
