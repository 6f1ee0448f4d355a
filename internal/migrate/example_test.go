package migrate_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/migrate"
)

func Example() {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{"users"})
	pk := arrow.NewMetadata([]string{abi.MetaPrimaryKey}, []string{abi.MetaTrue})
	wanted := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: "email", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "nickname", Type: arrow.BinaryTypes.String, Nullable: true},
	}, &md)

	// What the guest's OpDescribe reported for "users".
	st := abi.TableState{
		Table:  "users",
		Exists: true,
		Current: []abi.Column{
			{Name: "id", Type: "bigint", NotNull: true, PrimaryKey: true},
			{Name: "email", Type: "text"},
			{Name: "legacy", Type: "text"},
		},
		Wanted: []abi.Column{
			{Name: "id", Type: "bigint", NotNull: true, PrimaryKey: true},
			{Name: "email", Type: "bigint"},
			{Name: "nickname", Type: "text"},
		},
	}

	for _, mode := range abi.MigrateModes() {
		p, err := migrate.PlanTable(wanted, st, mode)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: action %q\n", mode, p.Action)
		for _, c := range p.Changes {
			fmt.Printf("  safe=%t %s\n", c.Kind.Safe(), migrate.Describe(c))
		}
		// Check every table's plan before any OpMigrate.
		if err := migrate.Check([]migrate.Plan{p}, mode); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// safe: action ""
	//   safe=false column "email": type text -> bigint
	//   safe=true column "nickname": new nullable column text
	//   safe=true column "legacy": no longer in the schema (an alter keeps it in the table: existing rows keep their values, new rows get NULL)
	// Can't migrate tables automatically, migrate manually or consider using 'migrate_mode: forced'. Non auto migratable tables changes:
	//   - table "users": column "email": type text -> bigint
	// To fix: change these tables by hand to match the new schema (or drop them), or set 'migrate_mode: forced' on this destination to drop and recreate them; forced mode deletes their existing rows.
	// forced: action "recreate"
	//   safe=false column "email": type text -> bigint
	//   safe=true column "nickname": new nullable column text
	//   safe=true column "legacy": no longer in the schema (an alter keeps it in the table: existing rows keep their values, new rows get NULL)
}
