//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package linmem

import "golang.org/x/sys/unix"

// reserve maps n bytes of inaccessible address space.
func reserve(n uint64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	if err == nil {
		adviseHugePages(b)
	}
	return b, err
}

// commit makes part of a reservation readable and writable.
func commit(b []byte) error { return unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE) }

// release unmaps a whole reservation.
func release(region []byte) error { return unix.Munmap(region) }
