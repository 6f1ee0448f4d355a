package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wasmdest/wasmdest/internal/testenv"
)

// s3Spec is the S3 guest's spec for bucket on srv, with the host's http
// block (the keys go there: the guest never sees them) and extra keys.
func s3Spec(t *testing.T, srv testenv.S3Server, bucket string, extra map[string]any) string {
	t.Helper()
	spec := map[string]any{
		"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint, "use_path_style": true,
		"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}",
		"http": map[string]any{"allow_private": true, "auth": map[string]any{
			"type": "aws_sigv4", "access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey}},
	}
	for k, v := range extra {
		spec[k] = v
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// getObject reads an object with the AWS SDK.
func getObject(t *testing.T, srv testenv.S3Server, bucket, key string) []byte {
	t.Helper()
	out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunS3WritesDatasetInEveryFormat runs `wasmdest run --guest s3.wasm` on
// the two-table demo dataset into a versitygw bucket in every format (and
// gzip'd JSON Lines), and reads each object back with the AWS SDK and
// arrow-go's Parquet reader, encoding/csv and encoding/json.
func TestRunS3WritesDatasetInEveryFormat(t *testing.T) {
	inputs := demoInputs(t, 500)
	want := demoTables(t)
	for _, tc := range []struct{ format, compression, ext string }{
		{"parquet", "", "parquet"}, {"csv", "", "csv"}, {"json", "", "json"}, {"json", "gzip", "json.gz"},
	} {
		t.Run(tc.format+tc.compression, func(t *testing.T) {
			srv, bucket := testenv.S3Bucket(t)
			spec := s3Spec(t, srv, bucket, map[string]any{"format": tc.format, "compression": tc.compression})
			code, stdout, stderr := wasmdest(t, append([]string{"run", "--guest", testenv.BuildGuest(t, "guests/s3"), "--spec", spec}, inputs...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "done: 2500 rows") {
				t.Errorf("summary does not count 2500 rows:\n%s", stdout)
			}
			if strings.Contains(stdout+stderr, srv.SecretKey) {
				t.Errorf("the secret key shows in the output")
			}
			for table, rec := range want {
				objs := testenv.S3Objects(t, srv, bucket, table+"/")
				if len(objs) != 1 || !strings.HasSuffix(aws.ToString(objs[0].Key), "."+tc.ext) {
					t.Fatalf("%s: objects %v, want one *.%s", table, objs, tc.ext)
				}
				data := getObject(t, srv, bucket, aws.ToString(objs[0].Key))
				if tc.compression == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(data))
					if err != nil {
						t.Fatalf("%s: not gzip: %v", table, err)
					}
					if data, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				}
				checkObject(t, tc.format, table, data, rec)
			}
		})
	}
}

// checkObject checks that data, an object of format, holds the rows of
// rec: every value for Parquet, every row and column for CSV and JSON.
func checkObject(t *testing.T, format, table string, data []byte, rec arrow.RecordBatch) {
	t.Helper()
	switch format {
	case "parquet":
		got, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		defer got.Release()
		if got.NumRows() != rec.NumRows() {
			t.Fatalf("%s: %d rows, want %d", table, got.NumRows(), rec.NumRows())
		}
		for i, f := range rec.Schema().Fields() {
			idx := got.Schema().FieldIndices(f.Name)
			if len(idx) != 1 {
				t.Errorf("%s: column %s missing", table, f.Name)
				continue
			}
			col, err := array.Concatenate(got.Column(idx[0]).Data().Chunks(), memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := storage(col), storage(rec.Column(i)); arrow.TypeEqual(g.DataType(), w.DataType()) && !array.Equal(g, w) {
				t.Errorf("%s.%s: values differ", table, f.Name)
			}
			col.Release()
		}
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if int64(len(rows)) != rec.NumRows()+1 {
			t.Fatalf("%s: %d lines, want a header and %d rows", table, len(rows), rec.NumRows())
		}
		for _, f := range rec.Schema().Fields() {
			if !slices.Contains(rows[0], f.Name) {
				t.Errorf("%s: header %v lacks %s", table, rows[0], f.Name)
			}
		}
	case "json":
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		n := int64(0)
		for sc.Scan() {
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: line %d: %v", table, n+1, err)
			}
			for _, f := range rec.Schema().Fields() {
				if _, ok := row[f.Name]; !ok {
					t.Fatalf("%s: line %d lacks %s", table, n+1, f.Name)
				}
			}
			n++
		}
		if n != rec.NumRows() {
			t.Fatalf("%s: %d rows, want %d", table, n, rec.NumRows())
		}
	}
}

// bigInput writes a table "big" of rows rows (about 120 bytes each as CSV)
// as an Arrow IPC file, in batches of 10000.
func bigInput(t *testing.T, rows int) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "payload", Type: arrow.BinaryTypes.String}}, nil)
	p := filepath.Join(t.TempDir(), "big.arrows")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := ipc.NewWriter(f, ipc.WithSchema(schema))
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row %09d %s", i, strings.Repeat("abcdefghij", 10)))
		if (i+1)%10000 == 0 || i == rows-1 {
			rec := b.NewRecordBatch()
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunS3MultipartUpload writes one object of about 15 MiB with
// no_rotate and 5 MiB parts: it goes up as a multipart upload (its ETag
// says how many parts), holds every row, and leaves no pending upload.
func TestRunS3MultipartUpload(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	const rows = 120000
	spec := s3Spec(t, srv, bucket, map[string]any{"format": "csv", "no_rotate": true, "path": "{{TABLE}}/{{SYNC_ID}}.{{FORMAT}}", "part_size": 5 << 20})
	code, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/s3"), "--spec", spec, bigInput(t, rows))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	objs := testenv.S3Objects(t, srv, bucket, "big/")
	if len(objs) != 1 {
		t.Fatalf("objects %v, want one", objs)
	}
	if size := aws.ToInt64(objs[0].Size); size <= 2*(5<<20) {
		t.Fatalf("the object is %d bytes: too small to need three parts", size)
	}
	if etag := aws.ToString(objs[0].ETag); !strings.Contains(etag, "-") {
		t.Errorf("ETag %s is not a multipart upload's (md5-N)", etag)
	}
	data := getObject(t, srv, bucket, aws.ToString(objs[0].Key))
	lines, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	id := slices.Index(lines[0], "id")
	if id < 0 {
		t.Fatalf("header %v has no id", lines[0])
	}
	if len(lines) != rows+1 || lines[rows][id] != fmt.Sprint(rows-1) {
		t.Fatalf("%d lines (last %v), want a header and %d rows ending with id %d", len(lines), lines[len(lines)-1], rows, rows-1)
	}
	if ups := testenv.S3PendingUploads(t, srv, bucket); len(ups) != 0 {
		t.Errorf("pending uploads left: %v", ups)
	}
}

// TestRunS3FailedUploadLeavesNothing: the object's name exists already
// (the path has no {{UUID}}), so completing its multipart upload fails
// (If-None-Match): the run fails naming the fix, the upload is aborted (no
// pending upload), and the object that was there is unchanged.
func TestRunS3FailedUploadLeavesNothing(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	old := []byte("the object that was there\n")
	if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big.csv"), Body: bytes.NewReader(old)}); err != nil {
		t.Fatal(err)
	}
	spec := s3Spec(t, srv, bucket, map[string]any{"format": "csv", "no_rotate": true, "path": "{{TABLE}}.{{FORMAT}}", "part_size": 5 << 20})
	// About 10 MB of CSV: two parts of 5 MiB are sent before the completion fails.
	code, stdout, stderr := wasmdest(t, "run", "--log-level", "debug", "--guest", testenv.BuildGuest(t, "guests/s3"), "--spec", spec, bigInput(t, 60000))
	if code == 0 {
		t.Fatalf("the run replaced an existing object:\n%s\n%s", stdout, stderr)
	}
	if !strings.Contains(stderr, "multipart upload started") || !strings.Contains(stderr, "multipart upload aborted") {
		t.Errorf("the guest did not start and abort a multipart upload:\n%s", stderr)
	}
	if !strings.Contains(stderr, "exists already") || !strings.Contains(stderr, "{{SYNC_ID}}") {
		t.Errorf("the error does not say the object exists and how to avoid it:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, srv.SecretKey) {
		t.Errorf("the secret key shows in the output")
	}
	if ups := testenv.S3PendingUploads(t, srv, bucket); len(ups) != 0 {
		t.Errorf("the failed upload was not aborted: %d pending", len(ups))
	}
	if got := getObject(t, srv, bucket, "big.csv"); !bytes.Equal(got, old) {
		t.Errorf("the existing object changed: %d bytes", len(got))
	}
	if objs := testenv.S3Objects(t, srv, bucket, ""); len(objs) != 1 {
		t.Errorf("objects %v, want only the one that was there", objs)
	}
}

// TestRunS3SpecErrors: a spec the S3 guest cannot use fails the run with an
// error naming the key and the fix, before anything is written.
func TestRunS3SpecErrors(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	in := bigInput(t, 10)
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  string
	}{
		// The host checks the spec's JSON Schema first; the guest's own
		// checks (ParseSpec) say the same for hosts that do not.
		{"no bucket", map[string]any{"bucket": ""}, "spec.bucket"},
		{"bad bucket", map[string]any{"bucket": "Not_A_Bucket"}, "spec.bucket"},
		{"small parts", map[string]any{"part_size": 1 << 20}, "spec.part_size"},
		{"no uuid", map[string]any{"path": "{{TABLE}}.{{FORMAT}}"}, "has no {{UUID}}"},
		{"unknown key", map[string]any{"colour": "blue"}, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := s3Spec(t, srv, bucket, tc.extra)
			code, stdout, stderr := wasmdest(t, "run", "--guest", testenv.BuildGuest(t, "guests/s3"), "--spec", spec, in)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want an error saying %q:\n%s\n%s", code, tc.want, stdout, stderr)
			}
		})
	}
	if objs := testenv.S3Objects(t, srv, bucket, ""); len(objs) != 0 {
		t.Errorf("refused specs wrote %v", objs)
	}
}
