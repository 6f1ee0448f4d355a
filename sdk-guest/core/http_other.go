//go:build !wasip1

package core

// Outside WebAssembly the http_* host functions do not exist, in-process
// (package sdktest) neither: every wrapper fails with errNotWasm.

func httpOpen([]byte) int64          { return -1 }
func httpWrite(int64, []byte) int64  { return -1 }
func httpSend(int64) ([]byte, error) { return nil, errNotWasm }
func httpRead(int64, []byte) int64   { return -1 }
func httpClose(int64) int64          { return -1 }
func httpCount(n int64) (int64, error) {
	if n < 0 {
		return 0, errNotWasm
	}
	return n, nil
}
