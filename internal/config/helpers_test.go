package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/config"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// load writes content to name in a new temporary directory and loads it.
func load(t *testing.T, name, content string) (*config.File, string, error) {
	t.Helper()
	path := writeFile(t, t.TempDir(), name, content)
	f, err := config.Load(path)
	return f, path, err
}

// mustLoad is load that fails the test on error.
func mustLoad(t *testing.T, name, content string) (*config.File, string) {
	t.Helper()
	f, path, err := load(t, name, content)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f, path
}

// errCase is a configuration that must fail with every one of want in the
// error text, "FILE" standing for the configuration file's path.
type errCase struct {
	name    string
	env     map[string]string
	content string
	want    []string
	// not are texts the error must not hold.
	not []string
}

func runErrCases(t *testing.T, fileName string, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, path, err := load(t, fileName, tc.content)
			if err == nil {
				t.Fatalf("Load succeeded, want an error with %q", tc.want)
			}
			got := err.Error()
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "FILE", path)
				if !strings.Contains(got, w) {
					t.Errorf("error lacks %q; got:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("error holds %q; got:\n%s", n, got)
				}
			}
			for _, line := range strings.Split(got, "\n") {
				if !strings.HasPrefix(line, path+":") {
					t.Errorf("error line %q does not start with %q", line, path+":")
				}
			}
		})
	}
}
