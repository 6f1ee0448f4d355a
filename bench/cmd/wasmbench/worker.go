package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/codec"
	"github.com/wasmdest/wasmdest/host/capability/filesystem"
	httpcap "github.com/wasmdest/wasmdest/host/capability/http"
	"github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// job is one wasmdest sync, run by a child process (`wasmbench worker`) so
// that its peak RSS is wasmdest's own, not the benchmark's datasets'.
type job struct {
	Guest       string         `json:"guest"`
	CacheDir    string         `json:"cache_dir"`
	WriteMode   abi.WriteMode  `json:"write_mode"`
	Spec        map[string]any `json:"spec"`
	Directory   string         `json:"directory,omitempty"`
	Writers     int            `json:"writers"`
	SyncTime    time.Time      `json:"sync_time"`
	SourceName  string         `json:"source_name"`
	InputFile   string         `json:"input_file,omitempty"`
	GenRows     int            `json:"gen_rows,omitempty"` // without InputFile: rows made on the fly
	ServerPID   int            `json:"server_pid"`
	MemoryLimit uint64         `json:"memory_limit,omitempty"`
	// Native, instead of a sync, times a native file writer ("arrow-go"
	// or "codec", files.go) writing NativeRows rows of the dataset in
	// Format to Directory/<table>.
	Native     string `json:"native,omitempty"`
	Format     string `json:"format,omitempty"`
	NativeRows int    `json:"native_rows,omitempty"`
}

// jobResult is what the worker measured.
type jobResult struct {
	Seconds            float64 `json:"seconds"` // Run + Finish
	CPUSeconds         float64 `json:"cpu_seconds"`
	DBCPUSeconds       float64 `json:"db_cpu_seconds"`
	GenSeconds         float64 `json:"gen_seconds,omitempty"`
	Rows               int64   `json:"rows"`
	Batches            int64   `json:"batches"`
	GuestMemory        uint64  `json:"guest_memory"`
	Instances          int     `json:"instances"`
	CompileSeconds     float64 `json:"compile_seconds"`
	InstantiateSeconds float64 `json:"instantiate_seconds"`
	PeakRSS            int64   `json:"peak_rss"`
	Err                string  `json:"error,omitempty"`
}

// runWorker runs the job read from stdin and prints its result as JSON.
func runWorker() int {
	var j job
	if err := json.NewDecoder(os.Stdin).Decode(&j); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	var res jobResult
	var err error
	if j.Native != "" {
		res, err = j.runNative()
	} else {
		res, err = j.run(context.Background())
	}
	if err != nil {
		res.Err = err.Error()
	}
	res.PeakRSS = peakRSS()
	json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0
}

func (j job) run(ctx context.Context) (jobResult, error) {
	var res jobResult
	arrowtypes.Register()
	log := hclog.New(&hclog.LoggerOptions{Name: "wasmdest", Level: hclog.Warn, Output: os.Stderr})
	rt, err := host.NewRuntime(ctx, host.Config{CacheDir: j.CacheDir, Logger: log, MemoryLimit: j.MemoryLimit})
	if err != nil {
		return res, err
	}
	defer rt.Close(ctx)
	env := &syncer.Env{
		Runtime: rt, SyncID: "bench", SyncTime: j.SyncTime, SourceName: j.SourceName, Log: log,
		Writers: j.Writers,
		// pgx logs at the default pgx_log_level: no statement is expected
		// to fail, so an error logged here is worth seeing.
		Capabilities: []host.Capability{filesystem.Capability(), postgres.Capability(), sqldb.Capability(), codec.Capability(), httpcap.Capability()},
	}
	d := config.Destination{
		Name: "bench", Registry: config.RegistryLocal, Path: j.Guest,
		WriteMode: j.WriteMode, MigrateMode: abi.DefaultMigrateMode, PKMode: abi.DefaultPKMode,
		Spec: j.Spec, Directory: j.Directory, File: "wasmbench", Line: 1,
	}
	dest, err := syncer.Open(ctx, env, d)
	if err != nil {
		return res, err
	}
	res.CompileSeconds = dest.Guest.CompileTime().Seconds()
	res.InstantiateSeconds = dest.Guest.InstantiateTime().Seconds()
	var in syncer.Input
	var gi *genInput
	if j.InputFile != "" {
		r, err := arrowio.Open(j.InputFile, arrowio.DefaultLimits)
		if err != nil {
			dest.Close()
			return res, err
		}
		in = r
	} else {
		gi = &genInput{g: gen{seed: 1}, rows: j.GenRows}
		in = gi
	}
	s := syncer.New(env, []*syncer.Destination{dest})
	if path := os.Getenv("WASMBENCH_CPUPROFILE"); path != "" {
		// Where the worker's CPU goes, for looking into a result; a %s in
		// the path is the guest's name (and the format the spec asks for,
		// if any: the file guest runs once per format), so that each
		// guest and format keeps its own.
		if strings.Contains(path, "%s") {
			name := strings.TrimSuffix(filepath.Base(j.Guest), ".wasm")
			if f, ok := j.Spec["format"].(string); ok {
				name += "-" + f
			}
			path = fmt.Sprintf(path, name)
		}
		f, err := os.Create(path)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	db0 := settledClusterCPU(j.ServerPID)
	cpu0, start := selfCPU(), time.Now()
	runErr := s.Run(ctx, []syncer.Input{in})
	ran, cpuRan := time.Since(start), selfCPU()-cpu0
	if os.Getenv("WASMBENCH_MEMSTATS") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "memstats: VmHWM %s, Go sys %s (heap sys %s, heap in use %s, stacks %s), GC cycles %d\n",
			mib(peakRSS()), mib(int64(ms.Sys)), mib(int64(ms.HeapSys)), mib(int64(ms.HeapInuse)), mib(int64(ms.StackSys)), ms.NumGC)
	}
	// Guest memory never shrinks: its size now is its peak. Look at every
	// instance the run used (idle now) before Finish closes them; this is
	// not timed.
	res.GuestMemory, res.Instances = guestMemory(ctx, dest.Pool, max(1, j.Writers))
	cpu1, fin := selfCPU(), time.Now()
	finErr := s.Finish(ctx)
	res.Seconds = (ran + time.Since(fin)).Seconds()
	res.CPUSeconds = (cpuRan + selfCPU() - cpu1).Seconds()
	res.DBCPUSeconds = (settledClusterCPU(j.ServerPID) - db0).Seconds()
	if gi != nil {
		res.GenSeconds = gi.spent.Seconds()
	}
	for _, st := range s.Stats() {
		if st.Table == table {
			res.Rows += st.Rows
			res.Batches += st.Batches
		}
	}
	return res, errors.Join(runErr, finErr)
}

// guestMemory returns the largest linear memory among the pool's idle
// instances (at most n) and how many there were. It acquires n instances at
// once so that it sees n different ones; an Acquire that would have to make
// a new instance is not waited for.
func guestMemory(ctx context.Context, p *host.Pool, n int) (uint64, int) {
	var held []*host.Instance
	var most uint64
	for range n {
		in, err := p.Acquire(ctx)
		if err != nil {
			break
		}
		held = append(held, in)
		most = max(most, uint64(in.MemorySize()))
	}
	for _, in := range held {
		p.Release(ctx, in)
	}
	return most, len(held)
}

// runJob runs a job in a child process and returns its result, with the
// child's peak RSS from the kernel (rusage maxrss).
func runJob(j job) (jobResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return jobResult{}, err
	}
	in, _ := json.Marshal(j)
	cmd := exec.Command(exe, "worker")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(&stderr, prefixed(os.Stderr, "  worker: "))
	runErr := cmd.Run()
	var res jobResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("worker: %v (%v)\n%s", err, runErr, stderr.String())
	}
	// The worker's own VmHWM, not the kernel's rusage maxrss of the child:
	// Go starts children with CLONE_VM|CLONE_VFORK, so until exec the child
	// shares this process's memory, and maxrss counts this process's RSS
	// (the datasets) as the child's.
	if res.PeakRSS == 0 {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.PeakRSS = ru.Maxrss << 10 // kB on Linux
		}
	}
	if res.Err != "" {
		return res, errors.New(res.Err)
	}
	if runErr != nil {
		return res, fmt.Errorf("worker: %v", runErr)
	}
	return res, nil
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func prefixed(w io.Writer, p string) io.Writer { return &prefixWriter{w, p} }

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 {
			fmt.Fprintf(p.w, "%s%s", p.prefix, line)
		}
	}
	return len(b), nil
}

// runNative times a native file writer in the worker, so that it runs in
// a process like the guest's worker and not in the benchmark's, whose heap
// holds the datasets (the pgx rows are 1M rows of Go values). It makes the
// dataset's records as the host sends them to guests one at a time,
// untimed, and times writing each: holding all of them at once, as the
// benchmark process does, made the same encoding take 1.5-2x the CPU (a heap
// of 700 MB: each allocation takes fresh memory, to fault in and zero,
// instead of memory the last file freed), which no streaming writer pays.
func (j job) runNative() (jobResult, error) {
	var res jobResult
	arrowtypes.Register()
	o := schema.Options{WriteMode: abi.WriteModeAppend, SourceName: j.SourceName, SyncTime: j.SyncTime}
	wanted, err := schema.Transform(sourceSchema(), o)
	if err != nil {
		return res, err
	}
	app, err := schema.NewAppender(wanted, o, memory.DefaultAllocator)
	if err != nil {
		return res, err
	}
	dir := filepath.Join(j.Directory, table)
	g := gen{seed: 1}
	var spent, cpu time.Duration
	for from := 0; from < j.NativeRows; from += genBatch {
		rec := g.record(from, min(genBatch, j.NativeRows-from))
		out, err := app.Apply(rec)
		rec.Release()
		if err != nil {
			return res, err
		}
		b := &bench{ds: &dataset{wanted: []arrow.RecordBatch{out}}}
		write := b.writeNative
		if j.Native == "codec" {
			write = b.writeCodec
		}
		cpu0, start := selfCPU(), time.Now()
		err = write(dir, j.Format, j.Format)
		spent, cpu = spent+time.Since(start), cpu+selfCPU()-cpu0
		out.Release()
		if err != nil {
			return res, err
		}
		res.Rows += out.NumRows()
	}
	res.Seconds, res.CPUSeconds = spent.Seconds(), cpu.Seconds()
	return res, nil
}
