package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// s3Scenarios: the S3 guest writing Parquet objects (one per batch of
// 10,000 rows, its defaults) to the harness's versitygw, against the AWS
// SDK's upload manager uploading the same records encoded natively by
// arrow-go's pqarrow, one object each, to the same server.
func (b *bench) s3Scenarios() error {
	const name = "s3, parquet"
	step(name)
	guest, err := testenv.Build("guests/s3")
	if err != nil {
		return err
	}
	if err := b.compile(guest); err != nil {
		return err
	}
	srv, err := testenv.S3Endpoint()
	if err != nil {
		return err
	}
	c := srv.Client()
	bucket := fmt.Sprintf("wasmbench-%d", os.Getpid())
	if _, err := c.CreateBucket(b.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	defer testenv.EmptyS3Bucket(srv, bucket, true)
	objects := func() string {
		n, size := 0, int64(0)
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(b.ctx)
			if err != nil {
				return err.Error()
			}
			for _, o := range page.Contents {
				n++
				size += aws.ToInt64(o.Size)
			}
		}
		return fmt.Sprintf("%d objects, %.0f MB", n, float64(size)/1e6)
	}
	spec := map[string]any{
		"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint, "use_path_style": true,
		"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": "parquet",
		"http": map[string]any{"allow_private": true, "auth": map[string]any{
			"type": "aws_sigv4", "access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey}},
	}
	const native = "AWS SDK upload manager + pqarrow"
	sc := &scenario{Name: name, Group: "s3"}
	rs, err := b.rounds(
		method{func() (result, error) {
			testenv.EmptyS3Bucket(srv, bucket, false)
			const label = "wasmdest s3 guest"
			fmt.Fprintf(os.Stderr, "  %-40s", label)
			j := job{Guest: guest, CacheDir: b.cacheDir, WriteMode: abi.WriteModeAppend, Spec: spec,
				Writers: 1, SyncTime: b.opts.t1, SourceName: b.opts.source, InputFile: b.ds.file}
			res, err := runJob(j)
			if err != nil {
				return result{}, err
			}
			r := result{Method: label, Wasmdest: true, Rows: int(res.Rows), Seconds: res.Seconds, HostCPU: res.CPUSeconds,
				PeakRSS: res.PeakRSS, GuestMemory: res.GuestMemory, Instances: res.Instances, Writers: 1}
			r.fill(b.ds.bytes)
			r.Note = objects()
			fmt.Fprintln(os.Stderr, r.line())
			return r, nil
		}},
		method{func() (result, error) {
			testenv.EmptyS3Bucket(srv, bucket, false)
			fmt.Fprintf(os.Stderr, "  %-40s", native)
			m, err := timeIt(0, func() error { return b.uploadNative(c, bucket) })
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", native, err)
			}
			n := result{Method: native, Rows: b.rows, Seconds: m.seconds, HostCPU: m.cpu}
			n.fill(b.ds.bytes)
			n.Note = objects()
			fmt.Fprintln(os.Stderr, n.line())
			return n, nil
		}})
	if err != nil {
		return err
	}
	sc.add(rs...)
	sc.target(native, 0.5, "S3 Parquet objects through the guest at >= 0.5x the AWS SDK's upload manager")
	b.rep.add(sc)
	return nil
}

// uploadNative encodes each record of the dataset (as the host sends it to
// guests) as a Parquet object with arrow-go and uploads it with the upload
// manager (multipart above its 5 MiB part size, parts in parallel).
func (b *bench) uploadNative(c *s3.Client, bucket string) error {
	up := manager.NewUploader(c)
	var buf bytes.Buffer
	for _, rec := range b.ds.wanted {
		buf.Reset()
		if err := writeOne(&buf, "parquet", rec); err != nil {
			return err
		}
		key := table + "/" + uuid.NewString() + ".parquet"
		if _, err := up.Upload(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("application/vnd.apache.parquet")}); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
	}
	return nil
}
