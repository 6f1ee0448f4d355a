package codec_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/wasmdest/wasmdest/abi"
	codeccap "github.com/wasmdest/wasmdest/host/capability/codec"
	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/codec"
	"github.com/wasmdest/wasmdest/internal/filespec"
)

func schemaBytes(t *testing.T, s *arrow.Schema) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeProjects: Decode, codec_decode's work, reads a file the encoder wrote in
// every format and returns its rows as the wanted schema, a column the file
// lacks as nulls.
func TestDecodeProjects(t *testing.T) {
	schema := conformance.TableSchema("test_table", false, conformance.TestTableFields()...)
	rec := conformance.Rows(schema, 0, 20, conformance.RowOptions{})
	defer rec.Release()
	extra := arrow.Field{Name: "added_later", Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	wanted := arrow.NewSchema(append(schema.Fields(), extra), nil)
	for _, f := range filespec.Formats {
		for _, c := range []filespec.Compression{filespec.None, filespec.Zstd} {
			t.Run(string(f)+"/"+string(c), func(t *testing.T) {
				spec, err := filespec.ParseFormat(f, nil, c)
				if err != nil {
					t.Fatal(err)
				}
				var file bytes.Buffer
				w, err := codec.NewWriter(&file, schema, &spec, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				out, err := codeccap.Decode(context.Background(), abi.CodecDecodeRequest{
					CodecFormat: abi.CodecFormat{Format: string(f), Compression: string(c)},
					FileSchema:  schemaBytes(t, schema), Schema: schemaBytes(t, wanted),
				}, file.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				r, err := ipc.NewReader(bytes.NewReader(out), ipc.WithAllocator(memory.DefaultAllocator))
				if err != nil {
					t.Fatal(err)
				}
				defer r.Release()
				var rows int64
				for r.Next() {
					got := r.RecordBatch()
					if !got.Schema().Equal(wanted) {
						t.Fatalf("schema %s, want %s", got.Schema(), wanted)
					}
					col := got.Column(got.Schema().NumFields() - 1)
					if col.NullN() != col.Len() {
						t.Errorf("added_later has %d non-null values, want all null", col.Len()-col.NullN())
					}
					rows += got.NumRows()
				}
				if err := r.Err(); err != nil {
					t.Fatal(err)
				}
				if rows != rec.NumRows() {
					t.Errorf("decoded %d rows, want %d", rows, rec.NumRows())
				}
			})
		}
	}
}

// TestDecodeRefusesBadRequests: a bad format or schema is an error naming it.
func TestDecodeRefusesBadRequests(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, c := range []struct {
		name string
		req  abi.CodecDecodeRequest
		want string
	}{
		{"format", abi.CodecDecodeRequest{CodecFormat: abi.CodecFormat{Format: "xml"}, FileSchema: schemaBytes(t, schema)}, `format "xml" is not supported`},
		{"schema", abi.CodecDecodeRequest{CodecFormat: abi.CodecFormat{Format: "json"}, FileSchema: []byte("nope")}, "file_schema"},
		{"data", abi.CodecDecodeRequest{CodecFormat: abi.CodecFormat{Format: "parquet"}, FileSchema: schemaBytes(t, schema)}, "parquet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := codeccap.Decode(context.Background(), c.req, []byte("not a file"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
