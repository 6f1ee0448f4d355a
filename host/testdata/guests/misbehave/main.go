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

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

type spec struct {
	// Fail maps an operation ("write", "read", ...) to a misbehaviour:
	// "panic", "oom", "spin", "exit", "error".
	Fail map[string]string `json:"fail"`
	// After is how many calls of the operation succeed before it misbehaves.
	After int `json:"after"`
	// Describe, if set, is returned by Describe as is (to test a lying guest).
	Describe *abi.TableState `json:"describe"`
}

type dest struct {
	spec  spec
	calls map[string]int
	rows  map[string][]arrow.RecordBatch
	hog   [][]byte
}

func init() {
	sdk.Register(abi.Manifest{
		Name: "misbehave", Version: "v0.0.1",
		SpecSchema:    json.RawMessage(`{"type":"object"}`),
		Features:      []string{abi.FeatureMigrateForced},
		BatchDefaults: abi.BatchDefaults{Rows: 1000},
	}, &dest{calls: map[string]int{}, rows: map[string][]arrow.RecordBatch{}})
}

func main() {}

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

func (d *dest) Write(_ context.Context, table string, records array.RecordReader) error {
	if err := d.misbehave("write"); err != nil {
		return err
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
	return nil
}

func (d *dest) Read(_ context.Context, table string, _ *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	if err := d.misbehave("read"); err != nil {
		return err
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
	if d.spec.Describe != nil {
		return *d.spec.Describe, nil
	}
	st := abi.TableState{Table: table}
	for _, f := range schema.Fields() {
		st.Wanted = append(st.Wanted, abi.Column{Name: f.Name, Type: f.Type.String(), NotNull: !f.Nullable,
			PrimaryKey: f.Metadata.FindKey(abi.MetaPrimaryKey) >= 0 && metaValue(f, abi.MetaPrimaryKey) == abi.MetaTrue})
	}
	if _, ok := d.rows[table]; ok {
		st.Exists = true
		st.Current = st.Wanted
	}
	return st, nil
}

func metaValue(f arrow.Field, key string) string {
	v, _ := f.Metadata.GetValue(key)
	return v
}

func (d *dest) Migrate(_ context.Context, req abi.MigrateRequest, _ *arrow.Schema) error {
	if err := d.misbehave("migrate"); err != nil {
		return err
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
