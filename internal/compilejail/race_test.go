//go:build race

package compilejail_test

// raceMiB is what the race detector adds to a child's need of RLIMIT_DATA
// (this test binary is the child): measured, a child built with -race
// needs 400-528 MiB of it before it compiles anything.
const raceMiB = 384
