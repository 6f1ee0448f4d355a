//go:build unix && !linux

package compilejail

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }

func limitSelf(req Request) error {
	return errors.New("compiling an upload in a child process under rlimits needs Linux")
}

func unnice(pid int) {}
