package schema

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
)

// Appender turns records of a source table into records of the schema
// Transform made for it: it fills the internal columns with the sync's
// constant values and passes the other columns through without copying.
//
// An Appender is safe for concurrent use.
type Appender struct {
	out      *arrow.Schema
	table    string
	mem      memory.Allocator
	syncTime arrow.Timestamp
	source   string
	group    string
	// fill maps an output column index to the constant it gets, or to
	// fillInput when it comes from the input record.
	fill []fillKind

	mu     sync.Mutex
	lastIn *arrow.Schema
	lastIx []int // for each output column, its input column index or -1
}

type fillKind uint8

const (
	fillInput fillKind = iota
	fillSyncTime
	fillSourceName
	fillSyncGroupID
)

// NewAppender returns an Appender producing records of out, which must be
// the result of Transform with the same Options. mem allocates the internal
// columns; nil means memory.DefaultAllocator.
//
// It fails when out lacks an internal column the options call for, or has
// it with another type than the host's.
func NewAppender(out *arrow.Schema, o Options, mem memory.Allocator) (*Appender, error) {
	if out == nil {
		return nil, fmt.Errorf("schema: nil schema")
	}
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	ts, err := arrow.TimestampFromTime(o.SyncTime, arrow.Microsecond)
	if err != nil {
		return nil, fmt.Errorf("schema: sync time %s: %w", o.SyncTime, err)
	}
	a := &Appender{
		out:      out,
		table:    TableName(out),
		mem:      mem,
		syncTime: ts,
		source:   o.SourceName,
		group:    o.SyncGroupID,
		fill:     make([]fillKind, out.NumFields()),
	}
	kinds := map[string]fillKind{abi.ColSyncTime: fillSyncTime, abi.ColSourceName: fillSourceName}
	for _, c := range internalFields(o) {
		idx := out.FieldIndices(c.name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("table %q: schema has %d %s columns, want 1 (was it made by Transform?)", a.table, len(idx), c.name)
		}
		if got := out.Field(idx[0]).Type; !arrow.TypeEqual(got, c.typ) {
			return nil, fmt.Errorf("table %q: column %q has type %s, the host fills it with %s", a.table, c.name, got, c.typ)
		}
		k, ok := kinds[c.name]
		if !ok {
			k = fillSyncGroupID
		}
		a.fill[idx[0]] = k
	}
	return a, nil
}

// Schema returns the schema of the records Apply returns.
func (a *Appender) Schema() *arrow.Schema { return a.out }

// Apply returns a record of the Appender's schema holding rec's rows.
//
// rec's columns are matched to the output columns by name and must have the
// same types; rec may lack the internal columns, and when it has them their
// values are replaced. A column of rec missing from the output schema is an
// error, so nothing is dropped silently.
//
// Ownership: rec stays owned by the caller, who may release it as soon as
// Apply returns. The result shares (retains) rec's other columns and owns
// the internal columns it built; the caller must Release it.
func (a *Appender) Apply(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if rec == nil {
		return nil, fmt.Errorf("table %q: nil record", a.table)
	}
	ix, err := a.mapping(rec.Schema())
	if err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	cols := make([]arrow.Array, len(a.fill))
	var built []arrow.Array
	defer func() {
		for _, c := range built {
			c.Release()
		}
	}()
	for i, k := range a.fill {
		var c arrow.Array
		switch k {
		case fillInput:
			c = rec.Column(ix[i])
		case fillSyncTime:
			c = a.timestamps(n)
		case fillSourceName:
			c = a.strings(a.source, n)
		case fillSyncGroupID:
			c = a.strings(a.group, n)
		}
		if k != fillInput {
			built = append(built, c)
		}
		cols[i] = c
	}
	// NewRecordBatch retains every column; the deferred release drops the
	// builders' references so that the record owns the internal columns.
	return array.NewRecordBatch(a.out, cols, int64(n)), nil
}

// mapping returns, for each output column, the index of the input column it
// comes from (-1 for the internal ones), checking names and types. The last
// result is cached by schema pointer, since a source sends many records of
// one schema.
func (a *Appender) mapping(in *arrow.Schema) ([]int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if in == a.lastIn && a.lastIx != nil {
		return a.lastIx, nil
	}
	byName := make(map[string]int, in.NumFields())
	for i, f := range in.Fields() {
		if _, dup := byName[f.Name]; dup {
			return nil, fmt.Errorf("table %q: record has column %q more than once", a.table, f.Name)
		}
		byName[f.Name] = i
	}
	ix := make([]int, len(a.fill))
	used := 0
	for i, k := range a.fill {
		want := a.out.Field(i)
		j, ok := byName[want.Name]
		if ok {
			used++
			if got := in.Field(j).Type; !arrow.TypeEqual(got, want.Type) {
				return nil, fmt.Errorf("table %q: record column %q has type %s, the table schema says %s", a.table, want.Name, got, want.Type)
			}
		}
		if k != fillInput {
			ix[i] = -1
			continue
		}
		if !ok {
			return nil, fmt.Errorf("table %q: record has no column %q", a.table, want.Name)
		}
		ix[i] = j
	}
	if used != in.NumFields() {
		for _, f := range in.Fields() {
			if len(a.out.FieldIndices(f.Name)) == 0 {
				return nil, fmt.Errorf("table %q: record column %q is not in the table schema", a.table, f.Name)
			}
		}
	}
	a.lastIn, a.lastIx = in, ix
	return ix, nil
}

func (a *Appender) timestamps(n int) arrow.Array {
	b := array.NewTimestampBuilder(a.mem, SyncTimeType.(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(n)
	for range n {
		b.UnsafeAppend(a.syncTime)
	}
	return b.NewArray()
}

func (a *Appender) strings(v string, n int) arrow.Array {
	b := array.NewStringBuilder(a.mem)
	defer b.Release()
	b.Reserve(n)
	b.ReserveData(n * len(v))
	for range n {
		b.Append(v)
	}
	return b.NewArray()
}
