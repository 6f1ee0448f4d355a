package testenv

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestS3BucketPutGet(t *testing.T) {
	srv, a := S3Bucket(t)
	_, b := S3Bucket(t)
	if a == b {
		t.Fatalf("two calls gave the same bucket %q", a)
	}
	ctx := context.Background()
	c := srv.Client()
	body := []byte("hello, versitygw\n")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a), Key: aws.String("dir/hello.txt"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a), Key: aws.String("dir/hello.txt")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get returned %q (%v), want %q", got, err, body)
	}
	if objs := S3Objects(t, srv, a, "dir/"); len(objs) != 1 || aws.ToString(objs[0].Key) != "dir/hello.txt" || aws.ToInt64(objs[0].Size) != int64(len(body)) {
		t.Fatalf("listing of %s: %+v, want dir/hello.txt of %d bytes", a, objs, len(body))
	}
	if objs := S3Objects(t, srv, b, ""); len(objs) != 0 {
		t.Fatalf("the fresh bucket %s holds %d objects", b, len(objs))
	}

	// A multipart upload that is aborted leaves neither an object nor a
	// pending upload: the behaviour the S3 guest's atomicity rests on.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("big")})
	if err != nil {
		t.Fatalf("create multipart upload: %v", err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader(strings.Repeat("x", 1024))}); err != nil {
		t.Fatalf("upload part: %v", err)
	}
	if n := len(S3PendingUploads(t, srv, b)); n != 1 {
		t.Fatalf("%d pending uploads after one was started, want 1", n)
	}
	if objs := S3Objects(t, srv, b, ""); len(objs) != 0 {
		t.Fatalf("a pending upload is visible as %+v", objs)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("big"), UploadId: up.UploadId}); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if n := len(S3PendingUploads(t, srv, b)); n != 0 {
		t.Fatalf("%d pending uploads after abort, want 0", n)
	}
}
