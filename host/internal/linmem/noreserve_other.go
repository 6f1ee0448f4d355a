//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package linmem

// mapNoReserve is 0 where inaccessible mappings are not charged anyway (or
// MAP_NORESERVE does not exist).
const mapNoReserve = 0

// adviseHugePages does nothing: transparent huge pages are Linux's.
func adviseHugePages([]byte) {}
