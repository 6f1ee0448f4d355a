//go:build wasip1

// Command misbehave is a test guest that keeps rows in memory and misbehaves
// on demand: its spec says which operation panics, runs out of memory, spins,
// exits or fails, and on which call.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

type spec struct {
	// Fail maps an operation ("write", "read", ...) to a misbehaviour:
	// "panic", "oom", "spin", "busy" (seconds of work, then success), "exit",
	// "error".
	Fail map[string]string `json:"fail"`
	// After is how many calls of the operation succeed before it misbehaves.
	After int `json:"after"`
	// Describe maps a table to what Describe returns for it, as is: to
	// simulate existing tables and guests that lie.
	Describe map[string]*abi.TableState `json:"describe"`
	// HoldMiB makes every write allocate and keep that many MiB more (every
	// page touched), to grow the guest's memory towards its cap.
	HoldMiB int `json:"hold_mib"`
	// Sticky keeps reporting Describe after a migration, as a guest that
	// does not migrate what it is asked to.
	Sticky bool `json:"sticky"`
	// Hold reports every batch written as held until close
	// (abi.WriteResult), as a guest that makes rows durable late.
	Hold bool `json:"hold"`
}

type dest struct {
	spec  spec
	calls map[string]int
	rows  map[string][]arrow.RecordBatch
	hog   [][]byte
	// ops logs "op table detail" per call; Read of table "__ops" returns it.
	ops []string
}

func init() {
	sdk.Register(abi.Manifest{
		Name: "misbehave", Version: "v0.0.1",
		SpecSchema:    json.RawMessage(`{"type":"object"}`),
		Features:      []abi.Feature{abi.FeatureMigrateForced},
		BatchDefaults: abi.BatchLimits{Rows: 1000},
	}, &dest{calls: map[string]int{}, rows: map[string][]arrow.RecordBatch{}})
}

func main() {}

// busyMemory is what "busy" writes to.
var busyMemory [1 << 20]byte

func (d *dest) misbehave(op string) error {
	d.calls[op]++
	if d.calls[op] <= d.spec.After {
		return nil
	}
	switch d.spec.Fail[op] {
	case "panic":
		panic("misbehave: panic in " + op)
	case "oom":
		for {
			d.hog = append(d.hog, make([]byte, 8<<20))
		}
	case "spin":
		for i := 0; ; i++ {
			if i < 0 {
				return nil
			}
		}
	case "busy":
		// Seconds of work writing to its memory, calling no host
		// function, then success: a host that unmapped the memory under
		// it would crash.
		for range 4000 {
			for i := range busyMemory {
				busyMemory[i]++
			}
		}
	case "exit":
		os.Exit(3)
	case "error":
		return errors.New("misbehave: error in " + op)
	}
	return nil
}

func (d *dest) Init(_ context.Context, req abi.InitRequest) error {
	if len(req.Spec) > 0 {
		if err := json.Unmarshal(req.Spec, &d.spec); err != nil {
			return err
		}
	}
	return d.misbehave("init")
}

func (d *dest) Write(ctx context.Context, table string, records array.RecordReader) error {
	if err := d.misbehave("write"); err != nil {
		return err
	}
	if d.spec.HoldMiB > 0 {
		b := make([]byte, d.spec.HoldMiB<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(i >> 12)
		}
		d.hog = append(d.hog, b)
	}
	var batch []arrow.RecordBatch
	for records.Next() {
		rec := records.RecordBatch()
		rec.Retain()
		batch = append(batch, rec)
	}
	if err := records.Err(); err != nil {
		return err
	}
	d.rows[table] = append(d.rows[table], batch...)
	var n int64
	for _, r := range batch {
		n += r.NumRows()
	}
	d.ops = append(d.ops, fmt.Sprintf("write %s %d", table, n))
	if d.spec.Hold {
		sdk.ReportWrite(ctx, abi.WriteResult{HeldRows: n})
	}
	return nil
}

func (d *dest) DeleteStale(_ context.Context, req abi.DeleteStaleRequest) error {
	if err := d.misbehave("delete_stale"); err != nil {
		return err
	}
	d.ops = append(d.ops, fmt.Sprintf("delete_stale %s %s %s", req.Table, req.SourceName, req.SyncTime))
	return nil
}

func (d *dest) Read(_ context.Context, table string, _ *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	if err := d.misbehave("read"); err != nil {
		return err
	}
	if table == "__ops" {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		defer b.Release()
		b.AppendValues(d.ops, nil)
		col := b.NewArray()
		defer col.Release()
		rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "op", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{col}, int64(len(d.ops)))
		defer rec.Release()
		return emit(rec)
	}
	for _, rec := range d.rows[table] {
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

func (d *dest) Describe(_ context.Context, table string, schema *arrow.Schema) (abi.TableState, error) {
	if err := d.misbehave("describe"); err != nil {
		return abi.TableState{}, err
	}
	if st, ok := d.spec.Describe[table]; ok {
		return *st, nil
	}
	st := abi.TableState{Table: table}
	for _, f := range schema.Fields() {
		st.Wanted = append(st.Wanted, abi.Column{Name: f.Name, Type: f.Type.String(), NotNull: !f.Nullable,
			PrimaryKey: arrowtypes.IsPrimaryKey(f)})
	}
	if _, ok := d.rows[table]; ok {
		st.Exists = true
		st.Current = st.Wanted
	}
	return st, nil
}

func (d *dest) Migrate(_ context.Context, req abi.MigrateRequest, _ *arrow.Schema) error {
	if err := d.misbehave("migrate"); err != nil {
		return err
	}
	d.ops = append(d.ops, fmt.Sprintf("migrate %s %s", req.Table, req.Action))
	// A migrated table now holds what was asked: stop pretending otherwise.
	if !d.spec.Sticky {
		delete(d.spec.Describe, req.Table)
	}
	switch req.Action {
	case abi.MigrateCreate, abi.MigrateAlter:
		if _, ok := d.rows[req.Table]; !ok {
			d.rows[req.Table] = nil
		}
	case abi.MigrateRecreate:
		for _, r := range d.rows[req.Table] {
			r.Release()
		}
		d.rows[req.Table] = nil
	default:
		return fmt.Errorf("unknown action %q", req.Action)
	}
	return nil
}

func (d *dest) Close(context.Context) error { return d.misbehave("close") }
