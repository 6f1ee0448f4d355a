//go:build !wasip1

package pgtest

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// explainDiff describes where two arrays of the same type differ.
func explainDiff(a, b arrow.Array) string {
	if sa, ok := a.(*array.Struct); ok {
		sb := b.(*array.Struct)
		st := a.DataType().(*arrow.StructType)
		for f := 0; f < sa.NumField(); f++ {
			if !arraysEqual(sa.Field(f), sb.Field(f)) {
				return fmt.Sprintf("field %s: %s", st.Field(f).Name, explainDiff(sa.Field(f), sb.Field(f)))
			}
		}
	}
	for i := 0; i < a.Len(); i++ {
		x := array.NewSlice(a, int64(i), int64(i+1))
		y := array.NewSlice(b, int64(i), int64(i+1))
		eq := arraysEqual(x, y)
		if !eq {
			return fmt.Sprintf("row %d: got %v, want %v", i, y, x)
		}
	}
	return "validity or other difference"
}
