package linmem_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmdest/wasmdest/host/internal/linmem"
)

// TestReservationAdvisesHugePages checks that a memory's reservation is
// marked for transparent huge pages ("hg" in its VmFlags in
// /proc/self/smaps), which makes a guest's instantiation cheaper
// (RATIONALE.md, "The file guest's cached load").
func TestReservationAdvisesHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("this kernel has no transparent huge pages: %v", err)
		}
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	m := linmem.NewAllocator().Allocate(page, 64*page).(*linmem.Memory)
	defer m.Free()
	defer m.Unpin()
	if !m.Mapped() {
		t.Fatal("a 4 MiB memory fell back to the heap on linux")
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(m.Reallocate(2 * page))))
	flags := vmFlags(t, addr)
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the memory's mapping has VmFlags %q, without hg (MADV_HUGEPAGE)", flags)
	}
}

// vmFlags returns the VmFlags of the mapping holding addr, from
// /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	in := false
	for s.Scan() {
		line := s.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			var lo, hi uintptr
			if _, err := fmt.Sscanf(fields[0], "%x-%x", &lo, &hi); err == nil {
				in = lo <= addr && addr < hi
			}
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("no mapping holds %#x in /proc/self/smaps", addr)
	return ""
}
