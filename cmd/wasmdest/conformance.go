package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

func cmdConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("conformance", "wasmdest conformance --guest GUEST.wasm [--config FILE [--destination NAME]] [--spec JSON] [--dir DIR] [--run REGEXP] [--json]",
		"Runs the destination behaviour suite on a guest through the host; exit 1 if a case fails.\nIt writes tables named conformance_<random>_*: point it at a scratch database or directory.", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	c.logLevel = "warn"
	fs.Lookup("log-level").DefValue = "warn"
	var guest, cfgPath, destName, spec, dir, sel, prefix string
	var asJSON, list bool
	fs.StringVar(&guest, "guest", "", "the guest's .wasm (default: the guest of the --config destination)")
	fs.StringVar(&cfgPath, "config", "", "a configuration file: its destination gives the spec (e.g. a connection string) and the directory")
	fs.StringVar(&destName, "destination", "", "with --config: the destination to use (default: the first)")
	fs.StringVar(&spec, "spec", "", "the nested spec as JSON, instead of --config (e.g. '{\"connection_string\":\"postgres://...\"}')")
	fs.StringVar(&dir, "dir", "", "directory granted to a guest with the filesystem capability (default: a new temporary one per case)")
	fs.StringVar(&sel, "run", "", "run only the cases matching this regular expression")
	fs.StringVar(&prefix, "table-prefix", "", "start of every table name (default conformance_<6 random hex digits>_)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&list, "list", false, "list the cases and exit")
	if _, err := fs.parseN(args, 0, ""); err != nil {
		return err
	}
	if list {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, cs := range conformance.Cases() {
			fmt.Fprintf(tw, "%s\t%s\n", cs.Name, cs.Checks)
		}
		return tw.Flush()
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cfg := conformance.Config{Guest: guest, Directory: dir, CacheDir: c.cacheDir, Logger: log, Run: sel, TablePrefix: prefix}
	switch {
	case cfgPath != "" && spec != "":
		return errors.New("conformance: give --config or --spec, not both")
	case cfgPath != "":
		f, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		var d *config.Destination
		for i := range f.Destinations {
			if destName == "" || f.Destinations[i].Name == destName {
				d = &f.Destinations[i]
				break
			}
		}
		if d == nil {
			return fmt.Errorf("conformance: %s has no destination %q", cfgPath, destName)
		}
		cfg.Spec = d.Spec
		if cfg.Directory == "" && d.Directory != "" {
			cfg.Directory = d.Directory
		}
		if cfg.Guest == "" {
			var dirs []string
			if c.guestDir != "" {
				dirs = []string{c.guestDir}
			}
			if cfg.Guest, err = syncer.ResolveGuest(*d, dirs); err != nil {
				return err
			}
		}
	case spec != "":
		if err := json.Unmarshal([]byte(spec), &cfg.Spec); err != nil {
			return fmt.Errorf("conformance: --spec: not a JSON object: %w", err)
		}
	}
	if cfg.Guest == "" {
		return fs.fail("give --guest GUEST.wasm, or --config FILE whose destination names the guest")
	}
	rt, err := c.runtime(ctx, log)
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	cfg.Runtime = rt
	rep, err := conformance.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteTable(stdout)
	}
	if !rep.OK() {
		return exitError{1}
	}
	return nil
}
