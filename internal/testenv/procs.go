package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Children lists the live and zombie child processes of ppid as "pid
// state" (state as /proc/PID/stat has it: R, S, Z, ...), read from /proc
// (Linux); keep, if not nil, picks among them by their /proc/PID directory.
func Children(ppid int, keep func(procDir, state string) bool) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, p := range procs {
		st, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		dir := filepath.Dir(p)
		if keep == nil || keep(dir, f[0]) {
			out = append(out, filepath.Base(dir)+" "+f[0])
		}
	}
	return out
}
