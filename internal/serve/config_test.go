package serve_test

import (
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/internal/serve"
)

// TestParseConfigRefusesDeployingTenantsTheStoreCannotName: a tenant that
// may deploy keeps its guests under its name in the guest store, so a name
// the store refuses ("..", "a:b") is an error of the tenants file, naming
// the tenant and the key; without may_deploy the same name is fine.
func TestParseConfigRefusesDeployingTenantsTheStoreCannotName(t *testing.T) {
	tenant := func(name, extra string) string {
		return "[[tenant]]\nname = \"" + name + "\"\ntoken_sha256 = \"" + serve.HashToken("tok-"+name) + "\"\n" + extra +
			"[[tenant.destination]]\nname = \"d\"\nregistry = \"builtin\"\npath = \"file\"\nspec = { path = \"{{TABLE}}.{{FORMAT}}\", format = \"csv\" }\n"
	}
	for _, name := range []string{"..", "a:b", "_x"} {
		_, err := serve.ParseConfig("tenants.toml", []byte(tenant(name, "may_deploy = true\n")))
		if err == nil || !strings.Contains(err.Error(), "tenants.toml") || !strings.Contains(err.Error(), "may_deploy") || !strings.Contains(err.Error(), name) {
			t.Errorf("tenant %q with may_deploy: got %v, want an error naming the file, the tenant and may_deploy", name, err)
		}
		if _, err := serve.ParseConfig("tenants.toml", []byte(tenant(name, ""))); err != nil && strings.Contains(err.Error(), "may_deploy") {
			t.Errorf("tenant %q without may_deploy: %v", name, err)
		}
	}
	if _, err := serve.ParseConfig("tenants.toml", []byte(tenant("acme-1", "may_deploy = true\n"))); err != nil {
		t.Errorf("tenant acme-1 with may_deploy: %v", err)
	}
}

// TestParseConfigCompileMemory: compile_memory_mib defaults to
// compilejail's, and one under the minimum a compile child needs is an
// error naming the file, the tenant and the key.
func TestParseConfigCompileMemory(t *testing.T) {
	tenant := func(extra string) []byte {
		return []byte("[[tenant]]\nname = \"acme\"\ntoken_sha256 = \"" + serve.HashToken("tok") + "\"\nmay_deploy = true\n" + extra +
			"[[tenant.destination]]\nname = \"d\"\nregistry = \"deployed\"\npath = \"w\"\n")
	}
	c, err := serve.ParseConfig("tenants.toml", tenant(""))
	if err != nil || c.Tenants[0].CompileMemoryMiB != serve.DefaultCompileMemoryMiB {
		t.Errorf("default: %+v, %v", c, err)
	}
	_, err = serve.ParseConfig("tenants.toml", tenant("compile_memory_mib = 64\n"))
	if err == nil || !strings.Contains(err.Error(), "tenants.toml") || !strings.Contains(err.Error(), "acme") || !strings.Contains(err.Error(), "compile_memory_mib 64 is under 128") {
		t.Errorf("compile_memory_mib = 64: %v", err)
	}
}
