//go:build !race

package serve_test

// raceMiB is what the race detector adds to a compile child's need of
// RLIMIT_DATA: nothing without it.
const raceMiB = 0
