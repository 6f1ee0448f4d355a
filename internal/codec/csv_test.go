package codec_test

import (
	"bytes"
	"github.com/wasmdest/wasmdest/internal/codec"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/wasmdest/wasmdest/host/conformance"
)

// TestCSVListsAsArrow: the guest's list cells are byte for byte what
// arrow/csv writes for them (with the guest's converter for the element
// types arrow/csv has no text for).
func TestCSVListsAsArrow(t *testing.T) {
	schema := testTable()
	rec := conformance.Rows(schema, 0, 60, conformance.RowOptions{Nanoseconds: true})
	var ours, theirs bytes.Buffer
	if err := codec.NewCSVWriter(&ours, schema, codec.CSVSpec{Delimiter: ","}).Write(rec); err != nil {
		t.Fatal(err)
	}
	plain := csv.NewWriter(&theirs, schema, csv.WithHeader(true), csv.WithCRLF(true), csv.WithNullWriter(""),
		csv.WithCustomTypeConverter(func(dt arrow.DataType, col arrow.Array) ([]string, bool) {
			if codec.IsList(dt) {
				return nil, false // arrow/csv's own list path
			}
			return codec.CSVCells(dt, col)
		}))
	if err := plain.Write(rec); err != nil {
		t.Fatal(err)
	}
	if ours.String() != theirs.String() {
		o, p := strings.Split(ours.String(), "\r\n"), strings.Split(theirs.String(), "\r\n")
		for i := range o {
			if i < len(p) && o[i] != p[i] {
				t.Errorf("line %d:\nours   %.300q\narrow  %.300q", i, o[i], p[i])
				break
			}
		}
		t.Fatal("the guest's CSV differs from arrow/csv's")
	}
}
