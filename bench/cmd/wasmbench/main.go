// Command wasmbench measures wasmdest against the ceiling: the same
// CloudQuery-shaped rows written by wasmdest (the host's syncer and the real
// guests, compiled to WebAssembly) and by hand-written Go on the same
// machine, in one run, printed as ratios. See bench/README.md.
//
//	go tool task bench                 # 1M rows, every scenario, 0.1M/1M/10M scaling
//	go tool task bench ROWS=100000 SCENARIOS=append,upsert SCALE=
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/batch"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// groups are the scenario groups, in the order they run.
var groups = []string{"start", "append", "upsert", "stale", "file", "sql", "s3", "scale"}

type syncOpts struct {
	source string
	t0, t1 time.Time // the previous sync (preloaded rows) and this one
}

func (o syncOpts) schema(mode abi.WriteMode, t time.Time) schema.Options {
	return schema.Options{WriteMode: mode, SourceName: o.source, SyncTime: t}
}

type bench struct {
	ctx       context.Context
	rows      int
	writers   int
	runs      int
	opts      syncOpts
	pg        *pgdb
	serverPID int
	cacheDir  string
	pgGuest   string
	fileGuest string
	// mysql is the DSN of the sql scenarios' MariaDB database, of a
	// server of mysqlVersion.
	mysql, mysqlVersion string
	tmp                 string
	ds                  *dataset
	rep                 *report
	// fileFormats are the formats the file guest's spec schema allows.
	fileFormats []string
}

// specEnum returns the allowed values of a top-level key of a guest's spec
// JSON Schema (its "enum"), nil when it has none.
func specEnum(schema []byte, key string) []string {
	var s struct {
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	return s.Properties[key].Enum
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(runWorker())
	}
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		if err := runGen(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "wasmbench gen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wasmbench:", err)
		testenv.StopCluster()
		testenv.StopMariaDB()
		testenv.StopS3()
		os.Exit(1)
	}
}

func run() error {
	rows := flag.Int("rows", 1_000_000, "rows of the dataset of the append, upsert, stale and file scenarios")
	scen := flag.String("scenarios", strings.Join(groups, ","), "scenario groups to run: "+strings.Join(groups, ", "))
	scale := flag.String("scale", "100000,1000000,10000000", "row counts of the scaling runs (rows made on the fly), comma-separated; empty: none")
	writers := flag.Int("writers", 2, "parallel writers (connections) of the parallel append scenarios")
	runs := flag.Int("runs", 1, "runs of each method, interleaved; the median is reported")
	out := flag.String("out", "bench/results", "directory of the results (markdown, JSON, PNG)")
	pgWasm := flag.String("pg-guest", "", "use this postgres guest .wasm instead of building one")
	fileWasm := flag.String("file-guest", "", "use this file guest .wasm instead of building one")
	guestsFrom := flag.String("guests", "head", "build the guests from the last commit (head: git archive HEAD, without uncommitted changes) or from the work tree (worktree)")
	flag.Parse()
	var want []string
	for _, s := range strings.Split(*scen, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(groups, s) {
			return fmt.Errorf("-scenarios: unknown group %q (have %s)", s, strings.Join(groups, ", "))
		}
		want = append(want, s)
	}
	var sizes []int
	for _, s := range strings.Split(*scale, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n <= 0 {
			return fmt.Errorf("-scale: %q is not a row count", s)
		}
		sizes = append(sizes, n)
	}
	arrowtypes.Register()
	defer testenv.StopMariaDB()
	defer testenv.StopS3()
	ctx := context.Background()
	b := &bench{ctx: ctx, rows: *rows, writers: *writers, runs: max(1, *runs),
		opts: syncOpts{source: "wasmbench", t0: time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC), t1: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}}
	b.rep = newReport(*rows, *writers)
	b.rep.Runs = b.runs
	var err error
	if b.tmp, err = os.MkdirTemp("", "wasmbench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)

	step("building guests from " + *guestsFrom)
	if b.pgGuest, b.fileGuest, err = buildGuests(*guestsFrom, b.tmp); err != nil {
		return err
	}
	b.rep.Guests = *guestsFrom
	if *pgWasm != "" {
		b.pgGuest = *pgWasm
		b.rep.Guests += ", postgres guest " + *pgWasm
	}
	if *fileWasm != "" {
		b.fileGuest = *fileWasm
		b.rep.Guests += ", file guest " + *fileWasm
	}
	b.cacheDir = filepath.Join(b.tmp, "cache")
	needPG := slices.ContainsFunc(want, func(g string) bool { return g != "file" && g != "start" && g != "sql" && g != "s3" }) || len(sizes) > 0 && slices.Contains(want, "scale")
	if needPG {
		step("starting PostgreSQL")
		if err := b.startPostgres(); err != nil {
			return err
		}
		defer testenv.StopCluster()
		defer b.pg.conn.Close(ctx)
	}
	// Guest start first: it compiles into the empty cache, which every
	// later run then loads from.
	if err := b.guestStart(); err != nil {
		return err
	}
	if slices.ContainsFunc(want, func(g string) bool { return g != "scale" && g != "start" }) {
		step(fmt.Sprintf("generating %d rows", b.rows))
		start := time.Now()
		o := b.opts.schema(abi.WriteModeAppend, b.opts.t1)
		if b.ds, err = makeDataset(filepath.Join(b.tmp, "bench.arrow"), b.rows, o); err != nil {
			return err
		}
		defer b.ds.release()
		b.rep.DatasetBytes = b.ds.bytes
		fmt.Fprintf(os.Stderr, "  %d rows, %.0f MB of Arrow data, in %.1fs\n", b.rows, float64(b.ds.bytes)/1e6, time.Since(start).Seconds())
	}
	b.rep.LoadBefore = loadAvg()
	for _, g := range want {
		var err error
		switch g {
		case "append":
			err = b.appendScenarios()
		case "upsert":
			err = b.upsertScenarios()
		case "stale":
			err = b.staleScenarios()
		case "file":
			err = b.fileScenarios()
		case "sql":
			err = b.sqlScenarios()
		case "s3":
			err = b.s3Scenarios()
		case "scale":
			err = b.scaleScenarios(sizes)
		}
		if err != nil {
			// Say so in the results and go on with the other groups.
			fmt.Fprintf(os.Stderr, "== %s failed: %v\n", g, err)
			b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("%s failed: %v", g, err))
			if b.pg != nil {
				b.pg.exec(b.ctx, "DROP TABLE IF EXISTS "+table)
			}
		}
	}
	b.rep.LoadAfter = loadAvg()
	b.rep.Finished = time.Now().UTC()
	return b.rep.write(*out)
}

func step(s string) { fmt.Fprintf(os.Stderr, "== %s (load %s)\n", s, loadAvg()) }

func (b *bench) startPostgres() error {
	admin, err := testenv.AdminURL()
	if err != nil {
		return err
	}
	b.serverPID = testenv.ServerPID()
	conn, err := pgx.Connect(b.ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(b.ctx)
	db := fmt.Sprintf("wasmbench_%d", os.Getpid())
	if _, err := conn.Exec(b.ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	url, err := testenv.WithDatabase(admin, db)
	if err != nil {
		return err
	}
	b.pg = &pgdb{url: url}
	if b.pg.conn, err = pgx.Connect(b.ctx, url); err != nil {
		return err
	}
	var version string
	b.pg.conn.QueryRow(b.ctx, "SHOW server_version").Scan(&version)
	b.rep.Postgres = version
	if b.serverPID == 0 {
		fmt.Fprintf(os.Stderr, "  not our server (%s): database CPU is not measured\n", testenv.PostgresURLEnv)
	}
	return nil
}

// compile compiles a guest into the benchmark's compilation cache, so
// that the workers that run it load it from there, as a second `wasmdest
// run` does: their peak RSS is then the run's, not the compiler's (which
// takes hundreds of MiB for a 15-20 MB guest).
func (b *bench) compile(path string) error {
	rt, err := host.NewRuntime(b.ctx, host.Config{CacheDir: b.cacheDir, Logger: hclog.NewNullLogger()})
	if err != nil {
		return err
	}
	defer rt.Close(b.ctx)
	if _, err := rt.LoadFile(b.ctx, path); err != nil {
		return fmt.Errorf("compile %s: %w", path, err)
	}
	return nil
}

// guestStart measures compiling each guest cold (empty cache) and from the
// cache, and instantiating it.
func (b *bench) guestStart() error {
	step("guest start (cold and cached compilation)")
	log := hclog.NewNullLogger()
	for _, g := range []struct{ name, path string }{{"postgres", b.pgGuest}, {"file", b.fileGuest}} {
		var st guestStart
		st.Guest = g.name
		for i := range 2 {
			rt, err := host.NewRuntime(b.ctx, host.Config{CacheDir: b.cacheDir, Logger: log})
			if err != nil {
				return err
			}
			gu, err := rt.LoadFile(b.ctx, g.path)
			if err != nil {
				rt.Close(b.ctx)
				return err
			}
			if g.name == "file" {
				b.fileFormats = specEnum(gu.Manifest().SpecSchema, "format")
			}
			if i == 0 {
				st.ColdSeconds, st.WasmBytes = gu.CompileTime().Seconds(), gu.Size()
			} else {
				st.CachedSeconds, st.InstantiateSeconds = gu.CompileTime().Seconds(), gu.InstantiateTime().Seconds()
			}
			rt.Close(b.ctx)
		}
		fmt.Fprintf(os.Stderr, "  %s: %.1f MB wasm, compile cold %.2fs, cached %.3fs, instantiate %.3fs\n",
			g.name, float64(st.WasmBytes)/1e6, st.ColdSeconds, st.CachedSeconds, st.InstantiateSeconds)
		b.rep.Starts = append(b.rep.Starts, st)
	}
	return nil
}

// pgJob is a wasmdest sync of the dataset (or of gen rows made on the fly,
// when gen > 0; an empty table when gen < 0) into PostgreSQL.
func (b *bench) pgJob(mode abi.WriteMode, writers int, spec map[string]any, gen int) job {
	s := map[string]any{"connection_string": b.pg.url}
	for k, v := range spec {
		s[k] = v
	}
	j := job{Guest: b.pgGuest, CacheDir: b.cacheDir, WriteMode: mode, Spec: s, Writers: writers,
		SyncTime: b.opts.t1, SourceName: b.opts.source, ServerPID: b.serverPID}
	switch {
	case gen > 0:
		j.GenRows = gen
	case gen == 0:
		j.InputFile = b.ds.file
	}
	return j
}

// prepare drops the table and lets the guest create it for a write mode
// (a sync of no rows), so that both sides write into the table as wasmdest
// makes it.
func (b *bench) prepare(mode abi.WriteMode, spec map[string]any) error {
	if err := b.pg.exec(b.ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return err
	}
	if _, err := runJob(b.pgJob(mode, 1, spec, -1)); err != nil {
		return fmt.Errorf("create the table: %w", err)
	}
	return b.pg.noAutovacuum(b.ctx)
}

// runWasmdest runs a wasmdest sync and checks the table holds want rows.
func (b *bench) runWasmdest(j job, want int64, method string) (result, error) {
	fmt.Fprintf(os.Stderr, "  %-40s", method)
	res, err := runJob(j)
	if err != nil {
		return result{}, err
	}
	if b.pg != nil && j.Directory == "" {
		if err := b.check(want); err != nil {
			return result{}, err
		}
	}
	n := int(res.Rows)
	if j.GenRows > 0 {
		n = j.GenRows
	}
	r := result{Method: method, Wasmdest: true, Rows: n, Seconds: res.Seconds, HostCPU: res.CPUSeconds, DBCPU: res.DBCPUSeconds,
		PeakRSS: res.PeakRSS, GuestMemory: res.GuestMemory, Instances: res.Instances, GenSeconds: res.GenSeconds, Writers: max(1, j.Writers)}
	r.fill(b.bytesFor(n))
	fmt.Fprintln(os.Stderr, r.line())
	return r, nil
}

func (b *bench) bytesFor(n int) int64 {
	if b.ds == nil || b.ds.rows == 0 {
		// Scaling runs without the dataset: the bytes per row of a sample.
		rec := gen{seed: 1}.record(0, genBatch)
		defer rec.Release()
		return batch.RecordSize(rec) * int64(n) / genBatch
	}
	return b.ds.bytes * int64(n) / int64(b.ds.rows)
}

func (b *bench) check(want int64) error {
	got, err := b.pg.count(b.ctx)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("the table holds %d rows, want %d", got, want)
	}
	return nil
}

// runPgx runs a hand-written method, timed, and checks the table.
func (b *bench) runPgx(method string, want int64, fn func() error) (result, error) {
	fmt.Fprintf(os.Stderr, "  %-40s", method)
	m, err := timeIt(b.serverPID, fn)
	if err != nil {
		return result{}, err
	}
	if err := b.check(want); err != nil {
		return result{}, err
	}
	r := result{Method: method, Rows: b.rows, Seconds: m.seconds, HostCPU: m.cpu, DBCPU: m.dbCPU}
	r.fill(b.ds.bytes)
	fmt.Fprintln(os.Stderr, r.line())
	return r, nil
}

func (b *bench) truncate() error {
	if err := b.pg.exec(b.ctx, "TRUNCATE "+table); err != nil {
		return err
	}
	return b.pg.settle(b.ctx)
}

// appendScenarios: write_mode append (no keys) into an index-free table and
// into one with the same two indexes on both sides, over one connection and
// over b.writers. Index-free, wasmdest is also measured against the ceiling:
// the same rows pre-encoded as binary COPY data (by the server), sent in the
// same batches over as many connections, in one COPY, and read by the
// server from a file.
func (b *bench) appendScenarios() error {
	for _, indexed := range []bool{false, true} {
		if err := b.prepare(abi.WriteModeAppend, nil); err != nil {
			return err
		}
		what := "no indexes"
		var enc *encoded
		if indexed {
			// Append strips the keys, and a unique index would be
			// reported as a unique constraint to remove: plain indexes.
			what = "indexes on _cq_id and id"
			for _, sql := range []string{"CREATE INDEX bench_cq_id ON bench (_cq_id)", "CREATE INDEX bench_id ON bench (id)"} {
				if err := b.pg.exec(b.ctx, sql); err != nil {
					return err
				}
			}
		} else {
			dir, err := os.MkdirTemp("", "wasmbench-copy-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if enc, err = b.encodeDataset(dir); err != nil {
				return fmt.Errorf("pre-encode the dataset: %w", err)
			}
		}
		for _, conns := range []int{1, b.writers} {
			name := fmt.Sprintf("append, %s, %d conn", what, conns)
			step(name)
			sc := &scenario{Name: name, Group: "append"}
			timed := func(name string, fn func() error) method {
				return method{func() (result, error) {
					if err := b.truncate(); err != nil {
						return result{}, err
					}
					return b.runPgx(name, int64(b.rows), fn)
				}}
			}
			// appended is a wasmdest append into the emptied table.
			appended := func(name string, spec map[string]any) method {
				return method{func() (result, error) {
					if err := b.truncate(); err != nil {
						return result{}, err
					}
					return b.runWasmdest(b.pgJob(abi.WriteModeAppend, conns, spec, 0), int64(b.rows), name)
				}}
			}
			methods := []method{
				appended(fmt.Sprintf("wasmdest (%d writer)", conns), nil),
				timed(fmt.Sprintf("pgx CopyFrom (%d conn)", conns), func() error {
					return parallel(b.ctx, b.pg.url, conns, chunks(b.ds.values), copyFrom(b.ds.cols))
				}),
			}
			rawName := fmt.Sprintf("pre-encoded COPY, same batches (%d conn)", conns)
			const oneName, fileName = "pre-encoded, one COPY of all rows", "server-side COPY FROM a file"
			perBatch := fmt.Sprintf("wasmdest, a COPY per batch (%d writer, copy_transaction_bytes 0)", conns)
			if enc != nil {
				// The same batches as the pre-encoded ceiling sends, one
				// COPY each: wasmdest's own cost per batch, which the
				// default (one COPY for many batches) hides.
				methods = append(methods, appended(perBatch, map[string]any{"copy_transaction_bytes": 0}))
				methods = append(methods, timed(rawName, func() error { return b.rawCopy(enc, conns) }))
				if conns == 1 {
					methods = append(methods, timed(oneName, func() error { return b.oneCopy(enc) }))
					if enc.file != "" {
						methods = append(methods, timed(fileName, func() error { return b.serverCopy(enc) }))
					}
				}
			}
			rs, err := b.rounds(methods...)
			if err != nil {
				return err
			}
			sc.add(rs...)
			sc.target(rs[1].Method, 0, "")
			if enc != nil {
				goal := 0.9
				if conns > 1 {
					goal = 0.95
				}
				sc.target(perBatch, 0, "")
				sc.target(rawName, goal, fmt.Sprintf("append >= %.2fx the pre-encoded COPY of the same batches", goal))
				if conns == 1 {
					sc.target(oneName, 0.6, "append >= 0.6x one pre-encoded COPY of all rows")
					sc.target(fileName, 0, "")
				}
			}
			b.rep.add(sc)
		}
	}
	return b.pg.exec(b.ctx, "TRUNCATE "+table)
}

// upsertScenarios: write_mode overwrite with none, half and all of the keys
// already in the table (from an earlier sync: other _cq_ids and values),
// with 1 and b.writers writers, against a hand-written staging upsert and
// against one INSERT per row in a pgx batch (both on one connection, as
// CloudQuery writes a table: one batch at a time).
func (b *bench) upsertScenarios() error {
	if err := b.prepare(abi.WriteModeOverwrite, nil); err != nil {
		return err
	}
	parallelName := fmt.Sprintf("wasmdest (%d writers)", b.writers)
	for _, existing := range []string{"none", "half", "all"} {
		name := map[string]string{"none": "upsert (overwrite), no key exists (empty table)",
			"half": "upsert (overwrite), 50% of keys existing", "all": "upsert (overwrite), all keys exist (a re-sync)"}[existing]
		step(name)
		sc := &scenario{Name: name, Group: "upsert"}
		setup := func() error {
			if err := b.pg.exec(b.ctx, "TRUNCATE "+table); err != nil {
				return err
			}
			src, err := newRowSource(gen{seed: 2}, b.opts.schema(abi.WriteModeAppend, b.opts.t0), 0, b.rows)
			if err != nil {
				return err
			}
			switch existing {
			case "half": // every other key
				_, err = b.pg.conn.CopyFrom(b.ctx, pgx.Identifier{table}, b.ds.cols, &everyOther{src: src})
			case "all":
				_, err = b.pg.conn.CopyFrom(b.ctx, pgx.Identifier{table}, b.ds.cols, src)
			}
			if err != nil {
				return err
			}
			return b.pg.settle(b.ctx)
		}
		rs, err := b.rounds(
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				return b.runWasmdest(b.pgJob(abi.WriteModeOverwrite, 1, nil, 0), int64(b.rows), "wasmdest")
			}},
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				return b.runWasmdest(b.pgJob(abi.WriteModeOverwrite, b.writers, nil, 0), int64(b.rows), parallelName)
			}},
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				return b.runPgx("staging COPY + INSERT ON CONFLICT", int64(b.rows), func() error {
					return parallel(b.ctx, b.pg.url, 1, chunks(b.ds.values), stagingUpsert(b.ds.cols))
				})
			}},
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				return b.runPgx("INSERT ON CONFLICT per row, pgx batch", int64(b.rows), func() error {
					return parallel(b.ctx, b.pg.url, 1, chunks(b.ds.values), rowUpserts(b.ds.cols))
				})
			}})
		if err != nil {
			return err
		}
		w, wp, st, pr := rs[0], rs[1], rs[2], rs[3]
		sc.add(w, wp, st, pr)
		sc.target(st.Method, 1.0, "upsert >= 1.0x the hand-written staging upsert")
		sc.target(pr.Method, 2.0, "upsert >= 2x one INSERT ON CONFLICT per row")
		// CloudQuery writes one batch of a table at a time; wasmdest's
		// upserts of batches sharing no key go side by side with more
		// writers (feature parallel_upserts).
		sc.targetOf(wp.Method, pr.Method, 2.0, fmt.Sprintf("upsert with %d writers >= 2x one INSERT ON CONFLICT per row (one batch of a table at a time, as CloudQuery writes)", b.writers))
		b.rep.add(sc)
	}
	return b.pg.exec(b.ctx, "TRUNCATE "+table)
}

type method struct{ run func() (result, error) }

// rounds runs each method b.runs times, interleaved (so that a change of
// the machine's load hits every method alike), and returns each method's
// median run, with the spread of its runs.
func (b *bench) rounds(methods ...method) ([]result, error) {
	all := make([][]result, len(methods))
	for range b.runs {
		for i, m := range methods {
			r, err := m.run()
			if err != nil {
				return nil, err
			}
			all[i] = append(all[i], r)
		}
	}
	out := make([]result, len(methods))
	for i, rs := range all {
		slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.Seconds, b.Seconds) })
		out[i] = rs[len(rs)/2]
		out[i].Runs = len(rs)
		if len(rs) > 1 {
			out[i].RowsPerSecMin, out[i].RowsPerSecMax = rs[len(rs)-1].RowsPerSec, rs[0].RowsPerSec
		}
	}
	return out, nil
}

// everyOther passes on every other row of a CopyFromSource.
type everyOther struct {
	src *rowSource
	i   int
}

func (e *everyOther) Next() bool {
	for e.src.Next() {
		e.i++
		if e.i%2 == 1 {
			return true
		}
	}
	return false
}
func (e *everyOther) Values() ([]any, error) { return e.src.Values() }
func (e *everyOther) Err() error             { return e.src.Err() }

// staleScenarios: write_mode overwrite-delete-stale over a table of N rows
// of an earlier sync, 30% of which this sync does not bring again (stale).
func (b *bench) staleScenarios() error {
	n := b.rows
	for _, perf := range []bool{false, true} {
		name := "overwrite-delete-stale, 30% stale"
		spec := map[string]any{}
		if perf {
			name += ", create_performance_indexes"
			spec["create_performance_indexes"] = true
		}
		step(name)
		if err := b.prepare(abi.WriteModeOverwriteDeleteStale, spec); err != nil {
			return err
		}
		// Keys [0.3N, 1.3N) from the earlier sync: [0.3N, N) come again,
		// [N, 1.3N) are stale, [0, 0.3N) are new.
		setup := func() error {
			if err := b.pg.exec(b.ctx, "TRUNCATE "+table); err != nil {
				return err
			}
			if err := b.pg.preload(b.ctx, b.ds.cols, n*3/10, n+n*3/10, b.opts); err != nil {
				return err
			}
			return b.pg.settle(b.ctx)
		}
		sc := &scenario{Name: name, Group: "stale"}
		rs, err := b.rounds(
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				return b.runWasmdest(b.pgJob(abi.WriteModeOverwriteDeleteStale, 1, spec, 0), int64(n), "wasmdest")
			}},
			method{func() (result, error) {
				if err := setup(); err != nil {
					return result{}, err
				}
				var del time.Duration
				r, err := b.runPgx("staging upsert + DELETE", int64(n), func() error {
					c, err := pgx.Connect(b.ctx, b.pg.url)
					if err != nil {
						return err
					}
					defer c.Close(b.ctx)
					if err := timedParallel(b.ctx, []*pgx.Conn{c}, chunks(b.ds.values), stagingUpsert(b.ds.cols)); err != nil {
						return err
					}
					start := time.Now()
					err = deleteStale(b.ctx, c, b.opts)
					del = time.Since(start)
					return err
				})
				r.Note = fmt.Sprintf("of which DELETE %.2fs", del.Seconds())
				return r, err
			}})
		if err != nil {
			return err
		}
		w, st := rs[0], rs[1]
		sc.add(w, st)
		sc.target(st.Method, 0, "")
		b.rep.add(sc)
		if err := b.deleteAlone(name, spec); err != nil {
			return err
		}
	}
	return b.pg.exec(b.ctx, "TRUNCATE "+table)
}

// deleteAlone times the DELETE of delete-stale alone: a wasmdest sync that
// brings no rows (planning, the guest's delete-stale) against the same
// DELETE typed by hand (pgx: prepared, typed parameters) on an open
// connection, over N rows of this sync and 0.3N stale rows of an earlier
// one. Rows/s counts the deleted rows.
func (b *bench) deleteAlone(staleName string, spec map[string]any) error {
	n, stale := b.rows, b.rows*3/10
	name := strings.Replace(staleName, "overwrite-delete-stale", "delete-stale alone (a sync of no rows)", 1)
	step(name)
	empty := filepath.Join(b.tmp, "empty.arrow")
	if err := emptyInput(empty); err != nil {
		return err
	}
	setup := func() error {
		if err := b.pg.exec(b.ctx, "TRUNCATE "+table); err != nil {
			return err
		}
		if err := b.pg.preloadAt(b.ctx, b.ds.cols, 0, n, b.opts, b.opts.t1); err != nil {
			return err
		}
		if err := b.pg.preloadAt(b.ctx, b.ds.cols, n, n+stale, b.opts, b.opts.t0); err != nil {
			return err
		}
		return b.pg.settle(b.ctx)
	}
	deleted := func(r result) result {
		r.Rows = stale
		r.fill(0)
		r.MBPerSec = 0
		return r
	}
	sc := &scenario{Name: name, Group: "stale"}
	rs, err := b.rounds(
		method{func() (result, error) {
			if err := setup(); err != nil {
				return result{}, err
			}
			j := b.pgJob(abi.WriteModeOverwriteDeleteStale, 1, spec, 0)
			j.InputFile = empty
			r, err := b.runWasmdest(j, int64(n), "wasmdest")
			return deleted(r), err
		}},
		method{func() (result, error) {
			if err := setup(); err != nil {
				return result{}, err
			}
			c, err := pgx.Connect(b.ctx, b.pg.url)
			if err != nil {
				return result{}, err
			}
			defer c.Close(b.ctx)
			r, err := b.runPgx("the same DELETE by hand (prepared)", int64(n), func() error { return deleteStale(b.ctx, c, b.opts) })
			return deleted(r), err
		}})
	if err != nil {
		return err
	}
	sc.add(rs...)
	sc.target(rs[1].Method, 0, "")
	b.rep.add(sc)
	return nil
}

// scaleScenarios: append (index-free, b.writers writers) of rows made on
// the fly in the worker, at each size: memory must not grow with it.
func (b *bench) scaleScenarios(sizes []int) error {
	if len(sizes) == 0 {
		return nil
	}
	step("scaling")
	if err := b.prepare(abi.WriteModeAppend, nil); err != nil {
		return err
	}
	for _, n := range sizes {
		if err := b.truncate(); err != nil {
			return err
		}
		r, err := b.runWasmdest(b.pgJob(abi.WriteModeAppend, b.writers, nil, n), int64(n), fmt.Sprintf("wasmdest %s rows (%d writers)", human(n), b.writers))
		if err != nil {
			return err
		}
		r.Note = fmt.Sprintf("making the rows took %.1fs of it", r.GenSeconds)
		b.rep.Scaling = append(b.rep.Scaling, r)
	}
	return b.pg.exec(b.ctx, "DROP TABLE "+table)
}

func human(n int) string {
	switch {
	case n >= 1e6 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1e5 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// gitDescribe says which commit the guests were built from.
func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// buildGuests compiles the postgres and file guests to WebAssembly, from
// the work tree or from a clean copy of HEAD, so that work in progress in
// the tree does not change what is measured.
func buildGuests(from, tmp string) (pgGuest, fileGuest string, err error) {
	switch from {
	case "worktree":
		if pgGuest, err = testenv.Build("guests/postgres"); err != nil {
			return "", "", err
		}
		fileGuest, err = testenv.Build("guests/file")
		return pgGuest, fileGuest, err
	case "head":
	default:
		return "", "", fmt.Errorf("-guests %q: want head or worktree", from)
	}
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	archive := exec.Command("sh", "-c", "git archive --format=tar HEAD | tar -x -C "+src)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("git archive HEAD: %v\n%s", err, out)
	}
	var paths []string
	for _, g := range []string{"postgres", "file"} {
		out := filepath.Join(tmp, "guests", g+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./guests/"+g)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build guest %s: %v\n%s", g, err, b)
		}
		paths = append(paths, out)
	}
	return paths[0], paths[1], nil
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
