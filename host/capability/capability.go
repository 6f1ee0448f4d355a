// Package capability lists the capabilities this build of wasmdest can grant
// guests. Each lives in a package of its own below this one and plugs into
// the host through host.Capability; adding one touches this list, abi (its
// host functions' names and signatures, a minor ABI version) and nothing of
// the host's core.
package capability

import (
	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/codec"
	"github.com/wasmdest/wasmdest/host/capability/filesystem"
	httpcap "github.com/wasmdest/wasmdest/host/capability/http"
	"github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/host/capability/sqldb"
)

// Builtin returns every capability of this build, in the order of
// abi.Capabilities().
func Builtin() []host.Capability {
	return []host.Capability{filesystem.Capability(), postgres.Capability(), sqldb.Capability(), codec.Capability(), httpcap.Capability()}
}

// Find returns the capability of cs named name, or nil.
func Find(cs []host.Capability, name abi.Capability) host.Capability {
	for _, c := range cs {
		if c.Name() == name {
			return c
		}
	}
	return nil
}
