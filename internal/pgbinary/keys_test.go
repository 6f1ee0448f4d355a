package pgbinary

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// keyRecord is a record of a composite key (a text, a bigint) and a value.
func keyRecord(t *testing.T, names []string, nums []int64) (arrow.RecordBatch, []*Type) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "num", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i := range names {
		b.Field(0).(*array.StringBuilder).Append(names[i])
		b.Field(1).(*array.Float64Builder).Append(float64(i))
		b.Field(2).(*array.Int64Builder).Append(nums[i])
	}
	var types []*Type
	for _, f := range s.Fields() {
		ty, err := TypeOf(f)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ty)
	}
	return b.NewRecordBatch(), types
}

func TestEncoderDuplicates(t *testing.T) {
	cases := []struct {
		name  string
		recs  [][]string // names, one slice per record
		nums  [][]int64
		pk    []int
		dup   bool
		ordin bool
	}{
		{"distinct keys", [][]string{{"a", "b", "c"}}, [][]int64{{1, 1, 1}}, []int{0, 2}, false, true},
		{"same name, other num", [][]string{{"a", "a"}}, [][]int64{{1, 2}}, []int{0, 2}, false, true},
		{"same key in one record", [][]string{{"a", "b", "a"}}, [][]int64{{1, 1, 1}}, []int{0, 2}, true, true},
		{"same key across records", [][]string{{"a", "b"}, {"c", "b"}}, [][]int64{{1, 2}, {3, 2}}, []int{0, 2}, true, true},
		// "ab"+"c" and "a"+"bc" must not look alike: the length prefixes
		// are part of what is compared.
		{"concatenation", [][]string{{"ab", "a"}}, [][]int64{{7, 7}}, []int{0}, false, true},
		{"float key: equal values may differ in bytes", [][]string{{"a", "b"}}, [][]int64{{1, 2}}, []int{1}, true, true},
		{"no ordinal: looked at all the same", [][]string{{"a", "a"}}, [][]int64{{1, 1}}, []int{0, 2}, true, false},
		{"no key: not looked at", [][]string{{"a", "a"}}, [][]int64{{1, 1}}, nil, false, true},
	}
	for _, c := range cases {
		var enc *Encoder
		var dst []byte
		for r := range c.recs {
			rec, types := keyRecord(t, c.recs[r], c.nums[r])
			if enc == nil {
				var fields []arrow.Field
				fields = append(fields, rec.Schema().Fields()...)
				enc = NewEncoder(fields, types, c.pk, c.ordin)
			}
			var err error
			if dst, err = enc.Encode(rec, dst, 1<<20, nil); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
		if enc.Duplicates() != c.dup {
			t.Errorf("%s: Duplicates() = %v, want %v", c.name, enc.Duplicates(), c.dup)
		}
	}
}
