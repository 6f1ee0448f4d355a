package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/wasmdest/wasmdest/internal/syncer"
)

// startProgress shows per-table progress: redrawn lines on a terminal, a log
// line every 10 seconds otherwise. The returned function stops it.
func startProgress(s *syncer.Sync, w io.Writer, log hclog.Logger) func() {
	f, isFile := w.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	every := 10 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		last := map[string]int64{}
		lastAt := time.Now()
		drawn := 0
		for {
			select {
			case <-done:
				if tty && drawn > 0 {
					fmt.Fprintf(w, "\x1b[%dA\x1b[J", drawn)
				}
				return
			case now := <-t.C:
				secs := now.Sub(lastAt).Seconds()
				lastAt = now
				var lines []string
				for _, st := range s.Stats() {
					k := st.Destination + "\x00" + st.Table
					// Held rows are written, only not yet durable: they
					// count in the progress, not yet in the summary.
					done := st.Rows + st.Held
					rate := float64(done-last[k]) / secs
					last[k] = done
					if tty {
						lines = append(lines, fmt.Sprintf("  %-16s %-32s %12d rows %10.0f rows/s", terminalSafe(st.Destination), terminalSafe(st.Table), done, rate))
					} else {
						log.Info("progress", "destination", st.Destination, "table", st.Table, "rows", done, "pending", st.Pending, "rows_per_s", int64(rate))
					}
				}
				if tty {
					if drawn > 0 {
						fmt.Fprintf(w, "\x1b[%dA\x1b[J", drawn)
					}
					fmt.Fprintln(w, strings.Join(lines, "\n"))
					drawn = len(lines)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// printSummary prints what was written, per destination and table.
func printSummary(w io.Writer, s *syncer.Sync, runErr error) {
	elapsed := time.Since(s.Started())
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tTABLE\tROWS\tBYTES\tBATCHES\tMIGRATION\tSTALE DELETED\tERROR")
	var rows, bytes int64
	notAttempted := 0
	for _, st := range s.Stats() {
		rows += st.Rows
		bytes += st.Bytes
		errText := ""
		if st.Err != nil {
			errText = "yes (below)"
		}
		if st.Pending > 0 {
			errText = fmt.Sprintf("%d rows not written", st.Pending)
		}
		if st.NotAttempted {
			errText = "not attempted"
			notAttempted++
		}
		stale := ""
		if st.DeletedStale {
			stale = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", terminalSafe(st.Destination), terminalSafe(st.Table), st.Rows, st.Bytes, st.Batches, st.Migration, stale, errText)
	}
	tw.Flush()
	status := "done"
	if runErr != nil {
		status = "FAILED"
	}
	if notAttempted > 0 {
		status += fmt.Sprintf(" (%d tables not attempted: the run stopped at the first failed table; --keep-going goes on)", notAttempted)
	}
	fmt.Fprintf(w, "%s: %d rows (%.1f MB) in %s, %.0f rows/s\n", status, rows, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds())
}

// terminalSafe returns a name from the input (a table name is whatever the
// input's metadata says) fit for a terminal: as is when every character is
// printable, else quoted with Go escapes, so that a newline or NUL cannot
// break the summary table and no control sequence reaches the terminal.
func terminalSafe(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
