package version

import (
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
)

func TestString(t *testing.T) {
	if v := String(); !abi.ValidSemver(v) || !strings.HasPrefix(v, "v") {
		t.Errorf("String() = %q, not a v-prefixed semantic version", v)
	}
	defer func(s string) { stamped = s }(stamped)
	stamped = "v9.8.7+dirty"
	if String() != "v9.8.7+dirty" || Module() != "v9.8.7" {
		t.Errorf("stamped: String() = %q, Module() = %q", String(), Module())
	}
}
