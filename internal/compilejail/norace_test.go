//go:build !race

package compilejail_test

// raceMiB is what the race detector adds to a child's need of RLIMIT_DATA:
// nothing without it.
const raceMiB = 0
