package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// selfCPU returns the CPU time (user + system) this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStat returns a process's parent pid, its CPU time, and the CPU time
// of its waited-for children.
func procStat(pid int) (ppid int, cpu, children time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name in parentheses may hold spaces: fields start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k], 10, 64); return n }
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
	return int(num(1)), time.Duration(num(11)+num(12)) * clockTick, time.Duration(num(13)+num(14)) * clockTick, nil
}

// clusterCPU returns the CPU time the PostgreSQL cluster of postmaster pid
// used so far: the postmaster, its live children (backends, WAL writer,
// checkpointer, autovacuum...) and its exited children (counted in its
// cutime/cstime once it reaped them). 0 when pid is 0 (not our server).
func clusterCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	_, total, exited, err := procStat(pid)
	if err != nil {
		return 0
	}
	total += exited
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == pid {
			continue
		}
		ppid, cpu, _, err := procStat(p)
		if err == nil && ppid == pid {
			total += cpu
		}
	}
	return total
}

// settledClusterCPU is clusterCPU once backends that were just closed have
// exited: a backend reaped between reading the postmaster's stat and its
// own is counted nowhere (the postmaster's cutime did not have it yet, and
// it is gone from /proc), so a sample can only fall short. It waits a
// moment and takes the largest of a few samples.
func settledClusterCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	time.Sleep(200 * time.Millisecond)
	var most time.Duration
	for i := range 3 {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		most = max(most, clusterCPU(pid))
	}
	return most
}

// peakRSS returns this process's peak resident set size (VmHWM) in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// loadAvg returns /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
