// Package migrate decides, in the host, how a guest must migrate each table.
//
// A guest reports through OpDescribe how it holds a table today and how it
// would hold the wanted schema (abi.TableState, with normalised type
// strings). The host checks that report (Verify), compares the two column
// lists (PlanTable), refuses unsafe changes in migrate_mode safe for all
// tables at once before any DDL runs (Check), sends each table's
// abi.MigrateRequest, and checks the result with a second OpDescribe
// (VerifyApplied). The guest only executes the action it is given.
//
// Changes are classified as the CloudQuery PostgreSQL destination does:
//
//	kind                      safe  what the guest does in action alter
//	add_column                yes   add the nullable column
//	remove_column             yes   nothing: the column stays in the table (see below)
//	remove_unique_constraint  yes   drop the column's unique constraint
//	move_pk_to_cq_id          yes   make _cq_id the only primary key column
//	add_column_not_null       no    -
//	remove_column_not_null    no    -
//	change_column             no    (type or NOT NULL differs)
//	add_unique_constraint     no    (existing rows may violate it)
//	change_primary_key        no    -
//
// A table that does not exist gets action create. A table with only safe
// changes gets action alter. A table with an unsafe change gets action
// recreate (drop and create) in migrate_mode forced; in migrate_mode safe it
// gets no action and Check refuses the whole sync.
//
// A column that leaves the schema but is nullable is kept, as the reference
// does: its rows keep their values and new rows get NULL. Such a
// remove_column needs nothing from the guest, so a table whose only changes
// are remove_column gets no action; the changes are still listed for logs.
package migrate

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/schema"
)

// Plan is the host's decision for one table.
type Plan struct {
	Table string
	// Action is abi.MigrateCreate, abi.MigrateAlter or abi.MigrateRecreate,
	// or "" when the guest has nothing to do or, when Unsafe is not empty,
	// may not do anything (migrate_mode safe; see Blocked).
	Action abi.MigrateAction
	// Changes lists every difference found, safe or not, in a fixed order:
	// the primary key move first, then per wanted column in schema order,
	// then the removed columns in table order. Empty for action create.
	Changes []abi.Change
	// Unsafe is the subset of Changes that are not safe: the reason for a
	// recreate, or for the refusal in migrate_mode safe.
	Unsafe []abi.Change
}

// Blocked reports whether the plan has unsafe changes and no action that
// would apply them, i.e. migrate_mode safe refuses it.
func (p Plan) Blocked() bool {
	return len(p.Unsafe) > 0 && p.Action != abi.MigrateRecreate
}

// Request returns the OpMigrate header for the plan. Only meaningful when
// p.Action is not empty.
func (p Plan) Request() abi.MigrateRequest {
	return abi.MigrateRequest{Table: p.Table, Action: p.Action, Changes: p.Changes}
}

// normalizeMode returns mode, or abi.DefaultMigrateMode for "".
func normalizeMode(mode abi.MigrateMode) (abi.MigrateMode, error) {
	if mode == "" {
		return abi.DefaultMigrateMode, nil
	}
	return mode, mode.Valid()
}

// PlanTable decides what to do with one table. wanted is the schema the host
// wants stored (from schema.Transform), st what the guest's OpDescribe
// reported for it, mode the migrate_mode ("" means safe).
//
// It first runs Verify, so a guest report inconsistent with wanted is an
// error rather than a plan.
func PlanTable(wanted *arrow.Schema, st abi.TableState, mode abi.MigrateMode) (Plan, error) {
	mode, err := normalizeMode(mode)
	if err != nil {
		return Plan{}, err
	}
	if err := Verify(wanted, st); err != nil {
		return Plan{}, err
	}
	p := Plan{Table: st.Table}
	if !st.Exists {
		p.Action = abi.MigrateCreate
		return p, nil
	}
	p.Changes = Diff(st.Current, st.Wanted)
	needed := false
	for _, c := range p.Changes {
		if !c.Kind.Safe() {
			p.Unsafe = append(p.Unsafe, c)
		}
		if c.Kind != abi.ChangeRemoveColumn {
			needed = true
		}
	}
	switch {
	case len(p.Unsafe) > 0 && mode == abi.MigrateModeForced:
		p.Action = abi.MigrateRecreate
	case len(p.Unsafe) > 0:
		p.Action = ""
	case needed:
		p.Action = abi.MigrateAlter
	}
	return p, nil
}

// Diff lists the changes that turn a table holding current into one holding
// wanted, matching columns by name. Type strings are compared as they are:
// the guest normalises them.
//
// NOT NULL is compared only for columns that are in the primary key on
// neither side: a primary key column is NOT NULL by definition, so a
// difference there is part of the primary key change.
func Diff(current, wanted []abi.Column) []abi.Change {
	cur := make(map[string]int, len(current))
	for i, c := range current {
		cur[c.Name] = i
	}
	want := make(map[string]bool, len(wanted))
	for _, w := range wanted {
		want[w.Name] = true
	}
	curPK, wantPK := pkNames(current), pkNames(wanted)

	var changes []abi.Change
	move := false
	if !sameSet(curPK, wantPK) && len(wantPK) == 1 && wantPK[0] == abi.ColID && len(curPK) > 0 {
		if i, ok := cur[abi.ColID]; ok {
			move = true
			w := wanted[indexOf(wanted, abi.ColID)]
			changes = append(changes, change(abi.ChangeMovePKToCQID, &current[i], &w))
		}
	}
	for _, w := range wanted {
		i, ok := cur[w.Name]
		if !ok {
			kind := abi.ChangeAddColumn
			if w.NotNull || w.PrimaryKey {
				kind = abi.ChangeAddColumnNotNull
			}
			changes = append(changes, change(kind, nil, &w))
			continue
		}
		c := current[i]
		if c.Type != w.Type || (!c.PrimaryKey && !w.PrimaryKey && c.NotNull != w.NotNull) {
			changes = append(changes, change(abi.ChangeColumnType, &c, &w))
		}
		if c.PrimaryKey != w.PrimaryKey && !move {
			changes = append(changes, change(abi.ChangePrimaryKey, &c, &w))
		}
		switch {
		case w.Unique && !c.Unique:
			changes = append(changes, change(abi.ChangeAddUnique, &c, &w))
		case c.Unique && !w.Unique:
			changes = append(changes, change(abi.ChangeRemoveUnique, &c, &w))
		}
	}
	for _, c := range current {
		if want[c.Name] {
			continue
		}
		kind := abi.ChangeRemoveColumn
		if c.NotNull || c.PrimaryKey {
			kind = abi.ChangeRemoveColumnNotNull
		}
		changes = append(changes, change(kind, &c, nil))
	}
	return changes
}

// change builds a Change holding copies of the columns.
func change(kind abi.ChangeKind, cur, want *abi.Column) abi.Change {
	ch := abi.Change{Kind: kind}
	if cur != nil {
		c := *cur
		ch.Current, ch.Column = &c, c.Name
	}
	if want != nil {
		w := *want
		ch.Wanted, ch.Column = &w, w.Name
	}
	return ch
}

func pkNames(cols []abi.Column) []string {
	var out []string
	for _, c := range cols {
		if c.PrimaryKey {
			out = append(out, c.Name)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[string]bool, len(a))
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

func indexOf(cols []abi.Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Describe returns a change in readable form, without the table, e.g.
// `column "email": type text -> bigint`.
func Describe(c abi.Change) string {
	col := fmt.Sprintf("column %q: ", c.Column)
	switch c.Kind {
	case abi.ChangeAddColumn:
		return col + "new nullable column " + colType(c.Wanted)
	case abi.ChangeAddColumnNotNull:
		if c.Wanted != nil && c.Wanted.PrimaryKey {
			return col + "new primary key column " + colType(c.Wanted) + " (existing rows have no value for it)"
		}
		return col + "new NOT NULL column " + colType(c.Wanted) + " (existing rows have no value for it)"
	case abi.ChangeRemoveColumn:
		return col + "no longer in the schema (an alter keeps it in the table: existing rows keep their values, new rows get NULL)"
	case abi.ChangeRemoveColumnNotNull:
		what := "NOT NULL"
		if c.Current != nil && c.Current.PrimaryKey {
			what = "part of the primary key"
		}
		return col + "no longer in the schema, but " + what + " in the table, so new rows could not be written"
	case abi.ChangeColumnType:
		var parts []string
		if c.Current != nil && c.Wanted != nil {
			if c.Current.Type != c.Wanted.Type {
				parts = append(parts, fmt.Sprintf("type %s -> %s", c.Current.Type, c.Wanted.Type))
			}
			if c.Current.NotNull != c.Wanted.NotNull && !c.Current.PrimaryKey && !c.Wanted.PrimaryKey {
				parts = append(parts, nullability(c.Current)+" -> "+nullability(c.Wanted))
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "changed")
		}
		return col + strings.Join(parts, ", ")
	case abi.ChangeAddUnique:
		return col + "unique constraint added (existing rows may violate it)"
	case abi.ChangeRemoveUnique:
		return col + "unique constraint removed"
	case abi.ChangePrimaryKey:
		if c.Wanted != nil && c.Wanted.PrimaryKey {
			return col + "joins the primary key"
		}
		return col + "leaves the primary key"
	case abi.ChangeMovePKToCQID:
		return fmt.Sprintf("primary key moves to column %q alone", abi.ColID)
	}
	return col + string(c.Kind)
}

func colType(c *abi.Column) string {
	if c == nil {
		return ""
	}
	return c.Type
}

func nullability(c *abi.Column) string {
	if c.NotNull {
		return "NOT NULL"
	}
	return "nullable"
}

// UnsafeHeader is how Check's error begins, as the CloudQuery PostgreSQL
// destination words it.
const UnsafeHeader = "Can't migrate tables automatically, migrate manually or consider using 'migrate_mode: forced'. Non auto migratable tables changes:"

// UnsafeFix is how Check's error ends.
const UnsafeFix = "To fix: change these tables by hand to match the new schema (or drop them), " +
	"or set 'migrate_mode: forced' on this destination to drop and recreate them; " +
	"forced mode deletes their existing rows."

// UnsafeError is the error of Check: the tables migrate_mode safe refuses.
type UnsafeError struct {
	// Plans are the refused plans, in the order given to Check.
	Plans []Plan
}

// Error lists every unsafe change of every refused table, one per line:
//
//	Can't migrate tables automatically, [...] Non auto migratable tables changes:
//	  - table "users": column "email": type text -> bigint
//	  - table "orders": column "region": joins the primary key
//	To fix: [...]
func (e *UnsafeError) Error() string {
	var b strings.Builder
	b.WriteString(UnsafeHeader)
	b.WriteByte('\n')
	for _, p := range e.Plans {
		for _, c := range p.Unsafe {
			fmt.Fprintf(&b, "  - table %q: %s\n", p.Table, Describe(c))
		}
	}
	b.WriteString(UnsafeFix)
	return b.String()
}

// Check returns an *UnsafeError listing all unsafe changes of all plans that
// mode does not allow, or nil. Call it with the plans of every table before
// sending any OpMigrate, so that a refusal leaves every table untouched.
//
// In migrate_mode forced a plan is refused only if it was planned in safe
// mode (unsafe changes but no recreate).
func Check(plans []Plan, mode abi.MigrateMode) error {
	mode, err := normalizeMode(mode)
	if err != nil {
		return err
	}
	var refused []Plan
	for _, p := range plans {
		if len(p.Unsafe) == 0 {
			continue
		}
		if mode == abi.MigrateModeForced && p.Action == abi.MigrateRecreate {
			continue
		}
		refused = append(refused, p)
	}
	if len(refused) == 0 {
		return nil
	}
	return &UnsafeError{Plans: refused}
}

// Verify checks that a guest's OpDescribe report is consistent with the
// wanted schema, so that a guest cannot skip a migration by under-reporting:
//
//   - st.Table is the schema's cq:table_name;
//   - st.Wanted has one column per schema field, same names in the same
//     order, each with a type;
//   - its PrimaryKey and Unique flags are exactly the schema's
//     (cq:extension:primary_key, cq:extension:unique);
//   - a table that does not exist has no current columns;
//   - current columns have names and types, and no name twice.
//
// The error names the table and lists every inconsistency found.
func Verify(wanted *arrow.Schema, st abi.TableState) error {
	if wanted == nil {
		return fmt.Errorf("table %q: no wanted schema", st.Table)
	}
	table := schema.TableName(wanted)
	if table == "" {
		return fmt.Errorf("table %q: wanted schema has no %s metadata", st.Table, abi.MetaTableName)
	}
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	seen := map[string]bool{}
	for _, f := range wanted.Fields() {
		if seen[f.Name] {
			return fmt.Errorf("table %q: wanted schema has column %q more than once", table, f.Name)
		}
		seen[f.Name] = true
	}
	if st.Table != table {
		add("guest reported the state of table %q", st.Table)
	}
	pk := setOf(arrowtypes.PrimaryKeys(wanted))
	uniq := setOf(arrowtypes.UniqueColumns(wanted))
	if len(st.Wanted) != wanted.NumFields() {
		add("guest reported %d wanted columns for the %d fields of the schema", len(st.Wanted), wanted.NumFields())
	}
	for i, f := range wanted.Fields() {
		if i >= len(st.Wanted) {
			break
		}
		w := st.Wanted[i]
		if w.Name != f.Name {
			add("guest reported wanted column %d as %q, the schema has %q", i+1, w.Name, f.Name)
			continue
		}
		if w.Type == "" {
			add("guest reported no type for wanted column %q", w.Name)
		}
		if w.PrimaryKey != pk[f.Name] {
			add("guest reported wanted column %q with primary_key=%t, the schema says %t", w.Name, w.PrimaryKey, pk[f.Name])
		}
		if w.Unique != uniq[f.Name] {
			add("guest reported wanted column %q with unique=%t, the schema says %t", w.Name, w.Unique, uniq[f.Name])
		}
	}
	if !st.Exists && len(st.Current) > 0 {
		add("guest reported the table as absent but with %d current columns", len(st.Current))
	}
	curSeen := map[string]bool{}
	for i, c := range st.Current {
		switch {
		case c.Name == "":
			add("guest reported current column %d without a name", i+1)
			continue
		case curSeen[c.Name]:
			add("guest reported current column %q more than once", c.Name)
		}
		curSeen[c.Name] = true
		if c.Type == "" {
			add("guest reported no type for current column %q", c.Name)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("table %q: %s", table, strings.Join(probs, "; "))
	}
	return nil
}

// VerifyApplied checks the guest's OpDescribe report after a migration: it
// must be consistent (Verify), the table must exist, and nothing may differ
// from the wanted schema but extra nullable columns (removed columns that
// migrate_mode safe keeps). In other words, planning again would find no
// work.
func VerifyApplied(wanted *arrow.Schema, after abi.TableState) error {
	if err := Verify(wanted, after); err != nil {
		return err
	}
	if !after.Exists {
		return fmt.Errorf("table %q: guest reported the table as absent after migrating it", after.Table)
	}
	var probs []string
	for _, c := range Diff(after.Current, after.Wanted) {
		if c.Kind != abi.ChangeRemoveColumn {
			probs = append(probs, Describe(c))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("table %q: guest reported the table still differs from the wanted schema after migrating it: %s",
			after.Table, strings.Join(probs, "; "))
	}
	return nil
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
