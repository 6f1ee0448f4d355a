package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3URLEnv names the environment variable that points the tests at an
// existing S3-compatible server (its endpoint, e.g. "http://127.0.0.1:7070")
// instead of the throwaway versitygw the harness starts. Its keys are in
// S3AccessKeyEnv and S3SecretKeyEnv (or AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), its region in S3RegionEnv (default us-east-1).
// Each test makes a bucket of its own there and removes it afterwards.
const S3URLEnv = "WASMDEST_TEST_S3_URL"

// The keys and region of the server S3URLEnv names.
const (
	S3AccessKeyEnv = "WASMDEST_TEST_S3_ACCESS_KEY"
	S3SecretKeyEnv = "WASMDEST_TEST_S3_SECRET_KEY"
	S3RegionEnv    = "WASMDEST_TEST_S3_REGION"
)

// VersityGWEnv names a versitygw program to run instead of the one the
// harness builds (and caches) from the Go module VersityGWModule.
const VersityGWEnv = "WASMDEST_TEST_VERSITYGW"

// VersityGWModule is the versitygw the harness builds: an S3 gateway in Go
// whose posix backend stores buckets as directories and objects as files.
const VersityGWModule = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// The throwaway gateway's root account and region.
const (
	versityAccess = "wasmdest-test-access"
	versitySecret = "wasmdest-test-secret-key"
	versityRegion = "us-east-1"
)

// S3Server is where an S3-compatible server is and how to sign for it.
type S3Server struct {
	// Endpoint is the server's origin, e.g. "http://127.0.0.1:41234";
	// buckets are addressed path-style below it.
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
}

// Client returns an AWS SDK client of the server, addressing buckets
// path-style.
func (s S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		// The gateway checks the checksums it is given, but needs none.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// versitygw is the throwaway gateway of this test process.
type versitygw struct {
	dir    string
	proc   *exec.Cmd
	exited chan struct{}
	logf   *os.File
}

var s3srv struct {
	mu      sync.Mutex
	started bool
	srv     S3Server
	err     error
	gw      *versitygw // nil when S3URLEnv is used
}

var bucketCounter atomic.Int64

// S3Endpoint returns the S3 server of the tests, starting the throwaway
// versitygw on first use, or the one $WASMDEST_TEST_S3_URL names. It is
// for callers without a testing.TB, such as the benchmark program; they
// call StopS3 when done.
func S3Endpoint() (S3Server, error) {
	s3srv.mu.Lock()
	defer s3srv.mu.Unlock()
	if !s3srv.started {
		s3srv.started = true
		if u := os.Getenv(S3URLEnv); u != "" {
			s3srv.srv, s3srv.err = externalS3(u)
		} else {
			s3srv.gw, s3srv.srv, s3srv.err = startVersityGW()
		}
	}
	return s3srv.srv, s3srv.err
}

func externalS3(u string) (S3Server, error) {
	s := S3Server{Endpoint: strings.TrimSuffix(u, "/"), Region: os.Getenv(S3RegionEnv)}
	s.AccessKey = firstEnv(S3AccessKeyEnv, "AWS_ACCESS_KEY_ID")
	s.SecretKey = firstEnv(S3SecretKeyEnv, "AWS_SECRET_ACCESS_KEY")
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.AccessKey == "" || s.SecretKey == "" {
		return s, fmt.Errorf("%s is set but its keys are not: set %s and %s (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", S3URLEnv, S3AccessKeyEnv, S3SecretKeyEnv)
	}
	return s, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// StopS3 stops the throwaway versitygw, if one was started, and removes its
// files. RunMain calls it.
func StopS3() {
	s3srv.mu.Lock()
	defer s3srv.mu.Unlock()
	if s3srv.gw != nil {
		s3srv.gw.stop()
		os.RemoveAll(s3srv.gw.dir)
		s3srv.gw = nil
	}
}

// S3Bucket returns the tests' S3 server and a new, empty bucket of the
// calling test's own on it. The first call starts the process's throwaway
// versitygw (or uses $WASMDEST_TEST_S3_URL). Without a server it fails the
// test with instructions; it never skips. On a server S3URLEnv names, the
// bucket and what is in it are removed when the test ends.
func S3Bucket(t testing.TB) (S3Server, string) {
	t.Helper()
	srv, err := S3Endpoint()
	if err != nil {
		t.Fatalf("testenv: no S3 server for the tests: %v", err)
	}
	bucket := fmt.Sprintf("wasmdest-t%d-%s", bucketCounter.Add(1), bucketSuffix(t.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := srv.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("testenv: create bucket %s on %s: %v", bucket, srv.Endpoint, err)
	}
	if os.Getenv(S3URLEnv) != "" {
		t.Cleanup(func() { EmptyS3Bucket(srv, bucket, true) })
	}
	return srv, bucket
}

// EmptyS3Bucket removes every object and pending multipart upload of
// bucket, and the bucket too when remove is set. Errors are ignored: it
// cleans up after a test.
func EmptyS3Bucket(srv S3Server, bucket string, remove bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := srv.Client()
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err == nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	if remove {
		c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	}
}

// S3Objects lists the keys and sizes of the objects below prefix in bucket.
func S3Objects(t testing.TB, srv S3Server, bucket, prefix string) []types.Object {
	t.Helper()
	var out []types.Object
	p := s3.NewListObjectsV2Paginator(srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("testenv: list s3://%s/%s: %v", bucket, prefix, err)
		}
		out = append(out, page.Contents...)
	}
	return out
}

// S3PendingUploads lists the multipart uploads of bucket that were neither
// completed nor aborted.
func S3PendingUploads(t testing.TB, srv S3Server, bucket string) []types.MultipartUpload {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("testenv: list multipart uploads of %s: %v", bucket, err)
	}
	return out.Uploads
}

// bucketSuffix makes a test name fit a bucket name's rules (lower-case
// letters, digits and hyphens; at most 63 characters in all).
func bucketSuffix(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		s = "x"
	}
	return s
}

// VersityGW returns the versitygw program the harness runs, building it
// first if need be (see versityGWProgram). testguests calls it, so that the
// build (minutes, once per machine) happens before the tests and their
// timeouts.
func VersityGW() (string, error) { return versityGWProgram() }

// versityGWProgram returns the versitygw program: $WASMDEST_TEST_VERSITYGW,
// or the one built from VersityGWModule into the user's cache directory
// (once per machine; the Go build and module caches make a rebuild cheap).
// It is built with `go install module@version`, outside this repository's
// module, so that the gateway's dependencies stay out of our go.mod.
func versityGWProgram() (string, error) {
	if p := os.Getenv(VersityGWEnv); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := VersityGWModule[strings.LastIndex(VersityGWModule, "@")+1:]
	dir := filepath.Join(cache, "wasmdest", "versitygw-"+version)
	prog := filepath.Join(dir, "versitygw")
	if fileExists(prog) {
		return prog, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build into a directory of our own and rename: test processes that
	// build at once each get a whole program.
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", VersityGWModule)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build versitygw (go install %s): %v\n%s\n"+
			"Either let the tests reach the Go module proxy, or set %s to a versitygw program, or point the tests at an S3 server you run: %s=http://127.0.0.1:7070 with %s and %s",
			VersityGWModule, err, out, VersityGWEnv, S3URLEnv, S3AccessKeyEnv, S3SecretKeyEnv)
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), prog); err != nil && !fileExists(prog) {
		return "", err
	}
	return prog, nil
}

// startVersityGW runs versitygw's posix backend on a temporary directory,
// listening on a free loopback port, and waits until it answers. Object
// metadata goes to a sidecar directory rather than extended attributes, so
// that any filesystem will do (tmpfs and overlayfs may lack user xattrs).
func startVersityGW() (*versitygw, S3Server, error) {
	srv := S3Server{Region: versityRegion, AccessKey: versityAccess, SecretKey: versitySecret}
	prog, err := versityGWProgram()
	if err != nil {
		return nil, srv, err
	}
	dir, err := os.MkdirTemp("", "wasmdest-versitygw-")
	if err != nil {
		return nil, srv, err
	}
	gw := &versitygw{dir: dir}
	for _, d := range []string{"data", "meta"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, srv, err
		}
	}
	for attempt := 0; ; attempt++ {
		port, perr := freePort()
		if perr != nil {
			os.RemoveAll(dir)
			return nil, srv, perr
		}
		srv.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		if err = gw.start(prog, port); err == nil {
			return gw, srv, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, srv, err
		}
	}
}

func (gw *versitygw) start(prog string, port int) error {
	logPath := filepath.Join(gw.dir, "versitygw.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(prog,
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--region", versityRegion,
		"--health", "/wasmdest-health",
		"--quiet",
		"posix", "--sidecar", filepath.Join(gw.dir, "meta"), filepath.Join(gw.dir, "data"))
	cmd.Dir = gw.dir
	// The keys go in the environment, not on the command line.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+versityAccess, "ROOT_SECRET_ACCESS_KEY="+versitySecret)
	cmd.Stdout, cmd.Stderr = logf, logf
	setServerProcAttrAs(cmd, nil, "", true, mariadbDeathSignal)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	gw.proc, gw.exited, gw.logf = cmd, exited, logf
	health := fmt.Sprintf("http://127.0.0.1:%d/wasmdest-health", port)
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			gw.proc = nil
			logf.Close()
			return fmt.Errorf("versitygw exited during start-up:\n%s", logTail(logPath))
		default:
		}
		resp, err := hc.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			gw.stop()
			return fmt.Errorf("versitygw did not answer within 60s: %v\n%s", err, logTail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the gateway: it holds nothing worth a clean shutdown.
func (gw *versitygw) stop() {
	if gw.proc == nil {
		return
	}
	if err := gw.proc.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintln(os.Stderr, "testenv: stop versitygw:", err)
	}
	<-gw.exited
	gw.proc = nil
	gw.logf.Close()
}
