package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
)

// batchRecords builds records (i int32, s utf8) of the given values, one
// record per slice.
func batchRecords(t *testing.T, vals ...[]int32) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	var recs []arrow.RecordBatch
	for _, vs := range vals {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		for _, v := range vs {
			b.Field(0).(*array.Int32Builder).Append(v)
			if v%7 == 0 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("batch %d", v))
			}
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	return s, recs
}

func batchScenario(p *host.Pool, name string, s *arrow.Schema, recs []arrow.RecordBatch) error {
	return p.Call(context.Background(), nil, abi.OpWrite, abi.TableRequest{Table: name}, host.RecordBody(s, recs...), nil)
}

// TestCopyBatch: pg_copy_from with batch encodes the running write's
// records on the host: every row arrives, NULLs too, over more than one
// record; the host's duplicate key report matches the data.
func TestCopyBatch(t *testing.T) {
	p, db := probePool(t)
	var many []int32
	for i := int32(0); i < 50000; i++ {
		many = append(many, 500000+i)
	}
	s, recs := batchRecords(t, many, []int32{1, 2, 3})
	if err := batchScenario(p, "copy-batch", s, recs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "i >= 500000 AND s = 'batch ' || i"); n != 50000-50000/7-1 {
		t.Fatalf("%d rows with their text, want %d", n, 50000-50000/7-1)
	}
	if n := count(t, db, "i >= 500000 AND s IS NULL"); n != 50000/7+1 {
		t.Fatalf("%d rows with NULL text, want %d", n, 50000/7+1)
	}
	if n := count(t, db, "i BETWEEN 1 AND 3"); n != 3 {
		t.Fatalf("%d rows of the second record, want 3", n)
	}
	// A key twice, across records: the guest checks the host's report.
	s, recs = batchRecords(t, []int32{10, 11}, []int32{12, 11})
	if err := batchScenario(p, "copy-batch", s, recs); err != nil {
		t.Fatal(err)
	}
}

// TestCopyBatchReordered: the COPY's columns are picked from the records'
// in another order, and the ordinal numbers the rows from 0.
func TestCopyBatchReordered(t *testing.T) {
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{22, 23}, []int32{24})
	if err := batchScenario(p, "copy-batch-reordered", s, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(context.Background(), "SELECT s, i, n FROM c2 ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		var i int32
		var n int64
		if err := rows.Scan(&s, &i, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d/%d", s, i, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "batch 22/22/0 batch 23/23/1 batch 24/24/2"; strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}

// TestCopyBatchRefusals: a type the host cannot encode a column as is a bad
// request naming the column; a value it cannot encode (invalid UTF-8 as
// text) is an error naming the column and the row, and nothing of the
// batch is stored.
func TestCopyBatchRefusals(t *testing.T) {
	p, db := probePool(t)
	s, recs := batchRecords(t, []int32{31})
	err := batchScenario(p, "copy-batch-bad-type", s, recs)
	for _, w := range []string{"bad request", `column \"s\"`, `\"jsonb\"`, "text"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %s", err, w)
		}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	for i, v := range []string{"fine", "bad \xff utf-8"} {
		b.Field(0).(*array.Int32Builder).Append(int32(400000 + i))
		b.Field(1).(*array.StringBuilder).Append(v)
	}
	bad := b.NewRecordBatch()
	b.Release()
	err = batchScenario(p, "copy-batch", s, []arrow.RecordBatch{bad})
	for _, w := range []string{`column \"s\", row 2 of the batch`, "i=\\\"400001\\\"", "UTF-8", "column=s"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %s", err, w)
		}
	}
	if n := count(t, db, "i >= 400000 AND i < 500000"); n != 0 {
		t.Fatalf("%d rows of the refused batch are stored", n)
	}
	// The instance and its connections are usable again.
	if err := scenario(p, "copy"); err != nil {
		t.Fatal(err)
	}
	if st := db.Stat(); st.AcquiredConns() != 0 {
		t.Fatalf("%d pool connections still acquired", st.AcquiredConns())
	}
}
