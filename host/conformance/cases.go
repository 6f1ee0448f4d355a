package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/migrate"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// testCase is one check of the suite.
type testCase struct {
	name   string
	checks string
	needs  needs
	// run returns a detail for a pass, or the failure.
	run func(c *caseRun, ctx context.Context) (string, error)
}

var (
	append_   = abi.WriteModeAppend
	overwrite = abi.WriteModeOverwrite
	ods       = abi.WriteModeOverwriteDeleteStale
	anyMode   = []abi.WriteMode{append_, overwrite, ods}
	keyModes  = []abi.WriteMode{overwrite, ods}
	read      = abi.FeatureRead
)

// cases run in this order. Every case's tables start with the run's prefix.
var cases = []testCase{
	{
		name:   "load",
		checks: "the host loads the guest (exports, imports, ABI version, manifest) and init accepts the spec",
		run:    (*caseRun).load,
	},
	{
		name:   "unknown_op",
		checks: "an operation code the guest does not know answers unsupported (status 2), and the instance stays usable",
		needs:  needs{modes: anyMode},
		run:    (*caseRun).unknownOp,
	},
	{
		name:   "write",
		checks: "a sync of the reference test table (every type) succeeds",
		needs:  needs{modes: anyMode},
		run:    (*caseRun).write,
	},
	{
		name:   "types",
		checks: "every type of the reference test table reads back with its Arrow type and value, nulls and lists with null elements included",
		needs:  needs{modes: anyMode, features: []abi.Feature{read}},
		run:    (*caseRun).types,
	},
	{
		name:   "insert_basic",
		checks: "append: the same row written twice is stored twice",
		needs:  needs{modes: []abi.WriteMode{append_}, features: []abi.Feature{read}},
		run:    (*caseRun).insertBasic,
	},
	{
		name:   "insert_all",
		checks: "append: 10 rows of every type, then 10 null rows: 20 rows",
		needs:  needs{modes: []abi.WriteMode{append_}, features: []abi.Feature{read}},
		run:    (*caseRun).insertAll,
	},
	{
		name:   "upsert_basic",
		checks: "overwrite: the same key written twice is one row, with the last value",
		needs:  needs{modes: keyModes, features: []abi.Feature{read}},
		run:    (*caseRun).upsertBasic,
	},
	{
		name:   "upsert_all",
		checks: "overwrite: 10 rows of every type, then null rows with the same keys replace them whole, NULLs included",
		needs:  needs{modes: keyModes, features: []abi.Feature{read}},
		run:    (*caseRun).upsertAll,
	},
	{
		name:   "upsert_duplicate_keys",
		checks: "overwrite: one key ten times in one batch is one row, the last; also across the records of one batch",
		needs:  needs{modes: keyModes, features: []abi.Feature{read}},
		run:    (*caseRun).upsertDuplicates,
	},
	{
		name:   "upsert_parallel",
		checks: "with 3 writers, batches of a keyed table sharing no key are written side by side, and the last write of every key wins (feature parallel_upserts)",
		needs:  needs{modes: keyModes, features: []abi.Feature{read, abi.FeatureParallelUpserts}},
		run:    (*caseRun).upsertParallel,
	},
	{
		name:   "delete_stale",
		checks: "overwrite-delete-stale: rows of the source strictly before the sync time go; rows at it and of other sources stay",
		needs:  needs{modes: []abi.WriteMode{ods}, features: []abi.Feature{read, abi.FeatureDeleteStale}},
		run:    (*caseRun).deleteStale,
	},
	{
		name:   "migrate_add_column",
		checks: "safe: a new nullable column is added (old rows read it as null); the next sync finds nothing to migrate",
		needs:  needs{modes: anyMode, features: []abi.Feature{read}, describe: true},
		run:    (*caseRun).migrateAddColumn,
	},
	{
		name:   "migrate_remove_column",
		checks: "safe: a nullable column left out of the schema is kept, and writing without it works",
		needs:  needs{modes: anyMode, features: []abi.Feature{read}, describe: true},
		run:    (*caseRun).migrateRemoveColumn,
	},
	{
		name:   "migrate_remove_unique",
		checks: "safe: a unique constraint the schema drops is dropped (a duplicate value can then be written)",
		needs:  needs{modes: keyModes, features: []abi.Feature{read}, describe: true},
		run:    (*caseRun).migrateRemoveUnique,
	},
	{
		name:   "migrate_move_pk_to_cq_id",
		checks: "safe: pk_mode cq-id-only makes _cq_id the only key of an existing table",
		needs:  needs{modes: keyModes, features: []abi.Feature{read}, describe: true},
		run:    (*caseRun).migrateMovePK,
	},
	{
		name:   "migrate_unsafe_refused",
		checks: "safe: add_column_not_null, remove_column_not_null and change_column are refused before any change, the table keeps its rows",
		needs:  needs{modes: anyMode, describe: true},
		run:    (*caseRun).migrateUnsafeRefused,
	},
	{
		name:   "migrate_forced",
		checks: "forced: the same unsafe changes drop and recreate the table, which holds only the new rows",
		needs:  needs{modes: anyMode, features: []abi.Feature{read, abi.FeatureMigrateForced}, describe: true},
		run:    (*caseRun).migrateForced,
	},
	{
		name:   "migrate_double",
		checks: "the reference test table (every type) synced twice: the second sync finds no difference to migrate",
		needs:  needs{modes: anyMode, describe: true},
		run:    (*caseRun).migrateDouble,
	},
}

// load loads the guest and probes it: init with the spec, and describe.
func (c *caseRun) load(ctx context.Context) (string, error) {
	s := c.s
	g, err := s.rt.LoadFile(ctx, s.cfg.Guest)
	if err != nil {
		return "", err
	}
	m := g.Manifest()
	mode := firstMode(m.WriteModes)
	probe := TableSchema(c.table("probe"), false)
	st := step{writeMode: mode}
	var describeErr error
	s.guest = g // reused by withDestination; reset if the guest fails
	err = c.withDestination(ctx, st, func(d *syncer.Destination) error {
		// The first call makes the instance, which runs init.
		var out bytes.Buffer
		describeErr = d.Pool.Call(ctx, nil, abi.OpDescribe, abi.TableRequest{Table: c.table("probe")}, host.RecordBody(c.wantedSchema(st, probe)), &out)
		if describeErr != nil && isInitError(describeErr) {
			return describeErr
		}
		return nil
	})
	if err != nil {
		s.guest = nil
		return "", err
	}
	s.describes = !host.IsUnsupported(describeErr)
	desc := "describe: unsupported (no migrations)"
	if describeErr == nil {
		desc = "describe: ok"
	} else if s.describes {
		desc = "describe failed: " + describeErr.Error()
	}
	caps := "none"
	if len(m.Capabilities) > 0 {
		caps = abi.List(m.Capabilities)
	}
	modes := "all"
	if len(m.WriteModes) > 0 {
		modes = abi.List(m.WriteModes)
	}
	feats := "none"
	if len(m.Features) > 0 {
		feats = abi.List(m.Features)
	}
	return fmt.Sprintf("%s %s, ABI %s; capabilities %s; write modes %s; features %s; %s", m.Name, m.Version, g.ABIVersion(), caps, modes, feats, desc), nil
}

func isInitError(err error) bool {
	var ce *host.CallError
	return errors.As(err, &ce) && ce.Op == abi.OpInit
}

func firstMode(modes []abi.WriteMode) abi.WriteMode {
	if len(modes) == 0 {
		return append_
	}
	return modes[0]
}

// withDestination opens the guest as a destination for st without syncing
// and runs fn with it, then closes it.
func (c *caseRun) withDestination(ctx context.Context, st step, fn func(d *syncer.Destination) error) error {
	s := c.s
	o := st.options(c)
	env := s.env(o)
	d := config.Destination{
		Name: "conformance", Registry: config.RegistryLocal, Path: s.cfg.Guest,
		WriteMode: st.writeMode, MigrateMode: abi.MigrateModeSafe, PKMode: o.PKMode,
		Directory: c.dir, Spec: maps.Clone(s.cfg.Spec), File: "conformance",
	}
	dest, err := syncer.Open(ctx, env, d)
	if err != nil {
		return err
	}
	err = fn(dest)
	err = errors.Join(err, dest.Pool.Close(context.WithoutCancel(ctx)))
	dest.Close()
	return err
}

func (c *caseRun) unknownOp(ctx context.Context) (string, error) {
	st := step{writeMode: c.s.mode(anyMode...)}
	return "op 99: unsupported", c.withDestination(ctx, st, func(d *syncer.Destination) error {
		in, err := d.Pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer d.Pool.Release(ctx, in)
		err = d.Pool.Call(ctx, in, abi.Op(99), nil, nil, nil)
		if !host.IsUnsupported(err) {
			return fmt.Errorf("op 99 should answer unsupported (status 2), got: %v", err)
		}
		if in.Broken() {
			return errors.New("the instance was discarded after op 99")
		}
		// Still usable: a describe or a read of nothing must not trap.
		var out bytes.Buffer
		probe := TableSchema(c.table("unknown_op"), false)
		err = d.Pool.Call(ctx, in, abi.OpDescribe, abi.TableRequest{Table: c.table("unknown_op")}, host.RecordBody(c.wantedSchema(st, probe)), &out)
		if in.Broken() {
			return fmt.Errorf("after op 99, describe broke the instance: %v", err)
		}
		return nil
	})
}

// check returns an error for a failed sync or read, or for rows that differ.
func check(o outcome, what string, wantSchema *arrow.Schema, want []row) error {
	if o.err != nil {
		return fmt.Errorf("%s: %w", what, o.err)
	}
	table := schemaTable(wantSchema)
	if err := o.readErr[table]; err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	got, ok := o.read[table]
	if !ok {
		return fmt.Errorf("%s: table %s was not read back", what, table)
	}
	if d := diffRows(wantSchema, want, got); d != "" {
		return fmt.Errorf("%s: %s", what, d)
	}
	return nil
}

func schemaTable(s *arrow.Schema) string {
	v, _ := s.Metadata().GetValue(abi.MetaTableName)
	return v
}

func (c *caseRun) write(ctx context.Context) (string, error) {
	mode := c.s.mode(append_, overwrite, ods)
	src := TableSchema(c.table("write"), mode != append_, TestTableFields()...)
	o := c.sync(ctx, step{writeMode: mode, inputs: []input{in(src, Rows(src, 0, 12, RowOptions{}))}})
	if o.err != nil {
		return "", o.err
	}
	ts := o.stats[c.table("write")]
	if ts.Rows != 12 {
		return "", fmt.Errorf("the host counted %d rows written, want 12", ts.Rows)
	}
	return fmt.Sprintf("write_mode %s: 12 rows of %d columns in %d batch(es)", mode, src.NumFields()+2, ts.Batches), nil
}

func (c *caseRun) types(ctx context.Context) (string, error) {
	mode := c.s.mode(append_, overwrite, ods)
	src := TableSchema(c.table("types"), mode != append_, TestTableFields()...)
	recs := []arrow.RecordBatch{Rows(src, 0, 9, RowOptions{}), Rows(src, 9, 3, RowOptions{Nulls: true})}
	st := step{writeMode: mode, inputs: []input{in(src, recs...)}, reads: []*arrow.Schema{src}}
	o := c.sync(ctx, st)
	if err := check(o, "write and read back", c.wantedSchema(st, src), c.expect(st, recs...)); err != nil {
		return "", err
	}
	return fmt.Sprintf("write_mode %s: %d columns, 12 rows", mode, src.NumFields()+2), nil
}

func (c *caseRun) insertBasic(ctx context.Context) (string, error) {
	src := kvSchema(c.table("insert_basic"), false)
	rec := kvRows(src, []string{"foo"}, []int64{1})
	// Two inputs of one table: two batches.
	st := step{writeMode: append_, inputs: []input{in(src, rec), in(src, rec)}, reads: []*arrow.Schema{src}}
	o := c.sync(ctx, st)
	return "", check(o, "one row written in two batches", c.wantedSchema(st, src), c.expect(st, rec, rec))
}

func (c *caseRun) insertAll(ctx context.Context) (string, error) {
	src := TableSchema(c.table("insert_all"), false, TestTableFields()...)
	full, nulls := Rows(src, 0, 10, RowOptions{}), Rows(src, 10, 10, RowOptions{Nulls: true})
	st := step{writeMode: append_, inputs: []input{in(src, full), in(src, nulls)}, reads: []*arrow.Schema{src}}
	o := c.sync(ctx, st)
	return "", check(o, "10 rows and 10 null rows", c.wantedSchema(st, src), c.expect(st, full, nulls))
}

func (c *caseRun) upsertBasic(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	src := kvSchema(c.table("upsert_basic"), true)
	rec, rec2 := kvRows(src, []string{"foo"}, []int64{1}), kvRows(src, []string{"foo"}, []int64{2})
	st := step{writeMode: mode, inputs: []input{in(src, rec), in(src, rec)}, reads: []*arrow.Schema{src}}
	if err := check(c.sync(ctx, st), "one row written twice", c.wantedSchema(st, src), c.expect(st, rec)); err != nil {
		return "", err
	}
	st = step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(src, rec2)}, reads: []*arrow.Schema{src}}
	return "", check(c.sync(ctx, st), "the row written again with another value in a later sync", c.wantedSchema(st, src), c.expect(st, rec2))
}

func (c *caseRun) upsertAll(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	src := TableSchema(c.table("upsert_all"), true, TestTableFields()...)
	full, nulls := Rows(src, 0, 10, RowOptions{}), Rows(src, 0, 10, RowOptions{Nulls: true})
	st := step{writeMode: mode, inputs: []input{in(src, full)}, reads: []*arrow.Schema{src}}
	if err := check(c.sync(ctx, st), "10 rows", c.wantedSchema(st, src), c.expect(st, full)); err != nil {
		return "", err
	}
	st = step{writeMode: mode, inputs: []input{in(src, full), in(src, nulls)}, reads: []*arrow.Schema{src}}
	return "", check(c.sync(ctx, st), "10 rows, then 10 null rows with the same keys", c.wantedSchema(st, src), c.expect(st, nulls))
}

func (c *caseRun) upsertDuplicates(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	src := kvSchema(c.table("upsert_dup"), true)
	names, vals := make([]string, 10), make([]int64, 10)
	for i := range names {
		names[i], vals[i] = "id-1", int64(i)
	}
	st := step{writeMode: mode, inputs: []input{in(src, kvRows(src, names, vals))}, reads: []*arrow.Schema{src}}
	last := kvRows(src, []string{"id-1"}, []int64{9})
	if err := check(c.sync(ctx, st), "ten rows of one key in one batch", c.wantedSchema(st, src), c.expect(st, last)); err != nil {
		return "", err
	}
	r1 := kvRows(src, []string{"id-1", "id-2", "id-1"}, []int64{10, 20, 11})
	r2 := kvRows(src, []string{"id-2", "id-1"}, []int64{21, 12})
	st = step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(src, r1, r2)}, reads: []*arrow.Schema{src}}
	want := kvRows(src, []string{"id-1", "id-2"}, []int64{12, 21})
	return "", check(c.sync(ctx, st), "two keys repeated across the two records of one batch", c.wantedSchema(st, src), c.expect(st, want))
}

func (c *caseRun) upsertParallel(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	src := kvSchema(c.table("upsert_parallel"), true)
	final := map[int]int64{}
	keys := func(from, n int, v int64) arrow.RecordBatch {
		names, vals := make([]string, n), make([]int64, n)
		for i := range names {
			names[i], vals[i] = fmt.Sprintf("k%02d", from+i), v
			final[from+i] = v
		}
		return kvRows(src, names, vals)
	}
	// Batches of 10 rows: keys 0-9, 10-19 and 20-29 share none (written
	// at once); 0-4 with 5-9, 10-14 with 0-2 share keys with earlier ones.
	recs := []arrow.RecordBatch{keys(0, 10, 1), keys(10, 10, 1), keys(20, 10, 1), keys(0, 5, 2), keys(5, 10, 3), keys(0, 3, 4)}
	var names []string
	var vals []int64
	for k := range 30 {
		names, vals = append(names, fmt.Sprintf("k%02d", k)), append(vals, final[k])
	}
	st := step{writeMode: mode, writers: 3, batchRows: 10, inputs: []input{in(src, recs...)}, reads: []*arrow.Schema{src}}
	return "", check(c.sync(ctx, st), "30 keys in six records, batches of 10 rows, 3 writers: the last value of each key",
		c.wantedSchema(st, src), c.expect(st, kvRows(src, names, vals)))
}

func (c *caseRun) deleteStale(ctx context.Context) (string, error) {
	src := kvSchema(c.table("delete_stale"), true)
	t0 := c.start
	t1 := t0.Add(time.Microsecond)
	ab := kvRows(src, []string{"a", "b"}, []int64{1, 2})
	cc := kvRows(src, []string{"c"}, []int64{3})
	b2 := kvRows(src, []string{"b"}, []int64{20})
	bd := kvRows(src, []string{"b", "d"}, []int64{21, 4})
	s1 := step{writeMode: ods, at: t0, inputs: []input{in(src, ab)}}
	if o := c.sync(ctx, s1); o.err != nil {
		return "", fmt.Errorf("sync 1 (a, b): %w", o.err)
	}
	s2 := step{writeMode: ods, at: t0, source: "other-source", inputs: []input{in(src, cc)}}
	if o := c.sync(ctx, s2); o.err != nil {
		return "", fmt.Errorf("sync 2 (c, another source): %w", o.err)
	}
	// At the same sync time nothing is strictly older: a stays.
	s3 := step{writeMode: ods, at: t0, inputs: []input{in(src, b2)}, reads: []*arrow.Schema{src}}
	want := append(c.expect(s3, kvRows(src, []string{"a"}, []int64{1})), c.expect(s3, b2)...)
	want = append(want, c.expect(s2, cc)...)
	if err := check(c.sync(ctx, s3), "sync 3 (b again) at the same sync time: nothing may be deleted (strictly before)", c.wantedSchema(s3, src), want); err != nil {
		return "", err
	}
	s4 := step{writeMode: ods, at: t1, inputs: []input{in(src, bd)}, reads: []*arrow.Schema{src}}
	want = append(c.expect(s4, bd), c.expect(s2, cc)...)
	return "", check(c.sync(ctx, s4), "sync 4 (b, d) one microsecond later: a must be deleted, c (another source) kept", c.wantedSchema(s4, src), want)
}

// migration is a table's schema before (v1) and after (v2) a change.
type migration struct {
	name   string
	v1, v2 *arrow.Schema
	// rows1 and rows2 are written by the first and second sync.
	rows1, rows2 arrow.RecordBatch
}

func (c *caseRun) migrateAddColumn(ctx context.Context) (string, error) {
	mode := c.s.mode(anyMode...)
	table := c.table("mig_add")
	v1 := TableSchema(table, mode != append_, field("a", arrow.BinaryTypes.String, true))
	v2 := TableSchema(table, mode != append_, field("a", arrow.BinaryTypes.String, true), field("b", arrow.PrimitiveTypes.Int64, true))
	r1, r2 := Rows(v1, 0, 5, RowOptions{}), Rows(v2, 5, 5, RowOptions{})
	s1 := step{writeMode: mode, inputs: []input{in(v1, r1)}}
	if o := c.sync(ctx, s1); o.err != nil {
		return "", fmt.Errorf("sync 1: %w", o.err)
	}
	s2 := step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(v2, r2)}, reads: []*arrow.Schema{v2}}
	o := c.sync(ctx, s2)
	if err := check(o, "sync 2 with column b added", c.wantedSchema(s2, v2), append(c.expect(s1, r1), c.expect(s2, r2)...)); err != nil {
		return "", err
	}
	if m := o.stats[table].Migration; m != abi.MigrateAlter {
		return "", fmt.Errorf("sync 2: the host planned migration %q, want %q: does describe report the table as it is?", m, abi.MigrateAlter)
	}
	s3 := step{writeMode: mode, at: c.start.Add(2 * time.Second), inputs: []input{in(v2)}}
	o = c.sync(ctx, s3)
	if o.err != nil {
		return "", fmt.Errorf("sync 3 with the same schema: %w", o.err)
	}
	if m := o.stats[table].Migration; m != "" {
		return "", fmt.Errorf("sync 3 with the same schema planned migration %q: describe reports the migrated table differently from the wanted schema%s", m, c.explain(ctx, s3, v2))
	}
	return "alter, then no migration", nil
}

func (c *caseRun) migrateRemoveColumn(ctx context.Context) (string, error) {
	mode := c.s.mode(anyMode...)
	table := c.table("mig_remove")
	v1 := TableSchema(table, mode != append_, field("a", arrow.BinaryTypes.String, true), field("b", arrow.PrimitiveTypes.Int64, true))
	v2 := TableSchema(table, mode != append_, field("a", arrow.BinaryTypes.String, true))
	r1, r2 := Rows(v1, 0, 5, RowOptions{}), Rows(v2, 5, 5, RowOptions{})
	s1 := step{writeMode: mode, inputs: []input{in(v1, r1)}}
	if o := c.sync(ctx, s1); o.err != nil {
		return "", fmt.Errorf("sync 1: %w", o.err)
	}
	s2 := step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(v2, r2)}, reads: []*arrow.Schema{v2}}
	o := c.sync(ctx, s2)
	return "", check(o, "sync 2 without column b", c.wantedSchema(s2, v2), append(c.expect(s1, r1), c.expect(s2, r2)...))
}

func (c *caseRun) migrateRemoveUnique(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	table := c.table("mig_unique")
	unique := arrow.NewMetadata([]string{abi.MetaUnique}, []string{abi.MetaTrue})
	u := field("u", arrow.BinaryTypes.String, true)
	u.Metadata = unique
	v1 := TableSchema(table, true, u)
	v2 := TableSchema(table, true, field("u", arrow.BinaryTypes.String, true))
	r1 := textRows(v1, []int64{1}, []string{"same"})
	r2 := textRows(v2, []int64{2}, []string{"same"})
	s1 := step{writeMode: mode, inputs: []input{in(v1, r1)}}
	if o := c.sync(ctx, s1); o.err != nil {
		return "", fmt.Errorf("sync 1: %w", o.err)
	}
	s2 := step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(v2, r2)}, reads: []*arrow.Schema{v2}}
	o := c.sync(ctx, s2)
	if err := check(o, "sync 2 without the unique constraint, writing the value again under another key", c.wantedSchema(s2, v2), append(c.expect(s1, r1), c.expect(s2, r2)...)); err != nil {
		return "", err
	}
	if m := o.stats[table].Migration; m != abi.MigrateAlter {
		return "", fmt.Errorf("sync 2: the host planned migration %q, want %q", m, abi.MigrateAlter)
	}
	return "", nil
}

func (c *caseRun) migrateMovePK(ctx context.Context) (string, error) {
	mode := c.s.mode(keyModes...)
	table := c.table("mig_cq_id")
	cqID := field(abi.ColID, arrowtypes.NewUUIDType(), false)
	src := TableSchema(table, true, cqID, field("a", arrow.BinaryTypes.String, true))
	r1, r2 := Rows(src, 0, 5, RowOptions{}), Rows(src, 5, 5, RowOptions{})
	s1 := step{writeMode: mode, inputs: []input{in(src, r1)}}
	if o := c.sync(ctx, s1); o.err != nil {
		return "", fmt.Errorf("sync 1: %w", o.err)
	}
	s2 := step{writeMode: mode, pkMode: abi.PKModeCQIDOnly, at: c.start.Add(time.Second), inputs: []input{in(src, r2)}, reads: []*arrow.Schema{src}}
	o := c.sync(ctx, s2)
	if err := check(o, "sync 2 with pk_mode cq-id-only", c.wantedSchema(s2, src), append(c.expect(s1, r1), c.expect(s2, r2)...)); err != nil {
		return "", err
	}
	if m := o.stats[table].Migration; m != abi.MigrateAlter {
		return "", fmt.Errorf("sync 2: the host planned migration %q, want %q", m, abi.MigrateAlter)
	}
	s3 := step{writeMode: mode, pkMode: abi.PKModeCQIDOnly, at: c.start.Add(2 * time.Second), inputs: []input{in(src)}}
	if o := c.sync(ctx, s3); o.err != nil || o.stats[table].Migration != "" {
		return "", fmt.Errorf("sync 3 with the same settings: migration %q, error %v; want none", o.stats[table].Migration, o.err)
	}
	return "", nil
}

// unsafeChanges are the unsafe migrations of the checklist: v1 and v2 of a
// table named after each.
func (c *caseRun) unsafeChanges(pk bool) []migration {
	str := arrow.BinaryTypes.String
	mk := func(kind abi.ChangeKind, v1, v2 []arrow.Field) migration {
		name := string(kind)
		table := c.table("unsafe_" + name)
		m := migration{name: name, v1: TableSchema(table, pk, v1...), v2: TableSchema(table, pk, v2...)}
		m.rows1, m.rows2 = Rows(m.v1, 0, 5, RowOptions{}), Rows(m.v2, 100, 10, RowOptions{})
		return m
	}
	return []migration{
		mk(abi.ChangeAddColumnNotNull, []arrow.Field{field("a", str, true)}, []arrow.Field{field("a", str, true), field("b", str, false)}),
		mk(abi.ChangeRemoveColumnNotNull, []arrow.Field{field("a", str, true), field("b", str, false)}, []arrow.Field{field("a", str, true)}),
		mk(abi.ChangeColumnType, []arrow.Field{field("a", arrow.FixedWidthTypes.Boolean, true)}, []arrow.Field{field("a", str, true)}),
	}
}

func (c *caseRun) migrateUnsafeRefused(ctx context.Context) (string, error) {
	mode := c.s.mode(anyMode...)
	canRead := c.s.guest.HasFeature(read)
	for _, m := range c.unsafeChanges(mode != append_) {
		table := schemaTable(m.v1)
		s1 := step{writeMode: mode, inputs: []input{in(m.v1, m.rows1)}}
		if o := c.sync(ctx, s1); o.err != nil {
			return "", fmt.Errorf("%s: sync 1: %w", m.name, o.err)
		}
		s2 := step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(m.v2, m.rows2)}}
		if canRead {
			s2.reads = []*arrow.Schema{m.v1}
		}
		o := c.sync(ctx, s2)
		var ue *migrate.UnsafeError
		if !errors.As(o.err, &ue) {
			return "", fmt.Errorf("%s: sync 2 in migrate_mode safe should be refused as unsafe, got: %v", m.name, o.err)
		}
		if !strings.Contains(o.err.Error(), table) {
			return "", fmt.Errorf("%s: the refusal does not name the table: %v", m.name, o.err)
		}
		if canRead {
			o.err = nil // the refusal was expected
			if err := check(o, m.name+": after the refusal, the table as it was", c.wantedSchema(s1, m.v1), c.expect(s1, m.rows1)); err != nil {
				return "", err
			}
		}
	}
	if !canRead {
		return "refused (tables not read back: no feature read)", nil
	}
	return "", nil
}

func (c *caseRun) migrateForced(ctx context.Context) (string, error) {
	mode := c.s.mode(anyMode...)
	for _, m := range c.unsafeChanges(mode != append_) {
		table := schemaTable(m.v1)
		s1 := step{writeMode: mode, inputs: []input{in(m.v1, m.rows1)}}
		if o := c.sync(ctx, s1); o.err != nil {
			return "", fmt.Errorf("%s: sync 1: %w", m.name, o.err)
		}
		s2 := step{writeMode: mode, migrateMode: abi.MigrateModeForced, at: c.start.Add(time.Second), inputs: []input{in(m.v2, m.rows2)}, reads: []*arrow.Schema{m.v2}}
		o := c.sync(ctx, s2)
		if err := check(o, m.name+": sync 2 in migrate_mode forced: the table holds the 10 new rows only", c.wantedSchema(s2, m.v2), c.expect(s2, m.rows2)); err != nil {
			return "", err
		}
		if a := o.stats[table].Migration; a != abi.MigrateRecreate {
			return "", fmt.Errorf("%s: the host planned migration %q, want %q", m.name, a, abi.MigrateRecreate)
		}
	}
	return "", nil
}

func (c *caseRun) migrateDouble(ctx context.Context) (string, error) {
	mode := c.s.mode(anyMode...)
	table := c.table("mig_double")
	src := TableSchema(table, mode != append_, TestTableFields()...)
	rec := Rows(src, 0, 3, RowOptions{})
	s1 := step{writeMode: mode, inputs: []input{in(src, rec)}}
	o := c.sync(ctx, s1)
	if o.err != nil {
		return "", fmt.Errorf("sync 1: %w", o.err)
	}
	if m := o.stats[table].Migration; m != abi.MigrateCreate {
		return "", fmt.Errorf("sync 1: the host planned migration %q for a new table, want %q", m, abi.MigrateCreate)
	}
	s2 := step{writeMode: mode, at: c.start.Add(time.Second), inputs: []input{in(src, rec)}}
	o = c.sync(ctx, s2)
	if o.err != nil {
		return "", fmt.Errorf("sync 2 with the same schema: %w", o.err)
	}
	if m := o.stats[table].Migration; m != "" {
		return "", fmt.Errorf("sync 2 with the same schema planned migration %q: describe reports the table it created differently from how it would store it%s", m, c.explain(ctx, s2, src))
	}
	return "create, then no migration", nil
}

// explain describes the table of src as the guest reports it for a sync
// of st, and lists what the host would change.
func (c *caseRun) explain(ctx context.Context, st step, src *arrow.Schema) string {
	wanted := c.wantedSchema(st, src)
	var ts abi.TableState
	err := c.withDestination(ctx, st, func(d *syncer.Destination) error {
		var out bytes.Buffer
		if err := d.Pool.Call(ctx, nil, abi.OpDescribe, abi.TableRequest{Table: schemaTable(src)}, host.RecordBody(wanted), &out); err != nil {
			return err
		}
		return json.Unmarshal(out.Bytes(), &ts)
	})
	if err != nil {
		return "; describing it again failed: " + err.Error()
	}
	if !ts.Exists {
		return "; describe says the table does not exist"
	}
	var lines []string
	for _, ch := range migrate.Diff(ts.Current, ts.Wanted) {
		lines = append(lines, "\n  "+migrate.Describe(ch))
	}
	return ":" + strings.Join(lines, "")
}

func field(name string, t arrow.DataType, nullable bool) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: nullable}
}

// textRows makes rows of a schema (id, u string).
func textRows(s *arrow.Schema, ids []int64, us []string) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i := range ids {
		b.Field(0).(*array.Int64Builder).Append(ids[i])
		b.Field(1).(*array.StringBuilder).Append(us[i])
	}
	return b.NewRecordBatch()
}
