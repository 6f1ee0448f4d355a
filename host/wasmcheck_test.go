package host_test

import (
	"os"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestCheckBinary: real guests pass; modules of a few bytes that declare
// gigabytes (which made wazero ask for 16 GiB and the process die) are
// refused with the section and byte that lie.
func TestCheckBinary(t *testing.T) {
	for _, g := range []string{"host/testdata/guests/misbehave", "host/testdata/guests/hostile"} {
		wasm, err := os.ReadFile(testenv.BuildGuest(t, g))
		if err != nil {
			t.Fatal(err)
		}
		if err := host.CheckBinary(wasm); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	hdr := "\x00asm\x01\x00\x00\x00"
	for name, c := range map[string]struct{ wasm, says string }{
		"2^32-1 functions":       {hdr + "\x03\x05\xff\xff\xff\xff\x0f", "declares 4294967295 functions"},
		"2^32-1 function bodies": {hdr + "\x0a\x05\xff\xff\xff\xff\x0f", "function bodies"},
		"4 GiB custom section":   {hdr + "\x00\xff\xff\xff\xff\x0f\x01x", "section size"},
		"4 GiB data segment":     {hdr + "\x05\x03\x01\x00\x01\x0b\x07\x01\x01\xff\xff\xff\xff\x0f", "data bytes"},
		"2^32-1 locals":          {hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7e\x0b", "locals"},
		"not wasm":               {"\x7fELF\x02\x01\x01\x00", "not a WebAssembly module"},
	} {
		err := host.CheckBinary([]byte(c.wasm))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.says)
		}
	}
}
