package gueststore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Options configure a store in an S3 bucket (OpenLocation with an
// s3://BUCKET/PREFIX location). The zero value uses AWS itself with the
// default credential chain (environment, shared config, instance role).
type S3Options struct {
	// Endpoint is an S3-compatible server's origin, e.g.
	// "http://minio:9000"; "" for AWS.
	Endpoint string
	// Region is the bucket's region; "" takes the default chain's, or
	// us-east-1 with an Endpoint.
	Region string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/KEY rather than
	// BUCKET.ENDPOINT/KEY (most S3-compatible servers want it).
	PathStyle bool
	// AccessKey and SecretKey, when set, are used instead of the default
	// credential chain.
	AccessKey, SecretKey string
}

// s3OpTimeout bounds each request the store makes.
const s3OpTimeout = time.Minute

// s3Backend keeps the store in a bucket, below a prefix:
//
//	PREFIX/blobs/<hex>                 module bytes
//	PREFIX/refs/<tenant>/<name>.json   a reference
//
// A PUT is whole or absent by itself. Blobs are written with
// If-None-Match: * (one there already is success: same key, same bytes);
// a reference's version is its ETag, and it is replaced with If-Match on
// that ETag, or created with If-None-Match: *, so that of two replicas
// deploying the same name at once one fails with ErrConflict.
type s3Backend struct {
	c      *s3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// parseS3Location splits s3://BUCKET/PREFIX.
func parseS3Location(loc string) (bucket, prefix string, err error) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("guest store %q: want s3://BUCKET or s3://BUCKET/PREFIX", loc)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

func openS3(loc string, o S3Options) (*s3Backend, error) {
	bucket, prefix, err := parseS3Location(loc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3OpTimeout)
	defer cancel()
	var loads []func(*awsconfig.LoadOptions) error
	region := o.Region
	if region == "" && o.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		loads = append(loads, awsconfig.WithRegion(region))
	}
	if o.AccessKey != "" || o.SecretKey != "" {
		loads = append(loads, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("guest store %s: AWS configuration: %w", loc, err)
	}
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// S3-compatible servers differ in the checksums they take; the
			// store checks every blob's SHA-256 on read anyway.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	b := &s3Backend{c: c, bucket: bucket, prefix: prefix}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return nil, fmt.Errorf("guest store %s: bucket %q: %w (check --guest-store-endpoint, --guest-store-region, the credentials, and that the bucket exists)", loc, bucket, err)
	}
	return b, nil
}

func (b *s3Backend) String() string { return "s3://" + b.bucket + "/" + b.prefix }

func (b *s3Backend) blobKey(hash string) string { return b.prefix + "blobs/" + hash }

func (b *s3Backend) refKey(tenant, name string) string {
	return b.prefix + "refs/" + tenant + "/" + name + ".json"
}

func ctxOp() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s3OpTimeout)
}

// isStatus reports whether err is an S3 answer of one of the HTTP codes.
func isStatus(err error, codes ...int) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		for _, c := range codes {
			if re.HTTPStatusCode() == c {
				return true
			}
		}
	}
	return false
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var ae interface{ ErrorCode() string } // smithy.APIError
	return errors.As(err, &nsk) || errors.As(err, &nf) ||
		(errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")) ||
		isStatus(err, http.StatusNotFound)
}

// isConflict: 412 Precondition Failed, or 409 when a concurrent
// conditional write to the same key is in flight.
func isConflict(err error) bool {
	return isStatus(err, http.StatusPreconditionFailed, http.StatusConflict)
}

// putBlob stores a module under its hash. A blob that is there already
// is the same bytes (the key is their hash, checked again on every read),
// so it is looked up first: a conditional PUT of a big module onto an
// existing key can be refused by the server while the body is still being
// sent, which clients see as a reset connection rather than a 412 (versitygw
// does), and an upload that then failed is judged by what the bucket holds.
func (b *s3Backend) putBlob(hash string, data []byte) error {
	if n, err := b.statBlob(hash); err == nil && n == int64(len(data)) {
		return nil
	}
	ctx, cancel := ctxOp()
	defer cancel()
	_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(b.blobKey(hash)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: aws.String("application/wasm"), IfNoneMatch: aws.String("*"),
	})
	if isConflict(err) {
		return nil // the same bytes are there already
	}
	if err != nil {
		if n, serr := b.statBlob(hash); serr == nil && n == int64(len(data)) {
			return nil // a concurrent upload of the same bytes won
		}
		return fmt.Errorf("put s3://%s/%s: %w", b.bucket, b.blobKey(hash), err)
	}
	return nil
}

func (b *s3Backend) getBlob(hash string) ([]byte, error) {
	data, _, err := b.get(b.blobKey(hash))
	return data, err
}

func (b *s3Backend) get(key string) ([]byte, string, error) {
	ctx, cancel := ctxOp()
	defer cancel()
	out, err := b.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", b.bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", b.bucket, key, err)
	}
	return data, aws.ToString(out.ETag), nil
}

func (b *s3Backend) statBlob(hash string) (int64, error) { return b.statKey(b.blobKey(hash)) }

// list lists the keys below prefix (with delimiter "/": the common
// prefixes instead of what is below them).
func (b *s3Backend) list(prefix string, delim bool) ([]types.Object, []string, error) {
	ctx, cancel := ctxOp()
	defer cancel()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)}
	if delim {
		in.Delimiter = aws.String("/")
	}
	var objs []types.Object
	var dirs []string
	p := s3.NewListObjectsV2Paginator(b.c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list s3://%s/%s: %w", b.bucket, prefix, err)
		}
		objs = append(objs, page.Contents...)
		for _, cp := range page.CommonPrefixes {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	return objs, dirs, nil
}

func (b *s3Backend) listBlobs() ([]blobInfo, error) {
	objs, _, err := b.list(b.prefix+"blobs/", false)
	if err != nil {
		return nil, err
	}
	var out []blobInfo
	for _, o := range objs {
		hash := strings.TrimPrefix(aws.ToString(o.Key), b.prefix+"blobs/")
		if checkHash(hash) == nil {
			out = append(out, blobInfo{hash: hash, written: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

func (b *s3Backend) deleteBlob(hash string) error {
	ctx, cancel := ctxOp()
	defer cancel()
	_, err := b.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.blobKey(hash))})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete s3://%s/%s: %w", b.bucket, b.blobKey(hash), err)
	}
	return nil
}

func (b *s3Backend) readRef(tenant, name string) ([]byte, string, error) {
	return b.get(b.refKey(tenant, name))
}

func (b *s3Backend) writeRef(tenant, name string, data []byte, cond bool, version string) error {
	ctx, cancel := ctxOp()
	defer cancel()
	key := b.refKey(tenant, name)
	in := &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: aws.String("application/json"),
	}
	if cond && version == "" {
		in.IfNoneMatch = aws.String("*")
	} else if cond {
		in.IfMatch = aws.String(version)
	}
	_, err := b.c.PutObject(ctx, in)
	if cond && (isConflict(err) || (version != "" && isNotFound(err))) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.bucket, key, err)
	}
	return nil
}

func (b *s3Backend) deleteRef(tenant, name string) error {
	if _, err := b.statKey(b.refKey(tenant, name)); err != nil {
		return err
	}
	ctx, cancel := ctxOp()
	defer cancel()
	if _, err := b.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.refKey(tenant, name))}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", b.bucket, b.refKey(tenant, name), err)
	}
	return nil
}

func (b *s3Backend) statKey(key string) (int64, error) {
	ctx, cancel := ctxOp()
	defer cancel()
	out, err := b.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("head s3://%s/%s: %w", b.bucket, key, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

func (b *s3Backend) listRefs(tenant string) ([]string, error) {
	objs, _, err := b.list(b.prefix+"refs/"+tenant+"/", true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		base := strings.TrimPrefix(aws.ToString(o.Key), b.prefix+"refs/"+tenant+"/")
		if name, ok := strings.CutSuffix(base, ".json"); ok && CheckName(name) == nil {
			out = append(out, name)
		}
	}
	return out, nil
}

func (b *s3Backend) listTenants() ([]string, error) {
	_, dirs, err := b.list(b.prefix+"refs/", true)
	return dirs, err
}
