package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
)

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "wasmdest-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	os.Setenv("EXAMPLE_PG_URL", "postgres://localhost:5432/sync")
	path := filepath.Join(dir, "wasmdest.toml")
	err = os.WriteFile(path, []byte(`# Sync into PostgreSQL.
[[destination]]
name = "pg"
path = "postgres"
write_mode = "overwrite"

[destination.spec]
connection_string = "${EXAMPLE_PG_URL}"
batch_size = 5000
`), 0o644)
	if err != nil {
		fmt.Println(err)
		return
	}

	f, err := config.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range f.Destinations {
		fmt.Printf("%s: %s guest %q, line %d\n", d.Name, d.Registry, d.Path, d.Line)
		fmt.Println("write_mode:", d.WriteMode, "migrate_mode:", d.MigrateMode, "pk_mode:", d.PKMode)
		fmt.Println("connection_string:", d.Spec["connection_string"])
		b, err := d.Batch(abi.BatchLimits{Rows: 10000, Timeout: 0})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("batch: %d rows, timeout %v\n", b.Rows, b.Timeout)
	}
	// Output:
	// pg: builtin guest "postgres", line 2
	// write_mode: overwrite migrate_mode: safe pk_mode: default
	// connection_string: postgres://localhost:5432/sync
	// batch: 5000 rows, timeout 0s
}
