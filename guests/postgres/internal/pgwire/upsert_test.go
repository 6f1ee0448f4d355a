package pgwire

import (
	"strings"
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
		{"no ordinal: not looked at", [][]string{{"a", "a"}}, [][]int64{{1, 1}}, []int{0, 2}, false, false},
	}
	for _, c := range cases {
		var enc *Encoder
		var dst []byte
		for r := range c.recs {
			rec, types := keyRecord(t, c.recs[r], c.nums[r])
			if enc == nil {
				var fields []arrow.Field
				fields = append(fields, rec.Schema().Fields()...)
				enc = NewEncoder("t", fields, types, c.pk, c.ordin)
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

func TestUpsertStatement(t *testing.T) {
	ty, _ := TypeOf(arrow.Field{Name: "x", Type: arrow.BinaryTypes.String})
	cols := []Column{{Name: "id", Stored: "id", Type: ty, PK: true}, {Name: "v", Stored: "v", Type: ty}}
	plain := Upsert(`"public"."t"`, "stage", "ord", cols, false)
	want := "INSERT INTO \"public\".\"t\" (\"id\", \"v\")\nSELECT \"id\", \"v\" FROM pg_temp.\"stage\"\nON CONFLICT (\"id\") DO UPDATE SET \"v\" = excluded.\"v\""
	if plain != want {
		t.Errorf("without dedupe:\n%s\nwant\n%s", plain, want)
	}
	dedupe := Upsert(`"public"."t"`, "stage", "ord", cols, true)
	if !strings.Contains(dedupe, `SELECT DISTINCT ON ("id") "id", "v" FROM pg_temp."stage" ORDER BY "id", "ord" DESC`) {
		t.Errorf("with dedupe: %s", dedupe)
	}
	for _, s := range []string{plain, dedupe} {
		if strings.Contains(s, "SAVEPOINT") || strings.Count(s, "INSERT") != 1 {
			t.Errorf("not one INSERT ... ON CONFLICT: %s", s)
		}
	}
	keyOnly := Upsert(`"t"`, "stage", "ord", cols[:1], false)
	if !strings.HasSuffix(keyOnly, `ON CONFLICT ("id") DO NOTHING`) {
		t.Errorf("key only: %s", keyOnly)
	}
}
