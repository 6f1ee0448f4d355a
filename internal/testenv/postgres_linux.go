package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

var interruptSignal os.Signal = syscall.SIGINT // the postmaster's "fast shutdown"

// serverCredential returns the user the server processes run as: nil (this
// process's user) unless this process runs as root, which PostgreSQL refuses;
// then the "postgres" user.
func serverCredential() (*syscall.Credential, error) { return serverCredentialOf("postgres") }

// serverCredentialOf is serverCredential for a server that runs as the
// system user name when this process runs as root.
func serverCredentialOf(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, the server needs another user to run as, and there is no %q user: %v", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func chownTo(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

// setServerProcAttr runs cmd as cred and, for the server, ties its life to
// this process: when the test process dies, the kernel sends the postmaster
// SIGQUIT (immediate shutdown), so no server outlives a killed test run.
func setServerProcAttr(cmd *exec.Cmd, cred *syscall.Credential, server bool) {
	setServerProcAttrAs(cmd, cred, "postgres", server, syscall.SIGQUIT)
}

// setServerProcAttrAs is setServerProcAttr for a server running as the
// system user name, sent sig when this process dies.
func setServerProcAttrAs(cmd *exec.Cmd, cred *syscall.Credential, name string, server bool, sig syscall.Signal) {
	attr := &syscall.SysProcAttr{Credential: cred}
	if server {
		attr.Pdeathsig = sig
	}
	cmd.SysProcAttr = attr
	if cred != nil {
		cmd.Env = append(os.Environ(), "HOME=/tmp", "USER="+name, "LOGNAME="+name)
	}
}

// mariadbDeathSignal is what the throwaway MariaDB server gets when the test
// process dies: it holds nothing worth a clean shutdown.
const mariadbDeathSignal = syscall.SIGKILL

// mariadbStopSignal asks mariadbd for a normal shutdown.
const mariadbStopSignal = syscall.SIGTERM

// credentialPtr is what serverCredentialOf returns.
type credentialPtr = *syscall.Credential

// processAlive reports whether a process with pid exists (one of another
// user's counts: the server runs as postgres).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
