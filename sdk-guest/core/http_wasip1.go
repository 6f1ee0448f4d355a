//go:build wasip1

package core

import "unsafe"

//go:wasmimport wasmdest http_open
func hostHTTPOpen(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest http_write
func hostHTTPWrite(h int64, ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest http_send
func hostHTTPSend(h int64) int64

//go:wasmimport wasmdest http_read
func hostHTTPRead(h int64, ptr unsafe.Pointer, capacity uint32) int64

//go:wasmimport wasmdest http_close
func hostHTTPClose(h int64) int64

func httpOpen(req []byte) int64 { return hostHTTPOpen(bytesPtr(req), uint32(len(req))) }

func httpWrite(h int64, p []byte) int64 { return hostHTTPWrite(h, bytesPtr(p), uint32(len(p))) }

func httpSend(h int64) ([]byte, error) { return hostResult(hostHTTPSend(h)) }

func httpRead(h int64, p []byte) int64 { return hostHTTPRead(h, bytesPtr(p), uint32(len(p))) }

func httpClose(h int64) int64 { return hostHTTPClose(h) }

func httpCount(n int64) (int64, error) { return hostCount(n) }
