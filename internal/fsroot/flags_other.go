//go:build !unix

package fsroot

import experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

// sysFlag: other systems get O_DIRECTORY checked after opening, and no
// O_NONBLOCK or O_DSYNC.
func sysFlag(experimentalsys.Oflag) int { return 0 }
