package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// RunTests runs the suite as subtests of t, one per case: a failed case
// fails its subtest with the details, a skipped one is skipped with the
// reason. The guest's and the host's logs go to the test log (warnings and
// errors unless cfg.Logger is set). It returns the report, for example to
// print the table with WriteTable.
//
//	func TestConformance(t *testing.T) {
//		conformance.RunTests(t, conformance.Config{Guest: wasmPath, Spec: map[string]any{"path": "out/{{TABLE}}/{{UUID}}.{{FORMAT}}"}})
//	}
func RunTests(t *testing.T, cfg Config) *Report {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "conformance", Level: hclog.Warn, Output: testWriter{t}})
	}
	rep, err := run(context.Background(), cfg, func(name string, fn func() Result) Result {
		var res Result
		t.Run(name, func(t *testing.T) {
			res = fn()
			switch res.Status {
			case Fail:
				t.Errorf("%s\n%s", res.Checks, res.Detail)
			case Skip:
				t.Skip(res.Detail)
			default:
				if res.Detail != "" {
					t.Log(res.Detail)
				}
			}
		})
		return res
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	return rep
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
