// Package conformance is the destination behaviour suite: it runs the
// writer test checklist of CloudQuery destinations (insert, upsert with null
// rows and duplicate keys in one batch, delete-stale, safe and forced
// migrations, a round trip of every type of the reference test table)
// against any wasmdest guest, through the real host: the guest is loaded by
// host.Runtime and every sync runs through internal/syncer, so the host's rules
// (write modes, internal columns, migration planning, batching) apply as in
// production.
//
// What a guest's manifest says it does not support is skipped, with the
// reason: write modes it does not list, and the features read,
// delete_stale and migrate_forced. Migration cases run only for guests that
// answer describe. Checks read the rows back with the guest's read
// operation, in the instance that wrote them, before the destination is
// closed: guests whose storage lives only as long as an instance (memory,
// files written by this instance) pass too.
//
// Use it from Go tests with RunTests, or from the command line with
// `wasmdest conformance --guest GUEST.wasm`.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability"
)

func init() { arrowtypes.Register() }

// Config says which guest to test and where it writes.
type Config struct {
	// Guest is the guest's .wasm file.
	Guest string
	// Spec is the destination's nested spec, secrets included (e.g. a
	// postgres guest's connection_string). nil is {}.
	Spec map[string]any
	// Directory is the host directory granted to a guest with the
	// filesystem capability. "" gives each case a new temporary directory,
	// removed afterwards.
	Directory string
	// Runtime loads and runs the guest. nil makes one with CacheDir and
	// closes it when Run returns.
	Runtime *host.Runtime
	// CacheDir is the compilation cache of the Runtime Run makes ("" is
	// the default cache, "off" none).
	CacheDir string
	// Logger receives the host's and the guest's logs. nil discards them.
	Logger hclog.Logger
	// Capabilities are those the guest may be granted, opened from Spec
	// and Directory. nil means capability.Builtin().
	Capabilities []host.Capability
	// Run, when not empty, is a regular expression: only cases whose name
	// matches run (load always runs).
	Run string
	// TablePrefix starts the name of every table the suite writes. ""
	// means "conformance_" and 6 random hex digits and "_", so that runs
	// against one database do not see each other's tables.
	TablePrefix string
}

// Status is the outcome of one case.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one case's outcome.
type Result struct {
	// Name identifies the case, e.g. "upsert_duplicate_keys".
	Name string `json:"name"`
	// Checks says in a line what the case checks.
	Checks string `json:"checks"`
	Status Status `json:"status"`
	// Detail is why it failed or was skipped, or what passed.
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is the outcome of a run.
type Report struct {
	Guest string `json:"guest"`
	// Manifest is the guest's manifest, when it loaded.
	Manifest *abi.Manifest `json:"manifest,omitempty"`
	// TablePrefix starts the name of every table written.
	TablePrefix string   `json:"table_prefix"`
	Results     []Result `json:"results"`
}

// Count returns how many cases ended with status st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == st {
			n++
		}
	}
	return n
}

// OK reports whether no case failed.
func (r *Report) OK() bool { return r.Count(Fail) == 0 }

// WriteTable prints the results as a table, one case per line, with the
// details of failures and skips after the status, and a total.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tTIME\tDETAIL")
	for _, res := range r.Results {
		detail := res.Detail
		if res.Status == Pass && detail == "" {
			detail = res.Checks
		}
		lines := strings.Split(detail, "\n")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, strings.ToUpper(string(res.Status)), res.Duration.Round(time.Millisecond), lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t%s\n", l)
		}
	}
	tw.Flush()
	name := r.Guest
	if r.Manifest != nil {
		name = fmt.Sprintf("%s %s", r.Manifest.Name, r.Manifest.Version)
	}
	fmt.Fprintf(w, "\n%s: %d passed, %d failed, %d skipped\n", name, r.Count(Pass), r.Count(Fail), r.Count(Skip))
}

// Cases returns the name and description of every case, in the order they run.
func Cases() []Result {
	out := make([]Result, len(cases))
	for i, c := range cases {
		out[i] = Result{Name: c.name, Checks: c.checks}
	}
	return out
}

// Run runs every case (or those cfg.Run selects) against cfg.Guest and
// returns the report. The error is for a run that could not start (no
// guest file, a bad cfg.Run); a guest that fails to load is a failed case.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	return run(ctx, cfg, nil)
}

// run runs the cases; each, when given, wraps the running of one case (Go
// tests run each as a subtest).
func run(ctx context.Context, cfg Config, each func(name string, fn func() Result) Result) (*Report, error) {
	if _, err := os.Stat(cfg.Guest); err != nil {
		return nil, fmt.Errorf("conformance: guest: %w", err)
	}
	var sel *regexp.Regexp
	if cfg.Run != "" {
		var err error
		if sel, err = regexp.Compile(cfg.Run); err != nil {
			return nil, fmt.Errorf("conformance: run pattern: %w", err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Spec == nil {
		cfg.Spec = map[string]any{}
	}
	if cfg.TablePrefix == "" {
		var b [3]byte
		rand.Read(b[:])
		cfg.TablePrefix = "conformance_" + hex.EncodeToString(b[:]) + "_"
	}
	if cfg.Capabilities == nil {
		cfg.Capabilities = capability.Builtin()
	}
	s := &suite{cfg: cfg, rt: cfg.Runtime, log: cfg.Logger}
	if s.rt == nil {
		rt, err := host.NewRuntime(ctx, host.Config{CacheDir: cfg.CacheDir, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		defer rt.Close(context.WithoutCancel(ctx))
		s.rt = rt
	}
	rep := &Report{Guest: cfg.Guest, TablePrefix: cfg.TablePrefix}
	for _, c := range cases {
		if sel != nil && c.name != "load" && !sel.MatchString(c.name) {
			continue
		}
		fn := func() Result { return s.runCase(ctx, c) }
		var res Result
		if each != nil {
			res = each(c.name, fn)
		} else {
			res = fn()
		}
		rep.Results = append(rep.Results, res)
		if c.name == "load" {
			if s.guest != nil {
				m := s.guest.Manifest()
				rep.Manifest = &m
			}
		}
	}
	return rep, nil
}

// runCase runs one case, turning a panic of the suite itself into a failure.
func (s *suite) runCase(ctx context.Context, c testCase) (res Result) {
	res = Result{Name: c.name, Checks: c.checks}
	start := time.Now()
	defer func() {
		res.Duration = time.Since(start)
		if r := recover(); r != nil {
			res.Status, res.Detail = Fail, fmt.Sprintf("conformance suite panicked: %v", r)
		}
	}()
	if c.name != "load" {
		if s.guest == nil {
			res.Status, res.Detail = Skip, "the guest did not load"
			return res
		}
		if why := s.unmet(c.needs); why != "" {
			res.Status, res.Detail = Skip, why
			return res
		}
	}
	cr, cleanup, err := s.newCaseRun(c.name)
	if err != nil {
		res.Status, res.Detail = Fail, err.Error()
		return res
	}
	defer cleanup()
	detail, err := c.run(cr, ctx)
	switch {
	case err != nil:
		res.Status, res.Detail = Fail, tidy(err.Error())+wasmStack(err)
		if c.name == "load" && strings.Contains(res.Detail, "spec") {
			res.Detail += " (give the destination's spec: Config.Spec, or --config / --spec on the command line)"
		}
	default:
		res.Status, res.Detail = Pass, detail
	}
	return res
}

// needs are what a case requires of a guest.
type needs struct {
	// modes: the case runs in the first of these write modes the guest
	// supports, and is skipped when it supports none.
	modes    []abi.WriteMode
	features []abi.Feature
	// describe: the guest answers describe (holds schemas).
	describe bool
}

// unmet says why the guest does not meet n, or "".
func (s *suite) unmet(n needs) string {
	if len(n.modes) > 0 && s.mode(n.modes...) == "" {
		return fmt.Sprintf("needs write_mode %s; the guest supports %s", abi.List(n.modes), abi.List(s.guest.Manifest().WriteModes))
	}
	for _, f := range n.features {
		if !s.guest.HasFeature(f) {
			return fmt.Sprintf("needs feature %q, which the manifest does not list", f)
		}
	}
	if n.describe && !s.describes {
		return "the guest does not describe tables (describe answers unsupported), so the host never migrates them"
	}
	return ""
}

// mode returns the first of modes the guest supports, or "".
func (s *suite) mode(modes ...abi.WriteMode) abi.WriteMode {
	for _, m := range modes {
		if len(s.guest.Manifest().WriteModes) == 0 || slices.Contains(s.guest.Manifest().WriteModes, m) {
			return m
		}
	}
	return ""
}

// tidy removes the place syncer.Open and the configuration put in front of
// errors: the suite's destination has no file or line.
func tidy(msg string) string {
	for _, p := range []string{`conformance:0: destination "conformance": `, `conformance: destination "conformance": `, `destination "conformance": `} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// wasmStack returns the WebAssembly stack trace of a guest that trapped, on
// lines of its own, or "".
func wasmStack(err error) string {
	var ce *host.CallError
	if !errors.As(err, &ce) || !ce.Trapped || ce.Err == nil {
		return ""
	}
	msg := ce.Err.Error()
	i := strings.Index(msg, "wasm stack trace:")
	if i < 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(msg[i:]), "\n")
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("\t... %d more frames", len(lines)-20))
	}
	return "\n" + strings.Join(lines, "\n")
}
