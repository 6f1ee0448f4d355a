//go:build !wasip1

package core

// Outside WebAssembly the codec_* host functions do not exist: every
// wrapper fails with errNotWasm (hostCount turns -1 into it).

func codecOpen([]byte) int64                     { return -1 }
func codecWrite(int64, []byte) int64             { return -1 }
func codecRead(int64, []byte) int64              { return -1 }
func codecFinish(int64) int64                    { return -1 }
func codecClose(int64) int64                     { return -1 }
func codecDecode([]byte, []byte) ([]byte, error) { return nil, errNotWasm }
