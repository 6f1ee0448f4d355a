//go:build !wasip1

package pgbinary

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// These tests run the codec natively against a real server with pgx, the
// way the guest uses it through the host.

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "SET timezone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// roundTrip creates table t for s, COPYs rec into it with the encoder, and
// reads it back with the decoder.
func roundTrip(t testing.TB, conn *pgx.Conn, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	t.Helper()
	ctx := context.Background()
	s := rec.Schema()
	var defs, names []string
	var types []*Type
	for _, f := range s.Fields() {
		ty, err := TypeOf(f)
		if err != nil {
			t.Fatal(err)
		}
		name := `"` + strings.ReplaceAll(f.Name, `"`, `""`) + `"`
		defs, names = append(defs, name+" "+ty.PG), append(names, name)
		types = append(types, ty)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS rt; CREATE TABLE rt ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	enc := NewEncoder(s.Fields(), types, nil, false)
	data := enc.Header(nil)
	data, err := enc.Encode(rec, data, 1<<30, nil)
	if err != nil {
		return nil, err
	}
	data = enc.Trailer(data)
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(data), "COPY rt ("+strings.Join(names, ", ")+") FROM STDIN (FORMAT binary)"); err != nil {
		t.Fatalf("COPY of the encoded rows: %v", err)
	}
	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY (SELECT * FROM rt) TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder("rt", StorageSchema(s), types)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	var got arrow.RecordBatch
	if err := dec.Decode(out.Bytes(), 1<<30, func(r arrow.RecordBatch) error { got = r; return nil }); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got == nil {
		got = array.NewRecordBatch(s, nil, 0)
	}
	return got, nil
}

// TestValuesAsPostgreSQLSeesThem checks what the server makes of encoded
// values, in its own text form.
func TestValuesAsPostgreSQLSeesThem(t *testing.T) {
	conn := connect(t)
	tsType := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "Asia/Tokyo"}
	s := arrow.NewSchema([]arrow.Field{
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 38, Scale: 9}, Nullable: true},
		{Name: "ts", Type: tsType, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "tm", Type: arrow.FixedWidthTypes.Time64ns, Nullable: true},
		{Name: "dur", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
		{Name: "mdn", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int16), Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, arrow.Field{Name: "y", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	b.Field(0).(*array.Uint64Builder).Append(math.MaxUint64)
	v, _ := new(big.Int).SetString("-12345678901234567890123456789012345678", 10)
	b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromBigInt(v))
	b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000123456789))
	b.Field(3).(*array.Date32Builder).Append(-719162) // 0001-01-01
	b.Field(4).(*array.Time64Builder).Append(arrow.Time64(86399999999999))
	b.Field(5).(*array.DurationBuilder).Append(arrow.Duration(-90061001))
	b.Field(6).(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: 14, Days: -3, Nanoseconds: 3723000004000})
	lb := b.Field(7).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int16Builder).Append(-1)
	lb.ValueBuilder().AppendNull()
	sb := b.Field(8).(*array.StructBuilder)
	sb.Append(true)
	sb.FieldBuilder(0).(*array.Float64Builder).Append(math.Inf(-1))
	sb.FieldBuilder(1).(*array.TimestampBuilder).Append(arrow.Timestamp(951782400))
	rec := b.NewRecordBatch()
	if _, err := roundTrip(t, conn, rec); err != nil {
		t.Fatal(err)
	}
	var got []string
	row := conn.QueryRow(context.Background(), `SELECT u64::text, dec::text, ts::text, d::text, tm::text, dur::text, mdn::text, l::text, st::text FROM rt`)
	ptrs := make([]any, 9)
	vals := make([]string, 9)
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	got = vals
	want := []string{
		"18446744073709551615",
		"-12345678901234567890123456789.012345678",
		"2023-11-14 22:13:20.123456", // UTC wall time, nanoseconds cut
		"0001-01-01",
		"23:59:59.999999",
		"-25:01:01.001", // a duration is a pure time interval
		"1 year 2 mons -3 days +01:02:03.000004",
		"{-1,NULL}",
		`{"x": "-Infinity", "y": "2000-02-29T00:00:00"}`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %s: PostgreSQL sees %q, want %q", s.Field(i).Name, got[i], want[i])
		}
	}
}

// TestOutOfRangeValuesAreErrors: values PostgreSQL cannot hold fail with
// the column and row, before anything reaches the server.
func TestOutOfRangeValuesAreErrors(t *testing.T) {
	cases := []struct {
		dt  arrow.DataType
		set func(array.Builder)
	}{
		{&arrow.TimestampType{Unit: arrow.Second}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(math.MaxInt64 / 2)) }},
		{arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).Append(math.MinInt32) }},
		{arrow.FixedWidthTypes.Time32s, func(b array.Builder) { b.(*array.Time32Builder).Append(86401) }},
		{arrow.FixedWidthTypes.Duration_s, func(b array.Builder) { b.(*array.DurationBuilder).Append(math.MaxInt64) }},
	}
	for _, c := range cases {
		s := arrow.NewSchema([]arrow.Field{{Name: "v", Type: c.dt, Nullable: true}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		b.Field(0).AppendNull()
		c.set(b.Field(0))
		ty, _ := TypeOf(s.Field(0))
		enc := NewEncoder(s.Fields(), []*Type{ty}, nil, false)
		_, err := enc.Encode(b.NewRecordBatch(), nil, 1<<20, nil)
		if err == nil || !strings.Contains(err.Error(), `column "v", row 2 of the batch`) || !strings.Contains(err.Error(), "range") {
			t.Errorf("%s: got %v, want a range error naming the row", c.dt, err)
		}
	}
}

// fuzzSource hands out the fuzz input as values, zeros when exhausted.
type fuzzSource struct{ b []byte }

func (s *fuzzSource) bytes(n int) []byte {
	out := make([]byte, n)
	k := copy(out, s.b)
	s.b = s.b[k:]
	return out
}
func (s *fuzzSource) u64() uint64 { return binary.LittleEndian.Uint64(s.bytes(8)) }
func (s *fuzzSource) byte() byte  { return s.bytes(1)[0] }

// FuzzCopyRoundTrip encodes random rows of numeric, text, float, time,
// array and jsonb columns, copies them through the server and decodes them:
// either the encoder refuses a value PostgreSQL cannot hold (invalid UTF-8),
// or every value comes back exactly.
func FuzzCopyRoundTrip(f *testing.F) {
	f.Add([]byte("seed: some bytes \xff of entropy 0123456789 abcdefghijklmnopqrstuvwxyz"))
	f.Add(bytes.Repeat([]byte{0xff}, 200))
	f.Add(make([]byte, 64))
	conn := connect(f)
	st := arrow.StructOf(
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		arrow.Field{Name: "d", Type: &arrow.Decimal128Type{Precision: 38, Scale: 5}, Nullable: true},
	)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d128", Type: &arrow.Decimal128Type{Precision: 38, Scale: 9}, Nullable: true},
		{Name: "d256", Type: &arrow.Decimal256Type{Precision: 76, Scale: 30}, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "txt", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "li", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "ls", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "st", Type: st, Nullable: true},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		src := &fuzzSource{b: in}
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		defer b.Release()
		text := func() string {
			r := src.bytes(int(src.byte() % 12))
			return strings.ReplaceAll(string(r), "\x00", "") // NUL is dropped by design
		}
		float := func() float64 {
			v := math.Float64frombits(src.u64())
			if v == 0 {
				return 0 // -0 is +0 in jsonb
			}
			return v
		}
		dec := func(maxDigits int) *big.Int {
			n := new(big.Int).SetUint64(src.u64())
			n.Mul(n, new(big.Int).SetUint64(src.u64()))
			n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(maxDigits)), nil))
			if src.byte()%2 == 1 {
				n.Neg(n)
			}
			return n
		}
		badUTF8 := false
		rows := int(src.byte()%5) + 1
		for r := 0; r < rows; r++ {
			null := src.byte()
			for c := range s.Fields() {
				if null&(1<<(c%8)) != 0 && c%3 == 0 {
					b.Field(c).AppendNull()
					continue
				}
				switch bb := b.Field(c).(type) {
				case *array.Uint64Builder:
					bb.Append(src.u64())
				case *array.Decimal128Builder:
					bb.Append(decimal128.FromBigInt(dec(38)))
				case *array.Decimal256Builder:
					bb.Append(decimal256.FromBigInt(dec(76)))
				case *array.Float64Builder:
					bb.Append(float())
				case *array.StringBuilder:
					v := text()
					badUTF8 = badUTF8 || !utf8.ValidString(v)
					bb.Append(v)
				case *array.TimestampBuilder:
					// Within PostgreSQL's range (years 4713 BC to 294276 AD).
					bb.Append(arrow.Timestamp(int64(src.u64()%(9000000000000000000)) - 210000000000000000))
				case *array.ListBuilder:
					bb.Append(true)
					for j := 0; j < int(src.byte()%4); j++ {
						switch vb := bb.ValueBuilder().(type) {
						case *array.Int32Builder:
							if src.byte()%3 == 0 {
								vb.AppendNull()
							} else {
								vb.Append(int32(src.u64()))
							}
						case *array.StringBuilder:
							v := text()
							badUTF8 = badUTF8 || !utf8.ValidString(v)
							vb.Append(v)
						}
					}
				case *array.StructBuilder:
					bb.Append(true)
					v := text()
					badUTF8 = badUTF8 || !utf8.ValidString(v)
					bb.FieldBuilder(0).(*array.StringBuilder).Append(v)
					bb.FieldBuilder(1).(*array.Float64Builder).Append(float())
					bb.FieldBuilder(2).(*array.Decimal128Builder).Append(decimal128.FromBigInt(dec(38)))
				case *array.MapBuilder:
					bb.Append(true)
					// jsonb orders keys shorter first: use keys of
					// growing length so they read back in order.
					for j := 0; j < int(src.byte()%3); j++ {
						bb.KeyBuilder().(*array.StringBuilder).Append(strings.Repeat("k", j+1))
						bb.ItemBuilder().(*array.Int64Builder).Append(int64(src.u64()))
					}
				}
			}
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		got, err := roundTrip(t, conn, rec)
		if err != nil {
			if !badUTF8 || !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("encode: %v", err)
			}
			return
		}
		if badUTF8 {
			t.Fatal("invalid UTF-8 was encoded")
		}
		defer got.Release()
		for c := range s.Fields() {
			if !array.ApproxEqual(rec.Column(c), got.Column(c), array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Fatalf("column %s: wrote %v, read %v", s.Field(c).Name, rec.Column(c), got.Column(c))
			}
		}
	})
}
