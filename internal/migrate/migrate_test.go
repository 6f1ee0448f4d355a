package migrate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
)

// schemaOf builds the wanted Arrow schema matching wanted columns: the
// primary key and unique metadata follow the flags. Arrow types do not
// matter to this package; the guest's type strings do.
func schemaOf(table string, wanted []abi.Column) *arrow.Schema {
	fields := make([]arrow.Field, len(wanted))
	for i, c := range wanted {
		var ks, vs []string
		if c.PrimaryKey {
			ks, vs = append(ks, abi.MetaPrimaryKey), append(vs, abi.MetaTrue)
		}
		if c.Unique {
			ks, vs = append(ks, abi.MetaUnique), append(vs, abi.MetaTrue)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: arrow.BinaryTypes.String, Nullable: !c.NotNull, Metadata: arrow.NewMetadata(ks, vs)}
	}
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{table})
	return arrow.NewSchema(fields, &md)
}

func st(table string, current, wanted []abi.Column) abi.TableState {
	return abi.TableState{Table: table, Exists: true, Current: current, Wanted: wanted}
}

// Column shorthands.
var (
	id     = abi.Column{Name: "id", Type: "bigint", NotNull: true, PrimaryKey: true}
	idNoPK = abi.Column{Name: "id", Type: "bigint"}
	cqID   = abi.Column{Name: abi.ColID, Type: "uuid", NotNull: true, Unique: true}
	cqIDPK = abi.Column{Name: abi.ColID, Type: "uuid", NotNull: true, Unique: true, PrimaryKey: true}
	name   = abi.Column{Name: "name", Type: "text"}
	flag   = abi.Column{Name: "flag", Type: "boolean"}
)

func with(c abi.Column, f func(*abi.Column)) abi.Column { f(&c); return c }

func kinds(cs []abi.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Kind)+":"+c.Column)
	}
	return out
}

func TestPlanTable(t *testing.T) {
	tests := []struct {
		name             string
		current, wanted  []abi.Column
		changes          []string // kind:column, in order
		unsafe           []string
		safeAct, frcdAct abi.MigrateAction // action in safe and forced mode
	}{
		{name: "no change", current: []abi.Column{id, name}, wanted: []abi.Column{id, name}},
		{name: "add_column", current: []abi.Column{id}, wanted: []abi.Column{id, name},
			changes: []string{"add_column:name"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "add_column_not_null", current: []abi.Column{id}, wanted: []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true })},
			changes: []string{"add_column_not_null:name"}, unsafe: []string{"add_column_not_null:name"}, frcdAct: abi.MigrateRecreate},
		{name: "add primary key column", current: []abi.Column{id}, wanted: []abi.Column{id, with(name, func(c *abi.Column) { c.PrimaryKey = true })},
			changes: []string{"add_column_not_null:name"}, unsafe: []string{"add_column_not_null:name"}, frcdAct: abi.MigrateRecreate},
		{name: "remove_column is kept, nothing to do", current: []abi.Column{id, name}, wanted: []abi.Column{id},
			changes: []string{"remove_column:name"}},
		{name: "remove_column with another safe change", current: []abi.Column{id, name}, wanted: []abi.Column{id, flag},
			changes: []string{"add_column:flag", "remove_column:name"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "remove_column_not_null", current: []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true })}, wanted: []abi.Column{id},
			changes: []string{"remove_column_not_null:name"}, unsafe: []string{"remove_column_not_null:name"}, frcdAct: abi.MigrateRecreate},
		{name: "remove primary key column", current: []abi.Column{id, name}, wanted: []abi.Column{name},
			changes: []string{"remove_column_not_null:id"}, unsafe: []string{"remove_column_not_null:id"}, frcdAct: abi.MigrateRecreate},
		{name: "change_column type bool->text", current: []abi.Column{id, flag}, wanted: []abi.Column{id, with(flag, func(c *abi.Column) { c.Type = "text" })},
			changes: []string{"change_column:flag"}, unsafe: []string{"change_column:flag"}, frcdAct: abi.MigrateRecreate},
		{name: "change_column nullable->NOT NULL", current: []abi.Column{id, name}, wanted: []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true })},
			changes: []string{"change_column:name"}, unsafe: []string{"change_column:name"}, frcdAct: abi.MigrateRecreate},
		{name: "change_column NOT NULL->nullable", current: []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true })}, wanted: []abi.Column{id, name},
			changes: []string{"change_column:name"}, unsafe: []string{"change_column:name"}, frcdAct: abi.MigrateRecreate},
		{name: "NOT NULL of a primary key column is implied", current: []abi.Column{id}, wanted: []abi.Column{with(id, func(c *abi.Column) { c.NotNull = false })}},
		{name: "add_unique_constraint", current: []abi.Column{id, name}, wanted: []abi.Column{id, with(name, func(c *abi.Column) { c.Unique = true })},
			changes: []string{"add_unique_constraint:name"}, unsafe: []string{"add_unique_constraint:name"}, frcdAct: abi.MigrateRecreate},
		{name: "remove_unique_constraint", current: []abi.Column{id, with(name, func(c *abi.Column) { c.Unique = true })}, wanted: []abi.Column{id, name},
			changes: []string{"remove_unique_constraint:name"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "new unique column is an add_column", current: []abi.Column{id}, wanted: []abi.Column{id, with(name, func(c *abi.Column) { c.Unique = true })},
			changes: []string{"add_column:name"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "change_primary_key", current: []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true })},
			wanted:  []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true; c.PrimaryKey = true })},
			changes: []string{"change_primary_key:name"}, unsafe: []string{"change_primary_key:name"}, frcdAct: abi.MigrateRecreate},
		{name: "primary key removed (overwrite -> append)", current: []abi.Column{cqID, id, name}, wanted: []abi.Column{with(cqID, func(c *abi.Column) { c.Unique = false }), idNoPK, name},
			changes: []string{"remove_unique_constraint:_cq_id", "change_primary_key:id"}, unsafe: []string{"change_primary_key:id"}, frcdAct: abi.MigrateRecreate},
		{name: "primary key added (append -> overwrite)", current: []abi.Column{idNoPK, name}, wanted: []abi.Column{id, name},
			changes: []string{"change_primary_key:id"}, unsafe: []string{"change_primary_key:id"}, frcdAct: abi.MigrateRecreate},
		{name: "move_pk_to_cq_id", current: []abi.Column{cqID, id, name}, wanted: []abi.Column{cqIDPK, idNoPK, name},
			changes: []string{"move_pk_to_cq_id:_cq_id"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "move_pk_to_cq_id from a composite key, adding a column", current: []abi.Column{cqID, id, with(name, func(c *abi.Column) { c.PrimaryKey = true; c.NotNull = true })},
			wanted:  []abi.Column{cqIDPK, idNoPK, name, flag},
			changes: []string{"move_pk_to_cq_id:_cq_id", "add_column:flag"}, safeAct: abi.MigrateAlter, frcdAct: abi.MigrateAlter},
		{name: "move_pk_to_cq_id with a type change", current: []abi.Column{cqID, id}, wanted: []abi.Column{with(cqIDPK, func(c *abi.Column) { c.Type = "text" }), idNoPK},
			changes: []string{"move_pk_to_cq_id:_cq_id", "change_column:_cq_id"}, unsafe: []string{"change_column:_cq_id"}, frcdAct: abi.MigrateRecreate},
		{name: "cq_id primary key on a table without one is not a move", current: []abi.Column{cqID, idNoPK}, wanted: []abi.Column{cqIDPK, idNoPK},
			changes: []string{"change_primary_key:_cq_id"}, unsafe: []string{"change_primary_key:_cq_id"}, frcdAct: abi.MigrateRecreate},
		{name: "cq_id primary key without a _cq_id column is not a move", current: []abi.Column{id}, wanted: []abi.Column{cqIDPK, idNoPK},
			changes: []string{"add_column_not_null:_cq_id", "change_primary_key:id"}, unsafe: []string{"add_column_not_null:_cq_id", "change_primary_key:id"}, frcdAct: abi.MigrateRecreate},
		{name: "several changes in order", current: []abi.Column{id, with(name, func(c *abi.Column) { c.Unique = true }), flag, {Name: "old", Type: "text"}},
			wanted:  []abi.Column{{Name: "new", Type: "text"}, id, with(flag, func(c *abi.Column) { c.Type = "text" }), name},
			changes: []string{"add_column:new", "change_column:flag", "remove_unique_constraint:name", "remove_column:old"},
			unsafe:  []string{"change_column:flag"}, frcdAct: abi.MigrateRecreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range abi.MigrateModes() {
				s := st("t", tt.current, tt.wanted)
				p, err := PlanTable(schemaOf("t", tt.wanted), s, mode)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.safeAct
				if mode == abi.MigrateModeForced {
					want = tt.frcdAct
				}
				if p.Table != "t" || p.Action != want {
					t.Errorf("%s: table %q action %q, want %q", mode, p.Table, p.Action, want)
				}
				if got := kinds(p.Changes); !reflect.DeepEqual(got, tt.changes) {
					t.Errorf("%s: changes %v, want %v", mode, got, tt.changes)
				}
				if got := kinds(p.Unsafe); !reflect.DeepEqual(got, tt.unsafe) {
					t.Errorf("%s: unsafe %v, want %v", mode, got, tt.unsafe)
				}
				if blocked := mode == abi.MigrateModeSafe && len(tt.unsafe) > 0; p.Blocked() != blocked {
					t.Errorf("%s: Blocked() = %t", mode, p.Blocked())
				}
				checkErr := Check([]Plan{p}, mode)
				if (checkErr != nil) != p.Blocked() {
					t.Errorf("%s: Check = %v", mode, checkErr)
				}
				for _, c := range p.Changes {
					if c.Kind.Safe() == contains(tt.unsafe, string(c.Kind)+":"+c.Column) {
						t.Errorf("%s.Safe() = %t", c.Kind, c.Kind.Safe())
					}
				}
				if r := p.Request(); r.Table != "t" || r.Action != p.Action || len(r.Changes) != len(p.Changes) {
					t.Errorf("Request() = %+v", r)
				}
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestPlanTableCreate(t *testing.T) {
	wanted := []abi.Column{id, name}
	for _, mode := range []abi.MigrateMode{"", abi.MigrateModeSafe, abi.MigrateModeForced} {
		p, err := PlanTable(schemaOf("t", wanted), abi.TableState{Table: "t", Wanted: wanted}, mode)
		if err != nil {
			t.Fatal(err)
		}
		if p.Action != abi.MigrateCreate || p.Changes != nil || p.Unsafe != nil {
			t.Errorf("%q: %+v", mode, p)
		}
	}
}

func TestPlanTableErrors(t *testing.T) {
	wanted := []abi.Column{id, name}
	if _, err := PlanTable(schemaOf("t", wanted), st("t", nil, wanted), "yolo"); err == nil || !strings.Contains(err.Error(), `migrate_mode "yolo" is not one of`) {
		t.Errorf("bad mode: %v", err)
	}
	if err := Check(nil, "yolo"); err == nil {
		t.Error("Check accepted a bad mode")
	}
	// A guest hiding a primary key is caught before planning.
	_, err := PlanTable(schemaOf("t", wanted), st("t", []abi.Column{id, name}, []abi.Column{idNoPK, name}), abi.MigrateModeSafe)
	if err == nil || !strings.Contains(err.Error(), `guest reported wanted column "id" with primary_key=false, the schema says true`) {
		t.Errorf("lie not caught: %v", err)
	}
}

func TestChangeColumns(t *testing.T) {
	cs := Diff([]abi.Column{id, flag, name}, []abi.Column{id, with(flag, func(c *abi.Column) { c.Type = "text" }), {Name: "new", Type: "int"}})
	want := []abi.Change{
		{Kind: abi.ChangeColumnType, Column: "flag", Current: &flag, Wanted: &abi.Column{Name: "flag", Type: "text"}},
		{Kind: abi.ChangeAddColumn, Column: "new", Wanted: &abi.Column{Name: "new", Type: "int"}},
		{Kind: abi.ChangeRemoveColumn, Column: "name", Current: &name},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got %+v", cs)
	}
	// Changes hold copies: editing them does not touch the inputs.
	cs[0].Current.Type = "x"
	if flag.Type != "boolean" {
		t.Error("change aliases its input")
	}
}

// TestRoundTrip is the reference's double_migration case: once a table holds
// what is wanted, planning again finds nothing, whatever the columns.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	types := []string{"bigint", "text", "boolean", "uuid", "jsonb", "text[]", "numeric(20,0)", "timestamp without time zone", "bytea"}
	for n := range 2000 {
		cols := make([]abi.Column, r.IntN(10))
		for i := range cols {
			cols[i] = abi.Column{
				Name: fmt.Sprintf("c%d", i), Type: types[r.IntN(len(types))],
				NotNull: r.IntN(2) == 0, PrimaryKey: r.IntN(4) == 0, Unique: r.IntN(4) == 0,
			}
			if r.IntN(5) == 0 {
				cols[i].Name = abi.ColID
			}
		}
		cols = dedupe(cols)
		r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
		current := append([]abi.Column(nil), cols...)
		for _, mode := range abi.MigrateModes() {
			p, err := PlanTable(schemaOf("t", cols), st("t", current, cols), mode)
			if err != nil {
				t.Fatal(err)
			}
			if p.Action != "" || len(p.Changes) != 0 || len(p.Unsafe) != 0 {
				t.Fatalf("case %d %s: %v: %+v", n, mode, cols, p)
			}
		}
		if err := VerifyApplied(schemaOf("t", cols), st("t", current, cols)); err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
	}
}

// TestApplyThenPlan: whatever two column lists, a table migrated as planned
// (the wanted columns, plus the removed ones in safe alter) plans to nothing
// but kept columns, and VerifyApplied accepts it.
func TestApplyThenPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() []abi.Column {
		cols := make([]abi.Column, r.IntN(6))
		for i := range cols {
			cols[i] = abi.Column{Name: fmt.Sprintf("c%d", r.IntN(8)), Type: []string{"bigint", "text"}[r.IntN(2)],
				NotNull: r.IntN(3) == 0, PrimaryKey: r.IntN(5) == 0, Unique: r.IntN(5) == 0}
		}
		return dedupe(cols)
	}
	for n := range 2000 {
		current, wanted := gen(), gen()
		for _, mode := range abi.MigrateModes() {
			p, err := PlanTable(schemaOf("t", wanted), st("t", current, wanted), mode)
			if err != nil {
				t.Fatal(err)
			}
			if p.Blocked() {
				continue
			}
			after := append([]abi.Column(nil), wanted...)
			if p.Action != abi.MigrateRecreate {
				for _, c := range p.Changes {
					if c.Kind == abi.ChangeRemoveColumn {
						after = append(after, *c.Current)
					}
				}
			}
			if err := VerifyApplied(schemaOf("t", wanted), st("t", after, wanted)); err != nil {
				t.Fatalf("case %d %s: %v -> %v: %+v: %v", n, mode, current, wanted, p, err)
			}
			p2, err := PlanTable(schemaOf("t", wanted), st("t", after, wanted), mode)
			if err != nil {
				t.Fatal(err)
			}
			if p2.Action != "" || len(p2.Unsafe) != 0 {
				t.Fatalf("case %d %s: replan %+v", n, mode, p2)
			}
		}
	}
}

func dedupe(cols []abi.Column) []abi.Column {
	seen := map[string]bool{}
	out := cols[:0]
	for _, c := range cols {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out
}

func TestCheckMessage(t *testing.T) {
	users, err := PlanTable(schemaOf("users", []abi.Column{id, {Name: "email", Type: "bigint"}, {Name: "age", Type: "int", NotNull: true}, name}),
		st("users", []abi.Column{id, {Name: "email", Type: "text"}, {Name: "legacy", Type: "text", NotNull: true}, with(name, func(c *abi.Column) { c.Unique = true })},
			[]abi.Column{id, {Name: "email", Type: "bigint"}, {Name: "age", Type: "int", NotNull: true}, name}), abi.MigrateModeSafe)
	if err != nil {
		t.Fatal(err)
	}
	okPlan, err := PlanTable(schemaOf("fine", []abi.Column{id, name}), st("fine", []abi.Column{id}, []abi.Column{id, name}), abi.MigrateModeSafe)
	if err != nil {
		t.Fatal(err)
	}
	regionPK := abi.Column{Name: "region", Type: "text", NotNull: true, PrimaryKey: true}
	orders, err := PlanTable(schemaOf("orders", []abi.Column{id, regionPK, with(flag, func(c *abi.Column) { c.Unique = true; c.NotNull = true })}),
		st("orders", []abi.Column{id, with(regionPK, func(c *abi.Column) { c.PrimaryKey = false }), flag},
			[]abi.Column{id, regionPK, with(flag, func(c *abi.Column) { c.Unique = true; c.NotNull = true })}), abi.MigrateModeSafe)
	if err != nil {
		t.Fatal(err)
	}
	created, err := PlanTable(schemaOf("new", []abi.Column{id}), abi.TableState{Table: "new", Wanted: []abi.Column{id}}, abi.MigrateModeSafe)
	if err != nil {
		t.Fatal(err)
	}

	err = Check([]Plan{users, okPlan, orders, created}, abi.MigrateModeSafe)
	want := `Can't migrate tables automatically, migrate manually or consider using 'migrate_mode: forced'. Non auto migratable tables changes:
  - table "users": column "email": type text -> bigint
  - table "users": column "age": new NOT NULL column int (existing rows have no value for it)
  - table "users": column "legacy": no longer in the schema, but NOT NULL in the table, so new rows could not be written
  - table "orders": column "region": joins the primary key
  - table "orders": column "flag": nullable -> NOT NULL
  - table "orders": column "flag": unique constraint added (existing rows may violate it)
To fix: change these tables by hand to match the new schema (or drop them), or set 'migrate_mode: forced' on this destination to drop and recreate them; forced mode deletes their existing rows.`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	ue, ok := err.(*UnsafeError)
	if !ok || len(ue.Plans) != 2 || ue.Plans[0].Table != "users" || ue.Plans[1].Table != "orders" {
		t.Fatalf("UnsafeError = %#v", err)
	}
	// The safe changes of "users" are not in the message.
	if strings.Contains(err.Error(), "unique constraint removed") {
		t.Error("safe change listed")
	}
	if err := Check([]Plan{okPlan, created}, abi.MigrateModeSafe); err != nil {
		t.Errorf("safe plans refused: %v", err)
	}

	// In forced mode the same tables are recreated and Check passes...
	var forced []Plan
	for _, p := range []Plan{users, orders} {
		p.Action = abi.MigrateRecreate
		forced = append(forced, p)
	}
	if err := Check(forced, abi.MigrateModeForced); err != nil {
		t.Errorf("forced: %v", err)
	}
	// ...but plans made in safe mode are still refused.
	if err := Check([]Plan{users, okPlan}, abi.MigrateModeForced); err == nil || !strings.Contains(err.Error(), `table "users"`) {
		t.Errorf("forced with safe-mode plans: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		c    abi.Change
		want string
	}{
		{abi.Change{Kind: abi.ChangeAddColumn, Column: "a", Wanted: &abi.Column{Name: "a", Type: "text"}}, `column "a": new nullable column text`},
		{abi.Change{Kind: abi.ChangeAddColumnNotNull, Column: "a", Wanted: &abi.Column{Name: "a", Type: "text", PrimaryKey: true}},
			`column "a": new primary key column text (existing rows have no value for it)`},
		{abi.Change{Kind: abi.ChangeRemoveColumn, Column: "a", Current: &abi.Column{Name: "a", Type: "text"}},
			`column "a": no longer in the schema (an alter keeps it in the table: existing rows keep their values, new rows get NULL)`},
		{abi.Change{Kind: abi.ChangeRemoveColumnNotNull, Column: "a", Current: &abi.Column{Name: "a", Type: "text", PrimaryKey: true}},
			`column "a": no longer in the schema, but part of the primary key in the table, so new rows could not be written`},
		{abi.Change{Kind: abi.ChangeColumnType, Column: "a", Current: &abi.Column{Name: "a", Type: "text", NotNull: true}, Wanted: &abi.Column{Name: "a", Type: "bigint"}},
			`column "a": type text -> bigint, NOT NULL -> nullable`},
		{abi.Change{Kind: abi.ChangeRemoveUnique, Column: "a"}, `column "a": unique constraint removed`},
		{abi.Change{Kind: abi.ChangePrimaryKey, Column: "a", Current: &abi.Column{Name: "a", PrimaryKey: true}, Wanted: &abi.Column{Name: "a"}}, `column "a": leaves the primary key`},
		{abi.Change{Kind: abi.ChangeMovePKToCQID, Column: abi.ColID}, `primary key moves to column "_cq_id" alone`},
		{abi.Change{Kind: "rename_column", Column: "a"}, `column "a": rename_column`},
	}
	for _, tt := range tests {
		if got := Describe(tt.c); got != tt.want {
			t.Errorf("Describe(%s) = %q, want %q", tt.c.Kind, got, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	wanted := []abi.Column{cqID, id, name}
	s := schemaOf("users", wanted)
	good := st("users", []abi.Column{cqID, id}, wanted)
	if err := Verify(s, good); err != nil {
		t.Fatalf("good state refused: %v", err)
	}
	mod := func(f func(*abi.TableState)) abi.TableState {
		x := good
		x.Current = append([]abi.Column(nil), good.Current...)
		x.Wanted = append([]abi.Column(nil), good.Wanted...)
		f(&x)
		return x
	}
	tests := []struct {
		name string
		st   abi.TableState
		want string
	}{
		{"other table", mod(func(x *abi.TableState) { x.Table = "accounts" }), `table "users": guest reported the state of table "accounts"`},
		{"column missing", mod(func(x *abi.TableState) { x.Wanted = x.Wanted[:2] }), `guest reported 2 wanted columns for the 3 fields of the schema`},
		{"column extra", mod(func(x *abi.TableState) { x.Wanted = append(x.Wanted, flag) }), `guest reported 4 wanted columns for the 3 fields of the schema`},
		{"renamed", mod(func(x *abi.TableState) { x.Wanted[2].Name = "nom" }), `guest reported wanted column 3 as "nom", the schema has "name"`},
		{"reordered", mod(func(x *abi.TableState) { x.Wanted[1], x.Wanted[2] = x.Wanted[2], x.Wanted[1] }), `guest reported wanted column 2 as "name", the schema has "id"`},
		{"no type", mod(func(x *abi.TableState) { x.Wanted[2].Type = "" }), `guest reported no type for wanted column "name"`},
		{"pk hidden", mod(func(x *abi.TableState) { x.Wanted[1].PrimaryKey = false }), `guest reported wanted column "id" with primary_key=false, the schema says true`},
		{"pk invented", mod(func(x *abi.TableState) { x.Wanted[2].PrimaryKey = true }), `guest reported wanted column "name" with primary_key=true, the schema says false`},
		{"unique hidden", mod(func(x *abi.TableState) { x.Wanted[0].Unique = false }), `guest reported wanted column "_cq_id" with unique=false, the schema says true`},
		{"unique invented", mod(func(x *abi.TableState) { x.Wanted[2].Unique = true }), `guest reported wanted column "name" with unique=true, the schema says false`},
		{"absent with columns", mod(func(x *abi.TableState) { x.Exists = false }), `guest reported the table as absent but with 2 current columns`},
		{"duplicate current", mod(func(x *abi.TableState) { x.Current = append(x.Current, id) }), `guest reported current column "id" more than once`},
		{"current without type", mod(func(x *abi.TableState) { x.Current[1].Type = "" }), `guest reported no type for current column "id"`},
		{"current without name", mod(func(x *abi.TableState) { x.Current[1].Name = "" }), `guest reported current column 2 without a name`},
		{"several at once", mod(func(x *abi.TableState) { x.Table = "x"; x.Wanted[1].PrimaryKey = false }),
			`table "users": guest reported the state of table "x"; guest reported wanted column "id" with primary_key=false, the schema says true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(s, tt.st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `table "users": `) {
				t.Errorf("error does not name the table: %v", err)
			}
			if _, err := PlanTable(s, tt.st, abi.MigrateModeForced); err == nil {
				t.Error("PlanTable accepted the state")
			}
		})
	}
	if err := Verify(nil, good); err == nil {
		t.Error("nil schema accepted")
	}
	if err := Verify(arrow.NewSchema(s.Fields(), nil), good); err == nil || !strings.Contains(err.Error(), "no cq:table_name") {
		t.Errorf("schema without name: %v", err)
	}
	dup := schemaOf("users", []abi.Column{id, id})
	if err := Verify(dup, st("users", nil, []abi.Column{id, id})); err == nil || !strings.Contains(err.Error(), `wanted schema has column "id" more than once`) {
		t.Errorf("duplicate schema column: %v", err)
	}
}

func TestVerifyApplied(t *testing.T) {
	wanted := []abi.Column{id, name, with(flag, func(c *abi.Column) { c.Unique = true })}
	s := schemaOf("t", wanted)
	kept := abi.Column{Name: "kept", Type: "text"}
	if err := VerifyApplied(s, st("t", append([]abi.Column{kept}, wanted...), wanted)); err != nil {
		t.Errorf("kept nullable column refused: %v", err)
	}
	tests := []struct {
		name    string
		current []abi.Column
		exists  bool
		want    string
	}{
		{"absent", nil, false, `table "t": guest reported the table as absent after migrating it`},
		{"column missing", []abi.Column{id, flag}, true, `column "name": new nullable column text`},
		{"type", []abi.Column{id, with(name, func(c *abi.Column) { c.Type = "varchar" }), wanted[2]}, true, `column "name": type varchar -> text`},
		{"not null", []abi.Column{id, with(name, func(c *abi.Column) { c.NotNull = true }), wanted[2]}, true, `column "name": NOT NULL -> nullable`},
		{"primary key", []abi.Column{id, with(name, func(c *abi.Column) { c.PrimaryKey = true }), wanted[2]}, true, `column "name": leaves the primary key`},
		{"unique", []abi.Column{id, name, flag}, true, `column "flag": unique constraint added`},
		{"extra NOT NULL column", []abi.Column{id, name, wanted[2], {Name: "old", Type: "text", NotNull: true}}, true, `column "old": no longer in the schema, but NOT NULL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyApplied(s, abi.TableState{Table: "t", Exists: tt.exists, Current: tt.current, Wanted: wanted})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// An inconsistent report is refused too.
	if err := VerifyApplied(s, st("t", wanted, wanted[:2])); err == nil || !strings.Contains(err.Error(), "guest reported 2 wanted columns") {
		t.Errorf("inconsistent after state: %v", err)
	}
}
