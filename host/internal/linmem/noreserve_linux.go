package linmem

import "golang.org/x/sys/unix"

// mapNoReserve keeps the reservation out of the kernel's commit accounting:
// a 512 MiB maximum costs nothing until the guest grows into it.
const mapNoReserve = unix.MAP_NORESERVE
