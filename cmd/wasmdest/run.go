package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// common are the flags of every command that runs guests.
type common struct {
	logLevel, logFormat string
	cacheDir, guestDir  string
	memoryMiB           uint64
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "compilation cache directory (default $"+host.CacheDirEnv+" or the user cache directory; \"off\" disables it)")
	fs.StringVar(&c.guestDir, "guest-dir", "", "directory of builtin guests (default $"+syncer.GuestDirEnv+", then guests/ beside the executable)")
	fs.Uint64Var(&c.memoryMiB, "memory-limit", host.DefaultMemoryLimit>>20, "memory limit of each guest instance, in MiB")
}

// sharedCache, when set, is the compilation cache of every runtime the
// commands make, instead of one on --cache-dir each: the tests run many
// commands in one process and set it so that they load each guest once.
var sharedCache wazero.CompilationCache

// runtime makes a command's runtime.
func (c *common) runtime(ctx context.Context, log hclog.Logger) (*host.Runtime, error) {
	return host.NewRuntime(ctx, host.Config{CacheDir: c.cacheDir, Cache: sharedCache, Logger: log, MemoryLimit: c.memoryMiB << 20})
}

func (c *common) logger(stderr io.Writer) (hclog.Logger, error) {
	level := hclog.LevelFromString(c.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level %q is not one of trace, debug, info, warn, error", c.logLevel)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q is not one of text, json", c.logFormat)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "wasmdest", Level: level, Output: stderr, JSONFormat: c.logFormat == "json"}), nil
}

func (c *common) env(ctx context.Context, log hclog.Logger, syncID, sourceName string) (*syncer.Env, error) {
	rt, err := c.runtime(ctx, log)
	if err != nil {
		return nil, err
	}
	if syncID == "" {
		syncID = uuid.NewString()
	}
	env := &syncer.Env{
		Runtime: rt, SyncID: syncID, SyncTime: time.Now().UTC().Truncate(time.Microsecond),
		SourceName: sourceName, Log: log, Capabilities: capability.Builtin(),
	}
	if c.guestDir != "" {
		env.GuestDirs = []string{c.guestDir}
	}
	// Each guest is loaded (compiled) once per command, however many times
	// it is asked for (write mode, destinations sharing a guest).
	loaded := map[string]*host.Guest{}
	env.LoadGuest = func(ctx context.Context, path string) (*host.Guest, error) {
		if g := loaded[path]; g != nil {
			return g, nil
		}
		g, err := rt.LoadFile(ctx, path)
		if err == nil {
			loaded[path] = g
		}
		return g, err
	}
	return env, nil
}

// openAll opens every destination, closing those opened when one fails.
func openAll(ctx context.Context, env *syncer.Env, dests []config.Destination) ([]*syncer.Destination, error) {
	var out []*syncer.Destination
	for _, d := range dests {
		od, err := syncer.Open(ctx, env, d)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, od)
	}
	return out, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("run", "wasmdest run --config FILE [flags] INPUT...\n       wasmdest run --guest GUEST.wasm [--spec JSON] [--dir DIR] [flags] INPUT...",
		"Syncs Arrow IPC files or streams (\"-\" is stdin) into the destinations of a configuration file,\nor into one guest given with --guest.", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	var inputs multiFlag
	var cfgPath, guest, spec, dir, writeMode, sourceName, syncID string
	var writers int
	var lockWait time.Duration
	var keepGoing bool
	fs.StringVar(&cfgPath, "config", "", "configuration file (TOML, or CloudQuery YAML)")
	fs.StringVar(&guest, "guest", "", "run this .wasm guest without a configuration file")
	fs.StringVar(&spec, "spec", "{}", "with --guest: the nested spec as JSON")
	fs.StringVar(&dir, "dir", ".", "with --guest: the destination's directory: granted to a guest with the filesystem capability, and where the sql capability's database files are")
	fs.StringVar(&writeMode, "write-mode", "", "with --guest: write_mode (default: overwrite-delete-stale, or the guest's only mode)")
	fs.Var(&inputs, "input", "input to load: a file, directory or glob of Arrow IPC, Parquet, CSV or JSON Lines, plain or gzip/zstd (repeatable; \"-\" is stdin); also taken as arguments")
	fs.StringVar(&sourceName, "source-name", "wasmdest", "value of _cq_source_name")
	fs.StringVar(&syncID, "sync-id", "", "this sync's id, the {{SYNC_ID}} placeholder (default: a new UUID)")
	var inf inputFlags
	inf.register(fs.FlagSet)
	fs.IntVar(&writers, "writers", 1, "batches written at once per destination, each by its own guest instance (tables with a primary key: only batches sharing no key, and only with guests that list parallel_upserts); not with the file guest's no_rotate")
	fs.BoolVar(&keepGoing, "keep-going", false, "after a table fails, go on with the other tables (exit status 3 when some failed) instead of stopping (exit status 1, the tables not begun listed as not attempted)")
	fs.DurationVar(&lockWait, "lock-wait", syncer.DefaultLockWait, "how long to wait for another sync of the same source and table (overwrite-delete-stale into PostgreSQL) to finish; 0 refuses at once")
	rest, err := fs.parse(args)
	if err != nil {
		return err
	}
	inputs = append(inputs, rest...)
	if (cfgPath == "") == (guest == "") {
		return fs.fail("give either --config FILE or --guest GUEST.wasm")
	}
	if len(inputs) == 0 {
		return fs.fail("no input: give Arrow IPC files as arguments or with --input (\"-\" reads stdin)")
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	var dests []config.Destination
	if cfgPath != "" {
		f, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		for _, w := range f.Warnings {
			log.Warn(w)
		}
		dests = f.Destinations
	} else {
		d, err := guestDestination(guest, spec, dir, writeMode)
		if err != nil {
			return err
		}
		dests = []config.Destination{d}
	}
	if writers < 1 {
		return fmt.Errorf("run: --writers %d: give 1 or more", writers)
	}
	// Every input is sniffed and opened before any guest is loaded or any
	// database connected: a bad input fails at once.
	open, err := inf.opener()
	if err != nil {
		return err
	}
	ins, err := openInputs(inputs, open)
	if err != nil {
		return err
	}
	defer func() { closeInputs(ins) }() // those not handed to syncAll
	env, err := c.env(ctx, log, syncID, sourceName)
	if err != nil {
		return err
	}
	env.Writers = writers
	env.LockWait = lockWait
	env.KeepGoing = keepGoing
	if lockWait <= 0 {
		env.LockWait = -1 // refuse at once
	}
	defer env.Runtime.Close(context.WithoutCancel(ctx))
	if cfgPath == "" {
		if err := adaptWriteMode(ctx, env, &dests[0], writeMode); err != nil {
			return err
		}
	}
	return syncAll(ctx, env, dests, takeInputs(&ins), stdout, stderr)
}

// openInputs opens (and so sniffs) every input with open, closing those
// opened when one fails.
func openInputs(paths []string, open func(string) ([]syncer.Input, error)) ([]syncer.Input, error) {
	var out []syncer.Input
	for _, p := range paths {
		rs, err := open(p)
		if err != nil {
			closeInputs(out)
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func closeInputs(ins []syncer.Input) {
	for _, in := range ins {
		in.Close()
	}
}

// takeInputs hands *ins over to a caller that closes them.
func takeInputs(ins *[]syncer.Input) []syncer.Input {
	out := *ins
	*ins = nil
	return out
}

// guestDestination makes the destination of `run --guest`.
func guestDestination(guest, spec, dir, writeMode string) (config.Destination, error) {
	d := config.Destination{
		Name: strings.TrimSuffix(filepath.Base(guest), ".wasm"), Registry: config.RegistryLocal, Path: guest,
		WriteMode: abi.DefaultWriteMode, MigrateMode: abi.DefaultMigrateMode, PKMode: abi.DefaultPKMode,
		Directory: dir, File: "--guest", Line: 0,
	}
	if writeMode != "" {
		d.WriteMode = abi.WriteMode(writeMode)
		if err := d.WriteMode.Valid(); err != nil {
			return d, fmt.Errorf("--write-mode: %w", err)
		}
	}
	if err := json.Unmarshal([]byte(spec), &d.Spec); err != nil {
		return d, fmt.Errorf("--spec: not a JSON object: %w", err)
	}
	if d.Spec == nil {
		d.Spec = map[string]any{}
	}
	return d, nil
}

// adaptWriteMode picks the guest's write mode for `run --guest` when none was
// given and the default is one the guest does not support.
func adaptWriteMode(ctx context.Context, env *syncer.Env, d *config.Destination, asked string) error {
	if asked != "" {
		return nil
	}
	g, err := env.LoadGuest(ctx, d.Path)
	if err != nil {
		return err
	}
	if modes := g.Manifest().WriteModes; len(modes) > 0 && !slices.Contains(modes, d.WriteMode) {
		d.WriteMode = modes[0]
		env.Log.Info("using the guest's write mode", "write_mode", d.WriteMode)
	}
	return nil
}

// syncAll opens the destinations, runs the sync of inputs (which it closes)
// with progress, and prints the summary.
func syncAll(ctx context.Context, env *syncer.Env, cfg []config.Destination, inputs []syncer.Input, stdout, stderr io.Writer) error {
	dests, err := openAll(ctx, env, cfg)
	if err != nil {
		closeInputs(inputs)
		return err
	}
	s := syncer.New(env, dests)
	stopProgress := startProgress(s, stderr, env.Log)
	runErr := s.Run(ctx, inputs)
	runErr = errors.Join(runErr, s.Finish(context.WithoutCancel(ctx)))
	stopProgress()
	printSummary(stdout, s, runErr)
	if runErr != nil && env.KeepGoing && ctx.Err() == nil && !anyNotAttempted(s) {
		// Every table was attempted; some failed.
		return codedError{code: exitSomeTablesFailed, err: runErr}
	}
	return runErr
}

// exitSomeTablesFailed is run's exit status with --keep-going when every
// table was attempted and some failed (1: the run failed, or stopped with
// tables not attempted).
const exitSomeTablesFailed = 3

func anyNotAttempted(s *syncer.Sync) bool {
	for _, st := range s.Stats() {
		if st.NotAttempted {
			return true
		}
	}
	return false
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommand("validate", "wasmdest validate --config FILE [flags]",
		"Checks a configuration file and loads its guests (manifest, spec, batching) without writing anything.", stdout, stderr)
	var c common
	c.register(fs.FlagSet)
	var cfgPath string
	fs.StringVar(&cfgPath, "config", "", "configuration file to check")
	if _, err := fs.parseN(args, 0, ""); err != nil {
		return err
	}
	if cfgPath == "" {
		return fs.fail("--config FILE is required")
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	f, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	for _, w := range f.Warnings {
		log.Warn(w)
	}
	env, err := c.env(ctx, log, "", "wasmdest")
	if err != nil {
		return err
	}
	defer env.Runtime.Close(context.WithoutCancel(ctx))
	dests, err := openAll(ctx, env, f.Destinations)
	if err != nil {
		return err
	}
	for _, d := range dests {
		m := d.Guest.Manifest()
		fmt.Fprintf(stdout, "%s: destination %q: guest %s %s (ABI %s), write_mode %s, batch %d rows / %d bytes / %s: ok\n",
			f.Path, d.Name, m.Name, m.Version, m.ABIVersion, d.Config.WriteMode, d.Batch.Rows, d.Batch.Bytes, d.Batch.Timeout)
		d.Close()
	}
	return nil
}
