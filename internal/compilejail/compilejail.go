// Package compilejail compiles, initializes and inspects an untrusted guest
// module in a child process under hard limits, so that a module crafted to
// compile for minutes or to make the compiler allocate gigabytes costs the
// child, not the process that asked.
//
// wazero's compiler does not look at its context: once begun, a compilation
// runs to its end, in the caller's memory. The only way to stop one is to
// stop the process doing it. Inspect re-runs the current executable
// (/proc/self/exe) with the request in the environment; the executable calls
// Main first thing, which sees the request, sets its own limits before
// reading the module (RLIMIT_DATA for memory, RLIMIT_CPU for CPU time, a
// lower priority), loads the module with host.Runtime.Load and writes the
// verdict as JSON on stdout. The parent kills the child's process group at
// the wall deadline. On success the compiled code is in the shared
// compilation cache directory, so the parent's own load of the same bytes
// is a cache hit. RATIONALE.md, "Compiling uploads in a child process".
package compilejail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/wasmdest/wasmdest/abi"
)

// envRequest carries a child's Request; its presence makes Main the child.
const envRequest = "WASMDEST_COMPILE_JAIL"

// DefaultCompilerMiB is the memory a child may use beyond the guest's own
// linear memory (RLIMIT_DATA = this + the guest memory cap) unless told
// otherwise: about twice what the largest guest of this repository needs.
// Measured (RATIONALE.md, "Compiling uploads in a child process"): the
// 20 MB postgres guest compiled cold peaks at ~570 MiB resident and loads
// with RLIMIT_DATA 768 MiB; the 15.6 MB misbehave guest needs more than
// 512 MiB.
const DefaultCompilerMiB = 1024

// MinCompilerMiB is the least CompilerMiB that loads anything: the child's
// own mappings (the Go runtime's, wazero's) take ~100 MiB of RLIMIT_DATA
// before it reads a module, although only ~12 MiB of them are resident.
const MinCompilerMiB = 128

// Request is what a child does, and under which limits.
type Request struct {
	// Source names the module in errors ("upload NAME").
	Source string `json:"source"`
	// GuestMemoryMiB caps the guest instance's linear memory
	// (host.Config.MemoryLimit) while it initializes.
	GuestMemoryMiB int `json:"guest_memory_mib"`
	// CompilerMiB is the child's memory beyond the guest's: RLIMIT_DATA is
	// GuestMemoryMiB + CompilerMiB. 0 means DefaultCompilerMiB.
	CompilerMiB int `json:"compiler_mib"`
	// CPU is the child's CPU time limit (RLIMIT_CPU, whole seconds, rounded
	// up); 0 means none.
	CPU time.Duration `json:"cpu"`
	// CacheDir is the compilation cache directory shared with the parent;
	// "" means none.
	CacheDir string `json:"cache_dir"`
	// Nice is added to the child's scheduling priority (0-19), so that its
	// compilation yields the CPU to the parent's other work.
	Nice int `json:"nice"`
}

// dataBytes is the child's RLIMIT_DATA.
func (r Request) dataBytes() uint64 {
	c := r.CompilerMiB
	if c <= 0 {
		c = DefaultCompilerMiB
	}
	return uint64(r.GuestMemoryMiB+c) << 20
}

// cpuSeconds is the child's RLIMIT_CPU.
func (r Request) cpuSeconds() uint64 {
	if r.CPU <= 0 {
		return math.MaxUint64 // RLIM_INFINITY
	}
	return uint64(math.Ceil(r.CPU.Seconds()))
}

// Verdict is what the child says of a module that loaded: inspect's
// findings (host.Guest).
type Verdict struct {
	Name       string       `json:"name"`
	Version    string       `json:"version"`
	ABIVersion string       `json:"abi_version"`
	Size       int          `json:"size"`
	Imports    []string     `json:"imports"`
	Manifest   abi.Manifest `json:"manifest"`
	// CompileTime is how long the child took to compile (or to load from
	// the cache).
	CompileTime time.Duration `json:"compile_time"`
}

// reply is the child's one line on stdout.
type reply struct {
	Verdict *Verdict `json:"verdict,omitempty"`
	// Refused is host.Runtime.Load's error: the module is not a guest this
	// host runs.
	Refused string `json:"refused,omitempty"`
	// Failed is an error of the child itself (a bad request, no cache).
	Failed string `json:"failed,omitempty"`
}

// Limit names the limit that stopped a child.
type Limit string

// The limits a child is stopped by.
const (
	LimitWall   Limit = "wall"   // Options.Timeout: the parent killed it
	LimitCPU    Limit = "cpu"    // RLIMIT_CPU: the kernel killed it
	LimitMemory Limit = "memory" // RLIMIT_DATA: an allocation failed
)

// LimitError is a child stopped by a limit.
type LimitError struct {
	Limit Limit
	// Value is the limit: the wall or CPU time, or the bytes of RLIMIT_DATA.
	Value string
	// Detail is what the child said before it ended, if anything.
	Detail string
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitWall:
		return fmt.Sprintf("the compiler was stopped at the wall-clock limit of %s", e.Value)
	case LimitCPU:
		return fmt.Sprintf("the compiler was stopped at the CPU time limit of %s", e.Value)
	}
	s := fmt.Sprintf("the compiler ran out of its memory limit of %s", e.Value)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// RefusedError is a module the child loaded and host.Runtime.Load refused:
// not a guest this host runs (the module's fault, not a limit's).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Report says what a child cost, whatever its outcome.
type Report struct {
	PID int
	// MaxRSS is the child's peak resident memory, as last sampled (every
	// 10 ms) before it ended.
	MaxRSS int64
	// CPU is the child's user + system time; Wall its lifetime.
	CPU, Wall time.Duration
}

// Options say how a parent runs a child.
type Options struct {
	// Executable is the program re-run as the child, which must call Main
	// first thing; "" means the running executable (/proc/self/exe).
	Executable string
	// Timeout is the wall-clock limit; the child's process group is killed
	// (SIGKILL) when it passes, or when ctx ends. 0 means none.
	Timeout time.Duration
}

// Inspect compiles, initializes and inspects wasm in a child process under
// req's limits and opts' deadline. It returns the child's verdict, or a
// *LimitError (a limit stopped it), a *RefusedError (the module is not a
// guest this host runs), or another error (the child could not run). The
// Report is filled in every case the child started. Inspect returns only
// once the child is gone.
func Inspect(ctx context.Context, opts Options, req Request, wasm []byte) (*Verdict, Report, error) {
	var rep Report
	exe := opts.Executable
	if exe == "" {
		exe = "/proc/self/exe"
	}
	req.Source = strings.ToValidUTF8(req.Source, "?")
	b, err := json.Marshal(req)
	if err != nil {
		return nil, rep, err
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"wasmdest-compile"}
	env := []string{envRequest + "=" + string(b), "GOMAXPROCS=1", "GOTRACEBACK=none"}
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k == "PATH" || k == "TMPDIR" || k == "HOME" || k == "GORACE" {
			env = append(env, e)
		}
	}
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(wasm)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &stdout, n: 16 << 20}, stderr
	// Its own process group, killed whole; SIGKILL if this process dies.
	cmd.SysProcAttr = childAttr()
	cmd.WaitDelay = time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, rep, fmt.Errorf("start the compile child %s: %w", exe, err)
	}
	rep.PID = cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The child's peak RSS, sampled: wait4's ru_maxrss is no use here, as
	// Linux carries the parent's peak into it through the vfork and exec.
	hwm := make(chan int64, 1)
	stopSampling := make(chan struct{})
	go func() { hwm <- sampleHWM(rep.PID, stopSampling) }()
	var timer <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
		defer t.Stop()
		timer = t.C
	}
	var killed Limit
	var werr error
	select {
	case werr = <-done:
	case <-timer:
		killed = LimitWall
	case <-ctx.Done():
		killed = "ctx"
	}
	if killed != "" {
		// Back to normal priority first (allowed to root, or within
		// RLIMIT_NICE; else it stays lowered): the kernel tears a killed
		// process down in its own context, which a busy machine would
		// otherwise starve, and the slot is freed only once it is gone.
		unnice(rep.PID)
		killGroup(rep.PID)
		werr = <-done
	}
	rep.Wall = time.Since(start)
	close(stopSampling)
	rep.MaxRSS = <-hwm
	if ps := cmd.ProcessState; ps != nil {
		rep.CPU = ps.UserTime() + ps.SystemTime()
	}
	switch killed {
	case LimitWall:
		return nil, rep, &LimitError{Limit: LimitWall, Value: opts.Timeout.Round(time.Millisecond).String()}
	case "ctx":
		return nil, rep, fmt.Errorf("compile child: %w", ctx.Err())
	}
	var r reply
	if line := bytes.TrimSpace(stdout.Bytes()); len(line) > 0 {
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, rep, fmt.Errorf("compile child: unreadable reply %.200q: %v", line, err)
		}
	}
	said := strings.TrimSpace(stderr.String())
	switch {
	case r.Verdict != nil && werr == nil:
		return r.Verdict, rep, nil
	case r.Refused != "" && werr == nil:
		if outOfMemory(r.Refused) {
			return nil, rep, &LimitError{Limit: LimitMemory, Value: mib(req.dataBytes()), Detail: r.Refused}
		}
		return nil, rep, &RefusedError{Msg: r.Refused}
	case r.Failed != "":
		return nil, rep, fmt.Errorf("compile child: %s", r.Failed)
	case killedBySignal(cmd.ProcessState) && req.CPU > 0 && rep.CPU >= time.Duration(req.cpuSeconds())*time.Second*8/10:
		// The kernel's CPU accounting and the rusage reported differ a
		// little (a child killed at 1 s reported 961 ms).
		return nil, rep, &LimitError{Limit: LimitCPU, Value: (time.Duration(req.cpuSeconds()) * time.Second).String()}
	case outOfMemory(said):
		return nil, rep, &LimitError{Limit: LimitMemory, Value: mib(req.dataBytes()), Detail: firstLine(said)}
	}
	return nil, rep, fmt.Errorf("compile child ended without a verdict (%v): %s", werr, firstLine(said))
}

// sampleHWM reads the child's peak resident memory (VmHWM) every 10 ms
// until stop, and returns the last value read.
func sampleHWM(pid int, stop <-chan struct{}) int64 {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	var peak int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
				f := strings.Fields(string(b[i+6 : i+6+bytes.IndexByte(b[i+6:], '\n')]))
				if len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb<<10 > peak {
						peak = kb << 10
					}
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// outOfMemory says whether a child's words are an allocation refused by
// RLIMIT_DATA: the Go runtime's fatal error, wazero's mmap error, or (in a
// binary built with -race) ThreadSanitizer's.
func outOfMemory(s string) bool {
	return strings.Contains(s, "out of memory") || strings.Contains(s, "cannot allocate memory") ||
		strings.Contains(s, "ThreadSanitizer failed to allocate")
}

func mib(b uint64) string { return strconv.FormatUint(b>>20, 10) + " MiB" }

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return s
}

// limitedWriter keeps the first n bytes written and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// tailBuffer keeps the first max/2 and the last max/2 bytes written.
type tailBuffer struct {
	max        int
	head, tail []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := t.max/2 - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.tail = append(t.tail, p...)
	if len(t.tail) > t.max/2 {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-t.max/2:]...)
	}
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.head) + string(t.tail) }

// IsChild says whether this process was started as a compile child.
func IsChild() bool { return os.Getenv(envRequest) != "" }

// Main makes this process a compile child if it was started as one (the
// request in its environment): it does the work and exits. Otherwise it
// returns at once. Call it first thing in main (and in TestMain of tests
// that run Inspect on the test binary).
func Main() {
	req := os.Getenv(envRequest)
	if req == "" {
		return
	}
	os.Exit(child(req, os.Stdin, os.Stdout))
}
