package compilejail

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// childAttr puts the child in a process group of its own (killed whole)
// and has the kernel kill it if the parent's thread that started it dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's process group.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }

// limitSelf sets the child's own limits: RLIMIT_DATA, RLIMIT_CPU, no core
// files, and its priority.
func limitSelf(req Request) error {
	data := req.dataBytes()
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: data, Max: data}); err != nil {
		return fmt.Errorf("RLIMIT_DATA %d: %w", data, err)
	}
	cpu := req.cpuSeconds()
	if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu}); err != nil {
		return fmt.Errorf("RLIMIT_CPU %d: %w", cpu, err)
	}
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	if req.Nice > 0 {
		renice(req.Nice)
	}
	return nil
}

// renice lowers the priority of every thread of this process. Linux keeps
// a nice value per thread, and a new thread inherits its creator's: once
// all are reniced, so are those made later. Twice, for threads made while
// the first pass ran.
func renice(n int) {
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return
		}
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, n)
			}
		}
	}
}

// unnice sets every thread of the child's process group back to nice 0.
func unnice(pid int) { syscall.Setpriority(syscall.PRIO_PGRP, pid, 0) }

// killedBySignal says whether the child ended by SIGKILL or SIGXCPU, as
// RLIMIT_CPU ends a process.
func killedBySignal(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGKILL || ws.Signal() == syscall.SIGXCPU)
}
