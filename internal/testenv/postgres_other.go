//go:build !linux

package testenv

import (
	"errors"
	"os"
	"os/exec"
)

var interruptSignal os.Signal = os.Interrupt

type credential struct{}

func serverCredential() (*credential, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("the throwaway PostgreSQL cluster runs as root only on Linux; set " + PostgresURLEnv)
	}
	return nil, nil
}

func chownTo(string, *credential) error { return nil }

func setServerProcAttr(*exec.Cmd, *credential, bool) {}

func serverCredentialOf(string) (*credential, error) { return serverCredential() }

func setServerProcAttrAs(*exec.Cmd, *credential, string, bool, os.Signal) {}

var mariadbDeathSignal os.Signal = os.Kill

var mariadbStopSignal os.Signal = os.Kill

type credentialPtr = *credential

// processAlive is true: without a way to ask, every cluster is in use.
func processAlive(int) bool { return true }
