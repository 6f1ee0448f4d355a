// Package filesystem is the filesystem capability of the host
// (abi.CapFilesystem): one host directory mounted at "/" in the guest's WASI
// filesystem, through internal/fsroot so that no path or symbolic link leads
// out of it. It adds no host functions; it configures each instance.
package filesystem

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/fsroot"
)

type capability struct{}

// Capability returns the filesystem capability.
func Capability() host.Capability { return capability{} }

func (capability) Name() abi.Capability { return abi.CapFilesystem }

func (capability) Functions() []host.Function { return nil }

func (capability) SecretKeys() []string { return nil }

func (capability) Describe() string {
	return "the destination's directory mounted at / as the guest's whole filesystem (no way out of it)"
}

// Open grants the destination's directory, made if missing; "" is the
// working directory.
func (capability) Open(_ context.Context, req host.OpenRequest) (host.Grant, error) {
	dir := req.Directory
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return Dir(dir)
}

// Dir grants the filesystem capability on root, which must be a directory.
func Dir(root string) (host.Grant, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("filesystem root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filesystem root %s is not a directory", root)
	}
	return grant{root: root}, nil
}

type grant struct{ root string }

func (grant) Capability() host.Capability { return capability{} }

// ConfigureInstance mounts the root at "/". Not with wazero's WithDirMount:
// its symlinks escape (package fsroot).
func (g grant) ConfigureInstance(mc wazero.ModuleConfig, log hclog.Logger) wazero.ModuleConfig {
	return mc.WithFSConfig(fsroot.FSConfig(g.root, "/", log))
}

// ConfigureInstanceNoting is ConfigureInstance, and notes the host errors
// the guest sees as EIO (host.HostErrorNoter).
func (g grant) ConfigureInstanceNoting(mc wazero.ModuleConfig, log hclog.Logger) (wazero.ModuleConfig, func() error) {
	note := &fsroot.Note{}
	return mc.WithFSConfig(fsroot.FSConfigNoting(g.root, "/", log, note)), note.Take
}

func (grant) Begin(*host.Call) host.Session { return nil }

func (grant) Close() error { return nil }
