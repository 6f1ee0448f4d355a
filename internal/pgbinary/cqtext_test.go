package pgbinary

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestParseCQDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		unit arrow.TimeUnit
		want arrow.Duration
		err  string
	}{
		{"1500ms", arrow.Millisecond, 1500, ""},
		{"-3s", arrow.Millisecond, -3000, ""},
		{"2000us", arrow.Millisecond, 2, ""},
		{"2001us", arrow.Millisecond, 0, "not a whole number"},
		{"7", arrow.Second, 7, ""},
		{"9223372036854775807s", arrow.Nanosecond, 0, "overflows"},
		{"1h", arrow.Second, 0, "want a duration"},
		{"ms", arrow.Second, 0, "want a duration"},
	} {
		got, err := parseCQDuration(c.in, c.unit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q in %s: %d, %v; want %d", c.in, c.unit, got, err, c.want)
		}
	}
}

// TestCloudQueryTextRoundTrip: the CloudQuery text of a struct of the
// types whose forms differ from the rich JSON (decimal strings, duration
// strings, month intervals as objects, timestamps outside years 0-9999 as
// digit strings, non-finite floats) is arrow-go's ValueStr where that
// exists, and reads back to the same values.
func TestCloudQueryTextRoundTrip(t *testing.T) {
	st := arrow.StructOf(
		arrow.Field{Name: "d", Type: &arrow.Decimal128Type{Precision: 19, Scale: 10}, Nullable: true},
		arrow.Field{Name: "dur", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
		arrow.Field{Name: "m", Type: arrow.FixedWidthTypes.MonthInterval, Nullable: true},
		arrow.Field{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_s, Nullable: true},
		arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		arrow.Field{Name: "ny", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "America/New_York"}, Nullable: true},
	)
	sch := arrow.NewSchema([]arrow.Field{{Name: "s", Type: st, Nullable: true}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sch, strings.NewReader(
		`[{"s": {"d": "-739461.0000538492", "dur": 1500, "m": {"months": 14}, "ts": 300000000000, "f": 1.5, "ny": -62135596800000000}},
		  {"s": {"d": "0.00001", "dur": null, "m": null, "ts": 0, "f": null, "ny": 1700000000123456}},
		  {"s": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	typ, err := TypeWith(sch.Field(0), MappingCloudQuery)
	if err != nil {
		t.Fatal(err)
	}
	if !typ.AsText || typ.PG != "text" {
		t.Fatalf("struct under cloudquery: %+v", typ)
	}
	enc, err := encoderFor(typ, rec.Column(0))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewStructBuilder(memory.DefaultAllocator, st)
	defer b.Release()
	dec, err := decoderFor(typ, b)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		text, err := enc(nil, i)
		if err != nil {
			t.Fatal(err)
		}
		if want := rec.Column(0).ValueStr(i); string(text) != want {
			t.Errorf("row %d: %s, ValueStr %s", i, text, want)
		}
		if err := dec(text); err != nil {
			t.Fatalf("row %d: %s: %v", i, text, err)
		}
	}
	got := b.NewStructArray()
	defer got.Release()
	for i := 0; i < 2; i++ {
		if got.ValueStr(i) != rec.Column(0).ValueStr(i) {
			t.Errorf("row %d read back %s, wrote %s", i, got.ValueStr(i), rec.Column(0).ValueStr(i))
		}
	}
	if !strings.Contains(rec.Column(0).ValueStr(1), `"1e-05"`) {
		t.Errorf("a small decimal's text %s: want big.Float's 'g' form", rec.Column(0).ValueStr(1))
	}
}
