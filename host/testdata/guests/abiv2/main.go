//go:build wasip1

// Command abiv2 is a hostile test guest that claims ABI 2.0. It uses no SDK
// so that it can lie about its version.
package main

//go:wasmexport wasmdest_abi_version
func version() uint32 { return 2<<16 | 0 }

//go:wasmexport wasmdest_alloc
func alloc(size uint32) uint32 { return 0 }

//go:wasmexport wasmdest_free
func free(ptr uint32) {}

//go:wasmexport wasmdest_call
func call(op, ptr, n uint32) uint32 { return 2 }

func main() {}
