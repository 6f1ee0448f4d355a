package gueststore

import "time"

// SetCollectGrace sets how long Collect keeps unnamed modules, and returns
// a function that restores it.
func SetCollectGrace(d time.Duration) func() {
	old := collectGrace
	collectGrace = d
	return func() { collectGrace = old }
}
