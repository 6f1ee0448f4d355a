package http

import "net/netip"

// CheckAddr is checkAddr for tests: why addr is refused, "" when public.
func CheckAddr(addr string) string { return checkAddr(netip.MustParseAddr(addr)) }
