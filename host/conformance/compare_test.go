package conformance

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/host"
)

func TestDiffRowsFindsEveryColumn(t *testing.T) {
	s := TableSchema("t", false, TestTableFields()...)
	a := Rows(s, 0, 12, RowOptions{})
	if d := diffRows(s, rowsOf(a), rowsOf(a.NewSlice(0, 6), a.NewSlice(6, 12))); d != "" {
		t.Fatalf("equal rows in other chunks differ: %s", d)
	}
	// Every column of b but id holds row 1's values in row 0.
	b := Rows(s, 1, 1, RowOptions{})
	for c, f := range s.Fields() {
		if f.Name == "id" {
			continue
		}
		cols := make([]arrow.Array, s.NumFields())
		for i := range cols {
			cols[i] = a.Column(i).(arrow.Array)
			if i == c {
				cols[i] = b.Column(i)
			}
		}
		one := array.NewRecordBatch(s, sliceAll(cols, 0, 1), 1)
		orig := a.NewSlice(0, 1)
		d := diffRows(s, rowsOf(orig), rowsOf(one))
		if d == "" || !strings.Contains(d, f.Name+" (") {
			t.Errorf("column %s: a changed value was not reported: %q", f.Name, d)
		}
	}
}

func sliceAll(cols []arrow.Array, i, j int64) []arrow.Array {
	out := make([]arrow.Array, len(cols))
	for k, c := range cols {
		out[k] = array.NewSlice(c, i, j)
	}
	return out
}

func TestJSONComparedAsValues(t *testing.T) {
	b := arrowtypes.NewJSONBuilder(memory.DefaultAllocator)
	for _, s := range []string{`{"b":1.0,"a":[1e0,"x"]}`, `{"a": [1, "x"], "b": 1}`, `{"a": [1, "x"], "b": 2}`} {
		if err := b.AppendRaw([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	arr := b.NewArray()
	x, y, z := show(canon(arr, 0)), show(canon(arr, 1)), show(canon(arr, 2))
	if x != y || y == z {
		t.Errorf("JSON compared as text: %s, %s, %s", x, y, z)
	}
}

func TestWasmStackOfTrap(t *testing.T) {
	trap := &host.CallError{Guest: "g", Op: abi.OpWrite, Trapped: true, Message: "wasm error: unreachable",
		Err: errors.New("wasm error: unreachable\nwasm stack trace:\n\t.deep(i32) i32\n\t.call(i32,i32,i32) i32")}
	got := wasmStack(fmt.Errorf("batch not written: %w", trap))
	if got != "\nwasm stack trace:\n\t.deep(i32) i32\n\t.call(i32,i32,i32) i32" {
		t.Errorf("%q", got)
	}
	if s := wasmStack(&host.CallError{Status: abi.StatusError, Message: "no"}); s != "" {
		t.Errorf("a guest error has a stack: %q", s)
	}
}
