package gueststore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wasmdest/wasmdest/internal/gueststore"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// kind is one storage of the store: how to open it (again: a restart),
// overwrite a blob behind its back, and see what temporary leftovers it has.
type kind struct {
	name     string
	open     func(t *testing.T) *gueststore.Store
	corrupt  func(t *testing.T, hash string, data []byte)
	leftover func(t *testing.T) []string
}

func kinds(t *testing.T) []kind {
	dir := t.TempDir()
	srv, bucket := testenv.S3Bucket(t)
	opts := gueststore.S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	loc := "s3://" + bucket + "/guests/prod"
	return []kind{{
		name: "dir",
		open: func(t *testing.T) *gueststore.Store {
			s, err := gueststore.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		corrupt: func(t *testing.T, hash string, data []byte) {
			if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", hash+".wasm"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		leftover: func(t *testing.T) []string {
			tmp, _ := filepath.Glob(filepath.Join(dir, "*", "*", ".tmp-*"))
			return tmp
		},
	}, {
		name: "s3",
		open: func(t *testing.T) *gueststore.Store {
			s, err := gueststore.OpenLocation(loc, opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != "s3://"+bucket+"/guests/prod/" {
				t.Fatalf("location: %s", s)
			}
			return s
		},
		corrupt: func(t *testing.T, hash string, data []byte) {
			_, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
				Key: aws.String("guests/prod/blobs/" + hash), Body: bytes.NewReader(data)})
			if err != nil {
				t.Fatal(err)
			}
		},
		leftover: func(t *testing.T) []string {
			var out []string
			for _, o := range testenv.S3Objects(t, srv, bucket, "") {
				if !strings.HasPrefix(aws.ToString(o.Key), "guests/prod/") {
					out = append(out, aws.ToString(o.Key))
				}
			}
			for _, u := range testenv.S3PendingUploads(t, srv, bucket) {
				out = append(out, "upload "+aws.ToString(u.Key))
			}
			return out
		},
	}}
}

// TestStore: modules are content-addressed, capped while read, references
// survive reopening the store (a restart), corruption is detected, and a
// deleted reference's module goes once nothing names it; in a directory
// and in an S3 bucket.
func TestStore(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			s := k.open(t)
			v1, v2 := []byte("\x00asm one"), []byte("\x00asm two")
			if _, _, err := s.Put(bytes.NewReader(bytes.Repeat([]byte{1}, 101)), 100); !errors.Is(err, gueststore.ErrTooLarge) {
				t.Fatalf("101 bytes under a cap of 100: %v", err)
			}
			h1, got, err := s.Put(bytes.NewReader(v1), 100)
			if err != nil || !bytes.Equal(got, v1) || len(h1) != 64 {
				t.Fatalf("put: %v %q %q", err, got, h1)
			}
			h2, err := s.PutBytes(v2)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := s.PutBytes(v1); again != h1 || err != nil {
				t.Fatalf("same bytes again: %s %s %v", again, h1, err)
			}
			if n, err := s.Size(h2); n != int64(len(v2)) || err != nil {
				t.Fatalf("size: %d %v", n, err)
			}
			if _, err := s.Size(strings.Repeat("0", 64)); !errors.Is(err, gueststore.ErrNotFound) {
				t.Fatalf("size of a missing module: %v", err)
			}
			if err := s.SetRef("acme", gueststore.Ref{Name: "w", Current: h2, Previous: h1}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetRef("acme", gueststore.Ref{Name: "../x", Current: h2}); err == nil {
				t.Fatal("a name with a slash was accepted")
			}
			// A restart: a new Store on the same directory or bucket.
			s = k.open(t)
			r, err := s.Ref("acme", "w")
			if err != nil || r.Current != h2 || r.Previous != h1 {
				t.Fatalf("after reopening: %+v %v", r, err)
			}
			if b, err := s.Get(h1); err != nil || !bytes.Equal(b, v1) {
				t.Fatalf("get: %q %v", b, err)
			}
			if refs, err := s.Refs("acme"); len(refs) != 1 || refs[0].Name != "w" || err != nil {
				t.Fatalf("refs: %+v %v", refs, err)
			}
			if refs, err := s.Refs("globex"); len(refs) != 0 || err != nil {
				t.Fatalf("another tenant's refs: %+v %v", refs, err)
			}
			if _, err := s.Ref("globex", "w"); !errors.Is(err, gueststore.ErrNotFound) {
				t.Fatalf("another tenant's ref: %v", err)
			}
			// Corruption is detected.
			k.corrupt(t, h1, []byte("\x00asm evil"))
			if _, err := s.Get(h1); err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("corrupt module read back: %v", err)
			}
			// Deleting: modules past the grace period and unnamed go.
			if err := s.DeleteRef("acme", "w"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(h2); err != nil {
				t.Fatalf("a module within its grace period went: %v", err)
			}
			defer gueststore.SetCollectGrace(-1)()
			if err := s.SetRef("acme", gueststore.Ref{Name: "keep", Current: h1}); err != nil {
				t.Fatal(err)
			}
			if err := s.Collect(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(h2); !errors.Is(err, gueststore.ErrNotFound) {
				t.Fatalf("unreferenced module kept: %v", err)
			}
			if _, err := s.Size(h1); err != nil {
				t.Fatalf("a named module went: %v", err)
			}
			if err := s.DeleteRef("acme", "w"); !errors.Is(err, gueststore.ErrNotFound) {
				t.Fatalf("deleting a deleted guest: %v", err)
			}
			if left := k.leftover(t); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

// TestReplaceRef: a reference is replaced only if it is still the one
// read; of two replicas (two Stores) deploying the same name at once, one
// wins and the other gets ErrConflict.
func TestReplaceRef(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			a, b := k.open(t), k.open(t)
			h1, _ := a.PutBytes([]byte("\x00asm one"))
			h2, _ := a.PutBytes([]byte("\x00asm two"))
			h3, _ := a.PutBytes([]byte("\x00asm three"))
			if err := a.ReplaceRef("acme", nil, gueststore.Ref{Name: "w", Current: h1}); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := b.ReplaceRef("acme", nil, gueststore.Ref{Name: "w", Current: h2}); !errors.Is(err, gueststore.ErrConflict) {
				t.Fatalf("creating an existing reference: %v", err)
			}
			ra, err := a.Ref("acme", "w")
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.Ref("acme", "w")
			if err != nil {
				t.Fatal(err)
			}
			if err := a.ReplaceRef("acme", &ra, gueststore.Ref{Name: "w", Current: h2, Previous: h1}); err != nil {
				t.Fatalf("replace: %v", err)
			}
			if err := b.ReplaceRef("acme", &rb, gueststore.Ref{Name: "w", Current: h3, Previous: h1}); !errors.Is(err, gueststore.ErrConflict) {
				t.Fatalf("replacing a reference changed meanwhile: %v", err)
			}
			if r, _ := b.Ref("acme", "w"); r.Current != h2 {
				t.Fatalf("the loser's write landed: %+v", r)
			}
			// At once: of n writers on the same version exactly one wins.
			// (The directory's check is exact within one process.)
			cur, _ := a.Ref("acme", "w")
			const n = 4
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				st := a
				if i%2 == 1 {
					st = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = st.ReplaceRef("acme", &cur, gueststore.Ref{Name: "w", Current: []string{h1, h3}[i%2], Previous: h2})
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, gueststore.ErrConflict):
					t.Fatalf("concurrent replace: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d of %d concurrent replaces won: %v", won, n, errs)
			}
		})
	}
}

// TestOpenLocation: a bad s3:// location and a missing bucket fail at open
// with the location named.
func TestOpenLocation(t *testing.T) {
	srv, _ := testenv.S3Bucket(t)
	opts := gueststore.S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	if _, err := gueststore.OpenLocation("s3:///x", opts); err == nil || !strings.Contains(err.Error(), "s3://BUCKET") {
		t.Fatalf("no bucket: %v", err)
	}
	if _, err := gueststore.OpenLocation("s3://wasmdest-no-such-bucket/p", opts); err == nil || !strings.Contains(err.Error(), "wasmdest-no-such-bucket") {
		t.Fatalf("missing bucket: %v", err)
	}
}
