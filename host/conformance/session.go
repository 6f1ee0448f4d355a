package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/schema"
	"github.com/wasmdest/wasmdest/internal/syncer"
)

// suite is one run of the cases against one guest.
type suite struct {
	cfg Config
	rt  *host.Runtime
	log hclog.Logger
	// guest is the loaded guest, nil until the load case passed.
	guest *host.Guest
	// describes is true when the guest answers describe.
	describes bool
}

// env is the syncer environment of a sync with options o. Once the guest
// loaded, every sync reuses it instead of loading it again.
func (s *suite) env(o schema.Options) *syncer.Env {
	env := &syncer.Env{
		Runtime: s.rt, SyncID: uuid.NewString(), SyncTime: o.SyncTime, SourceName: o.SourceName,
		Log: s.log, Capabilities: s.cfg.Capabilities,
	}
	if g := s.guest; g != nil {
		env.LoadGuest = func(context.Context, string) (*host.Guest, error) { return g, nil }
	}
	return env
}

// caseRun is the state of one case: its directory and its tables.
type caseRun struct {
	s    *suite
	name string
	dir  string
	// start is the sync time of the case's first sync; later syncs are
	// later by whole seconds unless a case says otherwise.
	start time.Time
}

func (s *suite) newCaseRun(name string) (*caseRun, func(), error) {
	c := &caseRun{s: s, name: name, dir: s.cfg.Directory, start: time.Now().UTC().Truncate(time.Second)}
	cleanup := func() {}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "wasmdest-conformance-")
		if err != nil {
			return nil, nil, err
		}
		c.dir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	return c, cleanup, nil
}

// table returns the name of the case's table called short.
func (c *caseRun) table(short string) string { return c.s.cfg.TablePrefix + short }

// input is one table's records for a sync.
type input struct {
	schema *arrow.Schema
	recs   []arrow.RecordBatch
}

func in(s *arrow.Schema, recs ...arrow.RecordBatch) input { return input{s, recs} }

// step is one sync.
type step struct {
	writeMode   abi.WriteMode
	migrateMode abi.MigrateMode
	pkMode      abi.PKMode
	// source is _cq_source_name; "" is "conformance".
	source string
	// at is the sync time; zero is the case's start.
	at     time.Time
	inputs []input
	// reads are the tables to read back after the sync ran, before the
	// destination is closed, by the schema they were written with.
	reads []*arrow.Schema
	// writers is syncer.Env.Writers; batchRows, when not 0, the spec's
	// batch_size.
	writers, batchRows int
}

func (st step) options(c *caseRun) schema.Options {
	o := schema.Options{WriteMode: st.writeMode, PKMode: st.pkMode, SourceName: st.source, SyncTime: st.at}
	if o.SourceName == "" {
		o.SourceName = "conformance"
	}
	if o.SyncTime.IsZero() {
		o.SyncTime = c.start
	}
	if o.PKMode == "" {
		o.PKMode = abi.DefaultPKMode
	}
	return o
}

// outcome is what a sync did.
type outcome struct {
	// err is the error of the sync (nil when it succeeded).
	err error
	// stats by table.
	stats map[string]syncer.TableStats
	// read by table: the rows read back, or the error of reading.
	read    map[string][]row
	readErr map[string]error
}

// sync runs one sync of st through internal/syncer and reads back st.reads.
func (c *caseRun) sync(ctx context.Context, st step) outcome {
	s := c.s
	o := st.options(c)
	out := outcome{stats: map[string]syncer.TableStats{}, read: map[string][]row{}, readErr: map[string]error{}}
	env := s.env(o)
	env.Writers = st.writers
	migrateMode := st.migrateMode
	if migrateMode == "" {
		migrateMode = abi.DefaultMigrateMode
	}
	d := config.Destination{
		Name: "conformance", Registry: config.RegistryLocal, Path: s.cfg.Guest,
		WriteMode: st.writeMode, MigrateMode: migrateMode, PKMode: o.PKMode,
		Directory: c.dir, Spec: maps.Clone(s.cfg.Spec), File: "conformance", Line: 0,
	}
	if st.batchRows > 0 {
		if d.Spec == nil {
			d.Spec = map[string]any{}
		}
		d.Spec["batch_size"] = st.batchRows
	}
	dest, err := syncer.Open(ctx, env, d)
	if err != nil {
		out.err = err
		return out
	}
	var inputs []syncer.Input
	for _, i := range st.inputs {
		inputs = append(inputs, newMemInput(i))
	}
	sy := syncer.New(env, []*syncer.Destination{dest})
	out.err = sy.Run(ctx, inputs)
	for _, rs := range st.reads {
		table := schema.TableName(rs)
		rows, err := c.read(ctx, dest, rs, o)
		if err != nil {
			out.readErr[table] = err
		} else {
			out.read[table] = rows
		}
	}
	if err := sy.Finish(context.WithoutCancel(ctx)); err != nil {
		out.err = errors.Join(out.err, err)
	}
	// After Finish: rows a guest held until it finished (abi.WriteResult)
	// count as written only then.
	for _, ts := range sy.Stats() {
		out.stats[ts.Table] = ts
	}
	return out
}

// read reads a table back through the guest's read operation, asking for
// the schema the host stores source tables of schema src in, and checks the
// columns come back with their names and types.
func (c *caseRun) read(ctx context.Context, d *syncer.Destination, src *arrow.Schema, o schema.Options) ([]row, error) {
	wanted, err := schema.Transform(src, o)
	if err != nil {
		return nil, err
	}
	table := schema.TableName(src)
	var buf bytes.Buffer
	if err := d.Pool.Call(ctx, nil, abi.OpRead, abi.TableRequest{Table: table}, host.RecordBody(wanted), &buf); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	got, recs, err := host.ReadRecords(&buf)
	if err != nil {
		return nil, fmt.Errorf("read %s: the guest's output: %w", table, err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if d := checkTypes(wanted, got); d != "" {
		return nil, fmt.Errorf("read %s: %s", table, d)
	}
	var rows []row
	for _, rec := range recs {
		rows = append(rows, rowsOf(rec)...)
	}
	return rows, nil
}

// expect returns the rows the host writes for recs of a source table in a
// sync of st: with the internal columns filled.
func (c *caseRun) expect(st step, recs ...arrow.RecordBatch) []row {
	o := st.options(c)
	wanted, err := schema.Transform(recs[0].Schema(), o)
	if err != nil {
		panic(err)
	}
	app, err := schema.NewAppender(wanted, o, memory.DefaultAllocator)
	if err != nil {
		panic(err)
	}
	var out []row
	for _, r := range recs {
		applied, err := app.Apply(r)
		if err != nil {
			panic(err)
		}
		out = append(out, rowsOf(applied)...)
		applied.Release()
	}
	return out
}

// wantedSchema is the schema the host stores a source table of src in.
func (c *caseRun) wantedSchema(st step, src *arrow.Schema) *arrow.Schema {
	w, err := schema.Transform(src, st.options(c))
	if err != nil {
		panic(err)
	}
	return w
}

// memInput is a syncer.Input of records in memory.
type memInput struct {
	table arrowio.Table
	recs  []arrow.RecordBatch
	next  int
}

func newMemInput(i input) *memInput {
	t := arrowio.Table{Name: schema.TableName(i.schema), Schema: i.schema,
		PrimaryKeys: arrowtypes.PrimaryKeys(i.schema), Unique: arrowtypes.UniqueColumns(i.schema)}
	return &memInput{table: t, recs: i.recs}
}

func (m *memInput) Table() arrowio.Table { return m.table }

func (m *memInput) Next(context.Context) (arrow.RecordBatch, error) {
	if m.next >= len(m.recs) {
		return nil, io.EOF
	}
	r := m.recs[m.next]
	m.next++
	r.Retain()
	return r, nil
}

func (m *memInput) Close() error { return nil }
