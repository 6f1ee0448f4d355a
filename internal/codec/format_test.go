package codec_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/wasmdest/wasmdest/internal/codec"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/host/conformance"
)

// specs returns one spec per format, compression and Parquet version.
func specs(t testing.TB) map[string]codec.Spec {
	out := map[string]codec.Spec{}
	add := func(name, raw string) {
		s, err := codec.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	for _, c := range []codec.Compression{codec.None, codec.Gzip, codec.Zstd} {
		for _, f := range filespec.Formats {
			add(fmt.Sprintf("%s/%s", f, c), fmt.Sprintf(`{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":%q,"compression":%q}`, f, c))
		}
	}
	for _, v := range []string{"v1.0", "v2.4", "v2.6", "v2Latest"} {
		add("parquet/"+v, fmt.Sprintf(`{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"parquet","format_spec":{"version":%q,"root_repetition":"required","max_row_group_length":7}}`, v))
	}
	add("csv/semicolon-noheader", `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"csv","format_spec":{"delimiter":";","skip_header":true}}`)
	add("csv/tab", `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"csv","format_spec":{"delimiter":"\t"}}`)
	return out
}

// TestRoundTrip writes the test table in every format and reads it back
// through codec.Read: every type returns exactly.
func TestRoundTrip(t *testing.T) {
	schema := testTable()
	recs := []arrow.RecordBatch{conformance.Rows(schema, 0, 25, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(schema, 25, 11, conformance.RowOptions{Nanoseconds: true})}
	for name, s := range specs(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := codec.NewWriter(&buf, schema, &s, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var got []arrow.RecordBatch
			err = codec.Read(context.Background(), bytes.NewReader(buf.Bytes()), bytes.NewReader(buf.Bytes()), int64(buf.Len()), schema, &s, func(r arrow.RecordBatch) error {
				r.Retain()
				got = append(got, r)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			compareTables(t, schema, recs, got, name)
		})
	}
}

// compareTables reports each column whose values differ.
func compareTables(t *testing.T, schema *arrow.Schema, want, got []arrow.RecordBatch, name string) {
	t.Helper()
	wt := array.NewTableFromRecords(schema, want)
	defer wt.Release()
	gt := array.NewTableFromRecords(schema, got)
	defer gt.Release()
	if wt.NumRows() != gt.NumRows() {
		t.Fatalf("%s: read %d rows, wrote %d", name, gt.NumRows(), wt.NumRows())
	}
	for j := 0; j < int(wt.NumCols()); j++ {
		wc, gc := wt.Column(j).Data(), gt.Column(j).Data()
		if !array.ChunkedEqual(wc, gc) {
			w := array.NewTableReader(wt, -1)
			g := array.NewTableReader(gt, -1)
			w.Next()
			g.Next()
			t.Errorf("%s: column %s (%s) differs:\nwant %v\ngot  %v", name, schema.Field(j).Name, schema.Field(j).Type,
				trim(w.RecordBatch().Column(j)), trim(g.RecordBatch().Column(j)))
			w.Release()
			g.Release()
		}
	}
}

func trim(a arrow.Array) string {
	s := fmt.Sprint(a)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}

// testTable is the reference test table (host/conformance): every type the
// file guest writes, a struct of them and a list of each.
func testTable() *arrow.Schema {
	return conformance.TableSchema("test_table", false, conformance.TestTableFields()...)
}
