package placeholder

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzExpand checks Expand against a naive reference: when Expand succeeds,
// the template holds only known placeholders with values, so replacing each
// "{{NAME}}" textually must give the same result.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "{{TABLE}}/{{UUID}}.{{FORMAT}}", "{{YEAR}}{{MONTH}}{{DAY}}{{HOUR}}{{MINUTE}}",
		"{{{{TABLE}}}}", "{{", "}}", "{{}}", "a{{TABLE_HYPHEN}}b{{SYNC_ID}}c", "{{UUID}}{{UUID}}", "{{table}}"} {
		f.Add(s, "my_table", "csv", int64(1767934020))
	}
	f.Fuzz(func(t *testing.T, tmpl, table, format string, unix int64) {
		v := Vars{SyncID: "sid", Time: time.Unix(unix, 0), Table: table, Format: format, NewUUID: func() string { return "U" }}
		got, err := Expand(tmpl, v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "placeholder: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		utc := v.Time.UTC()
		r := strings.NewReplacer(
			"{{SYNC_ID}}", "sid",
			"{{YEAR}}", pad(utc.Year(), 4), "{{MONTH}}", pad(int(utc.Month()), 2), "{{DAY}}", pad(utc.Day(), 2),
			"{{HOUR}}", pad(utc.Hour(), 2), "{{MINUTE}}", pad(utc.Minute(), 2),
			"{{TABLE_HYPHEN}}", strings.ReplaceAll(table, "_", "-"), "{{TABLE}}", table,
			"{{FORMAT}}", format, "{{UUID}}", "U")
		if want := r.Replace(tmpl); got != want {
			t.Fatalf("Expand(%q) = %q, reference %q", tmpl, got, want)
		}
		if Uses(tmpl, "UUID") != strings.Contains(tmpl, "{{UUID}}") {
			t.Fatalf("Uses disagrees for %q", tmpl)
		}
	})
}

func pad(n, w int) string { return fmt.Sprintf("%0*d", w, n) }
