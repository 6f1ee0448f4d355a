//go:build wasip1

package core

import "unsafe"

//go:wasmimport wasmdest codec_open
func hostCodecOpen(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest codec_write
func hostCodecWrite(h int64, ptr unsafe.Pointer, n uint32) int64

//go:wasmimport wasmdest codec_read
func hostCodecRead(h int64, ptr unsafe.Pointer, capacity uint32) int64

//go:wasmimport wasmdest codec_finish
func hostCodecFinish(h int64) int64

//go:wasmimport wasmdest codec_close
func hostCodecClose(h int64) int64

//go:wasmimport wasmdest codec_decode
func hostCodecDecode(ptr unsafe.Pointer, n uint32, data unsafe.Pointer, dataLen uint32) int64

func codecOpen(req []byte) int64 { return hostCodecOpen(bytesPtr(req), uint32(len(req))) }

func codecWrite(h int64, ipc []byte) int64 {
	return hostCodecWrite(h, bytesPtr(ipc), uint32(len(ipc)))
}

func codecRead(h int64, buf []byte) int64 {
	return hostCodecRead(h, bytesPtr(buf), uint32(len(buf)))
}

func codecFinish(h int64) int64 { return hostCodecFinish(h) }

func codecClose(h int64) int64 { return hostCodecClose(h) }

func codecDecode(req, data []byte) ([]byte, error) {
	return hostResult(hostCodecDecode(bytesPtr(req), uint32(len(req)), bytesPtr(data), uint32(len(data))))
}
