package pgwire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateAndDerivedNames(t *testing.T) {
	long := strings.Repeat("ü", 40)
	if got := Truncate(long); len(got) != 62 || !utf8.ValidString(got) {
		t.Errorf("Truncate(80 bytes of ü) = %d bytes, valid %v; want 62 bytes", len(got), utf8.ValidString(got))
	}
	if got := Ident(`a"b`); got != `"a""b"` {
		t.Errorf("Ident = %s", got)
	}
	if got := DerivedName("users", "_cqpk"); got != "users_cqpk" {
		t.Errorf("short derived name %q", got)
	}
	a, b := DerivedName(strings.Repeat("t", 70)+"a", "_cqpi"), DerivedName(strings.Repeat("t", 70)+"b", "_cqpi")
	if a == b || len(a) > MaxIdentBytes || len(b) > MaxIdentBytes || !strings.HasSuffix(a, "_cqpi") {
		t.Errorf("long derived names %q, %q: want distinct, at most 63 bytes, ending _cqpi", a, b)
	}
	if _, err := ColumnNames("t", []string{strings.Repeat("x", 63) + "1", strings.Repeat("x", 63) + "2"}); err == nil {
		t.Error("columns equal after truncation accepted")
	}
	for _, bad := range []string{"", "a\x00b", "\xff"} {
		if err := CheckName("column", bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}
