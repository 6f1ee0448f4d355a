package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// result is one method's run in a scenario.
type result struct {
	Method      string  `json:"method"`
	Wasmdest    bool    `json:"wasmdest"`
	Rows        int     `json:"rows"`
	Seconds     float64 `json:"seconds"`
	RowsPerSec  float64 `json:"rows_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	HostCPU     float64 `json:"host_cpu_seconds"`
	DBCPU       float64 `json:"db_cpu_seconds"`
	PeakRSS     int64   `json:"peak_rss_bytes,omitempty"`
	GuestMemory uint64  `json:"guest_memory_bytes,omitempty"`
	Instances   int     `json:"guest_instances,omitempty"`
	Writers     int     `json:"writers,omitempty"`
	GenSeconds  float64 `json:"gen_seconds,omitempty"`
	Note        string  `json:"note,omitempty"`
	// Runs is how many runs the result is the median of; the spread of
	// their rows/s is [RowsPerSecMin, RowsPerSecMax].
	Runs          int     `json:"runs,omitempty"`
	RowsPerSecMin float64 `json:"rows_per_sec_min,omitempty"`
	RowsPerSecMax float64 `json:"rows_per_sec_max,omitempty"`
}

func (r *result) fill(bytes int64) {
	if r.Seconds > 0 {
		r.RowsPerSec = float64(r.Rows) / r.Seconds
		r.MBPerSec = float64(bytes) / 1e6 / r.Seconds
	}
}

func (r result) line() string {
	s := fmt.Sprintf("%8.0f rows/s %6.1f MB/s %6.2fs  host CPU %5.2fs  DB CPU %5.2fs", r.RowsPerSec, r.MBPerSec, r.Seconds, r.HostCPU, r.DBCPU)
	if r.PeakRSS > 0 {
		s += fmt.Sprintf("  RSS %s  guest %s", mib(r.PeakRSS), mib(int64(r.GuestMemory)))
	}
	return s
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// comparison is wasmdest's rows/s over one other method's, and the target
// for it if there is one.
type comparison struct {
	// Of is the wasmdest result compared, when not the scenario's first.
	Of      string  `json:"of,omitempty"`
	Against string  `json:"against"`
	Ratio   float64 `json:"ratio"`
	Target  float64 `json:"target,omitempty"`
	Goal    string  `json:"goal,omitempty"`
	Met     *bool   `json:"met,omitempty"`
}

type scenario struct {
	Name        string       `json:"name"`
	Group       string       `json:"group"`
	Results     []result     `json:"results"` // the first is wasmdest
	Comparisons []comparison `json:"comparisons"`
}

func (sc *scenario) add(rs ...result) { sc.Results = append(sc.Results, rs...) }

// target compares the scenario's first result (wasmdest) with method
// against.
func (sc *scenario) target(against string, target float64, goal string) {
	sc.targetOf(sc.Results[0].Method, against, target, goal)
}

// targetOf compares the wasmdest result named of with method against.
func (sc *scenario) targetOf(of, against string, target float64, goal string) {
	i := slices.IndexFunc(sc.Results, func(r result) bool { return r.Method == of })
	if i < 0 {
		return
	}
	w := sc.Results[i]
	for _, r := range sc.Results {
		if r.Method != against {
			continue
		}
		c := comparison{Against: against, Ratio: w.RowsPerSec / r.RowsPerSec, Target: target, Goal: goal}
		if i > 0 {
			c.Of = of
		}
		if target > 0 {
			met := c.Ratio >= target
			c.Met = &met
		}
		sc.Comparisons = append(sc.Comparisons, c)
	}
}

// ratio returns wasmdest's ratio against method, 0 if not compared.
func (sc *scenario) ratio(method string) float64 {
	for _, c := range sc.Comparisons {
		if c.Against == method && c.Of == "" {
			return c.Ratio
		}
	}
	return 0
}

type guestStart struct {
	Guest              string  `json:"guest"`
	WasmBytes          int     `json:"wasm_bytes"`
	ColdSeconds        float64 `json:"compile_cold_seconds"`
	CachedSeconds      float64 `json:"compile_cached_seconds"`
	InstantiateSeconds float64 `json:"instantiate_seconds"`
}

type report struct {
	Started      time.Time    `json:"started"`
	Finished     time.Time    `json:"finished"`
	Machine      string       `json:"machine"`
	Commit       string       `json:"commit"`
	Guests       string       `json:"guests_built_from"`
	Postgres     string       `json:"postgres,omitempty"`
	LoadBefore   string       `json:"load_average_before"`
	LoadAfter    string       `json:"load_average_after"`
	Rows         int          `json:"rows"`
	DatasetBytes int64        `json:"dataset_arrow_bytes"`
	Writers      int          `json:"parallel_writers"`
	Runs         int          `json:"runs"`
	Starts       []guestStart `json:"guest_start"`
	Scenarios    []*scenario  `json:"scenarios"`
	Scaling      []result     `json:"scaling"`
	Skipped      []string     `json:"skipped,omitempty"`
}

func newReport(rows, writers int) *report {
	return &report{Started: time.Now().UTC(), Machine: machine(), Commit: gitDescribe(), Rows: rows, Writers: writers, LoadBefore: loadAvg()}
}

func (r *report) add(sc *scenario) { r.Scenarios = append(r.Scenarios, sc) }

// write prints the markdown table and writes results.md, results.json and
// results.png to dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	r.markdown(&md)
	fmt.Print("\n" + md.String())
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{"results.md": []byte(md.String()), "results.json": append(js, '\n')}
	png, err := r.chart()
	if err != nil {
		return err
	}
	files["results.png"] = png
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "\nwrote %s/results.md, results.json, results.png\n", dir)
	return nil
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func (r *report) markdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# wasmdest benchmark\n\n")
	p("%s, %s, commit %s (guests built from %s)", r.Finished.Format("2006-01-02 15:04 UTC"), r.Machine, r.Commit, r.Guests)
	if r.Postgres != "" {
		p(", PostgreSQL %s (throwaway cluster on the same machine, fsync off)", r.Postgres)
	}
	p(".\nLoad average (1, 5, 15 min) before: %s, after: %s. ", r.LoadBefore, r.LoadAfter)
	if r.Rows > 0 && r.DatasetBytes > 0 {
		p("Dataset: %s rows of the 12-column CloudQuery-shaped table, %.0f MB of Arrow data (MB/s counts these bytes).", num(float64(r.Rows)), float64(r.DatasetBytes)/1e6)
	}
	p("\n\n")
	if len(r.Scenarios) > 0 {
		p("## Throughput\n\n")
		if r.Runs > 1 {
			p("Each method ran %d times, interleaved with the others; the median run is shown, with the range of rows/s in parentheses.\n\n", r.Runs)
		}
		p("wasmdest runs in a child process (`wasmbench worker`: internal/syncer, real guests, input read from an Arrow IPC file); its host CPU and peak RSS are that process's. The other methods run in the benchmark process from rows already in memory, except the native file writers, which run in a worker of their own too, making each record (untimed) just before writing it. DB CPU is every process of the PostgreSQL cluster. The last column is wasmdest's rows/s over the method's.\n\n")
		p("| scenario | method | rows/s | MB/s | time (s) | host CPU (s) | DB CPU (s) | peak RSS | guest memory | wasmdest ÷ method |\n")
		p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, sc := range r.Scenarios {
			for i, res := range sc.Results {
				name := ""
				if i == 0 {
					name = sc.Name
				}
				rss, gm, ratio := "", "", ""
				if res.Wasmdest {
					rss, gm = mib(res.PeakRSS), mib(int64(res.GuestMemory))
					if res.Instances > 1 {
						gm = fmt.Sprintf("%s (largest of %d)", gm, res.Instances)
					}
				} else if q := sc.ratio(res.Method); q > 0 {
					ratio = fmt.Sprintf("**%.2f**", q)
				}
				method := res.Method
				if res.Note != "" {
					method += " (" + res.Note + ")"
				}
				rate := num(res.RowsPerSec)
				if res.Runs > 1 {
					rate += fmt.Sprintf(" (%s–%s)", num(res.RowsPerSecMin), num(res.RowsPerSecMax))
				}
				p("| %s | %s | %s | %.1f | %.2f | %.2f | %.2f | %s | %s | %s |\n", name, method, rate, res.MBPerSec, res.Seconds, res.HostCPU, res.DBCPU, rss, gm, ratio)
			}
		}
		for _, sk := range r.Skipped {
			p("\nNot measured: %s\n", strings.TrimSpace(sk))
		}
		p("\n## Targets\n\n| target | measured | met |\n|---|---:|---|\n")
		for _, sc := range r.Scenarios {
			for _, c := range sc.Comparisons {
				if c.Met == nil {
					continue
				}
				met := "yes"
				if !*c.Met {
					met = "**no**"
				}
				p("| %s (%s) | %.2fx (target %.2fx) | %s |\n", c.Goal, sc.Name, c.Ratio, c.Target, met)
			}
		}
		p("\n")
	}
	if len(r.Starts) > 0 {
		p("## Guest start\n\n| guest | .wasm | compile, cold | compile, from the cache | instantiate + init |\n|---|---:|---:|---:|---:|\n")
		for _, s := range r.Starts {
			p("| %s | %.1f MB | %.2f s | %.3f s | %.3f s |\n", s.Guest, float64(s.WasmBytes)/1e6, s.ColdSeconds, s.CachedSeconds, s.InstantiateSeconds)
		}
		p("\n")
	}
	if len(r.Scaling) > 0 {
		p("## Scaling (append, no indexes, rows made on the fly in the wasmdest process)\n\n")
		p("| rows | rows/s | time (s) | host CPU (s) | DB CPU (s) | making the rows (s) | peak RSS | guest memory |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Scaling {
			gm := mib(int64(s.GuestMemory))
			if s.Instances > 1 {
				gm = fmt.Sprintf("%s (largest of %d)", gm, s.Instances)
			}
			p("| %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", num(float64(s.Rows)), num(s.RowsPerSec), s.Seconds, s.HostCPU, s.DBCPU, s.GenSeconds, mib(s.PeakRSS), gm)
		}
		p("\n")
	}
}
