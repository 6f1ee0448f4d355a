//go:build unix

package fsroot

import (
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// sysFlag converts the open flags os has no portable name for.
func sysFlag(flag experimentalsys.Oflag) int {
	var o int
	if flag&experimentalsys.O_DIRECTORY != 0 {
		o |= syscall.O_DIRECTORY
	}
	if flag&experimentalsys.O_NONBLOCK != 0 {
		o |= syscall.O_NONBLOCK
	}
	if flag&experimentalsys.O_DSYNC != 0 {
		o |= syscall.O_DSYNC
	}
	return o
}
