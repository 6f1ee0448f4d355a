package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/config"
)

func TestParseTOMLNested(t *testing.T) {
	t.Setenv("ACME_DIR", "acme-files")
	src := `
[[tenant]]
name = "acme"

[[tenant.destination]]
name = "files"
registry = "local"
path = "file.wasm"
directory = "${ACME_DIR}"
write_mode = "append"
[tenant.destination.spec]
path = "{{TABLE}}/{{UUID}}.{{FORMAT}}"

[[tenant.destination]]
name = "more"
registry = "local"
path = "/abs/file.wasm"

[[tenant]]
name = "globex"
[[tenant.destination]]
name = "files"
path = "postgres"
`
	got, err := config.ParseTOMLNested("/etc/wasmdest/serve.toml", []byte(src), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 {
		t.Fatalf("got %d tenants: %+v", len(got), got)
	}
	d := got[0][0]
	if d.Name != "files" || d.Path != "/etc/wasmdest/file.wasm" || d.Directory != filepath.Join("/etc/wasmdest", "acme-files") ||
		d.WriteMode != "append" || d.Spec["path"] != "{{TABLE}}/{{UUID}}.{{FORMAT}}" || d.Line != 5 {
		t.Errorf("first destination: %+v", d)
	}
	if got[0][1].MigrateMode != "safe" || got[1][0].Registry != config.RegistryBuiltin || got[1][0].Name != "files" {
		t.Errorf("defaults: %+v %+v", got[0][1], got[1][0])
	}
}

func TestParseTOMLNestedErrors(t *testing.T) {
	src := `
[[tenant]]
name = "acme"
[[tenant.destination]]
name = "a"
path = "postgres"
colour = "blue"
[[tenant.destination]]
name = "a"
path = "postgres"

[[tenant]]
name = "empty"
`
	_, err := config.ParseTOMLNested("serve.toml", []byte(src), "tenant")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"serve.toml:7:", "colour", "serve.toml:9:", `"a"`, "tenant #2 has no destinations"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}
