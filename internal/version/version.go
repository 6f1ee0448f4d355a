// Package version says which wasmdest this is, for `wasmdest version`, the
// cli_version of sync summaries and the go.mod that new-guest writes.
package version

import (
	"runtime/debug"
	"strings"
)

// stamped is set at link time, for release builds:
//
//	go build -ldflags "-X github.com/wasmdest/wasmdest/internal/version.stamped=v0.2.0" ./cmd/wasmdest
var stamped string

// release is the version this source tree is, used when the binary carries
// no better one.
const release = "v0.1.0"

// String returns wasmdest's version: the one stamped at link time, else the
// module version the go command recorded in the binary (go install
// github.com/wasmdest/wasmdest/cmd/wasmdest@v0.2.0 records v0.2.0; a build
// in a git checkout records a pseudo-version naming the commit), else the
// source tree's release.
func String() string {
	if stamped != "" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && strings.HasPrefix(bi.Main.Version, "v") {
		return bi.Main.Version
	}
	return release
}

// Module returns String without build metadata ("+dirty"): a version a
// go.mod can require.
func Module() string {
	v, _, _ := strings.Cut(String(), "+")
	return v
}
