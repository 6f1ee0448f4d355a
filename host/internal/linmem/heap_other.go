//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package linmem

import "errors"

// reserve is not available here: memories live on the Go heap.
func reserve(uint64) ([]byte, error) { return nil, errors.ErrUnsupported }

func commit([]byte) error { return errors.ErrUnsupported }

func release([]byte) error { return nil }
