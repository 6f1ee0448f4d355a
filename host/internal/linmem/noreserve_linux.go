package linmem

import "golang.org/x/sys/unix"

// mapNoReserve keeps the reservation out of the kernel's commit accounting:
// a 512 MiB maximum costs nothing until the guest grows into it.
const mapNoReserve = unix.MAP_NORESERVE

// adviseHugePages asks for transparent huge pages on a reservation
// (MADV_HUGEPAGE; the kernel's default "madvise" mode gives them only where
// asked): a guest touches its fresh memory 2 MiB at a time instead of 4 KiB,
// which on a virtual machine, where touching a fresh page is dear, makes
// instantiation (the data segments' copy, the Go runtime's start) cheaper.
// Advice only: where the kernel has no THP it is refused, and ignored.
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
