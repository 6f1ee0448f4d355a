package main

import (
	"flag"
	"fmt"

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
	fs.Var(&f.schemas, "schema", "schema of CSV and JSON inputs: an Arrow IPC file or stream holding it, used for the table its cq:table_name names, or for every table without one (repeatable; default: inferred)")
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
