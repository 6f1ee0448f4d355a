//go:build !linux

package compilejail

import (
	"errors"
	"os"
	"syscall"
)

// childAttr: no process group or parent-death signal off Linux.
func childAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the child.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// limitSelf refuses: the limits are Linux's (RLIMIT_DATA counts what it
// should only there), and a child without them would bound nothing.
func limitSelf(req Request) error {
	return errors.New("compiling an upload in a child process under rlimits needs Linux")
}

func unnice(pid int) {}

// killedBySignal reports no signal off Linux.
func killedBySignal(ps *os.ProcessState) bool { return false }
