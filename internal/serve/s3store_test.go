package serve_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/wasmdest/wasmdest/internal/gueststore"
	"github.com/wasmdest/wasmdest/internal/serve"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// TestServeDeployS3Store: two replicas share a guest store in an S3 bucket
// (no shared volume). A guest deployed through one is run by the other
// from the bucket; a restarted server sees it; delete removes it.
func TestServeDeployS3Store(t *testing.T) {
	v1, err := os.ReadFile(misbehave(t))
	if err != nil {
		t.Fatal(err)
	}
	srv, bucket := testenv.S3Bucket(t)
	opts := serve.Options{GuestStore: "s3://" + bucket + "/wasmdest", GuestStoreS3: gueststore.S3Options{
		Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}}
	// A cold compilation under -race on a loaded machine can take minutes.
	acme := tenantSpec{name: "acme", extra: "may_deploy = true\ncompile_timeout = \"10m\"\n", dests: deployedDest("d", "w")}
	a := startServer(t, opts, acme)
	b := a.replica(opts)
	ctx := context.Background()
	ca, cb := a.client("acme"), b.client("acme")

	dep, err := ca.Deploy(ctx, "w", v1)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, o := range testenv.S3Objects(t, srv, bucket, "") {
		keys[aws.ToString(o.Key)] = true
	}
	if !keys["wasmdest/blobs/"+dep.Hash] || !keys["wasmdest/refs/acme/w.json"] || len(keys) != 2 {
		t.Fatalf("bucket after a deploy: %v", keys)
	}
	// B loads the guest A stored, and syncs through it.
	sb, err := cb.Begin(ctx, serve.BeginRequest{Destination: "d", SourceName: "s"})
	if err != nil || sb.GuestHash != dep.Hash {
		t.Fatalf("begin on B: %+v, %v", sb, err)
	}
	recs := batches(0, 1, 10)
	defer release(recs)
	if res, err := cb.Put(ctx, sb.Sync, "t", usersSchema, recs...); err != nil || res.Rows != 10 {
		t.Fatalf("put on B: %+v, %v", res, err)
	}
	if sum, err := cb.Finish(ctx, sb.Sync); err != nil || sum.GuestHash != dep.Hash {
		t.Fatalf("finish on B: %+v, %v", sum, err)
	}
	// The same module deployed again through B: the reference is replaced
	// (conditionally on what B read), the blob is not written twice.
	if again, err := cb.Deploy(ctx, "w", v1); err != nil || again.Hash != dep.Hash {
		t.Fatalf("deploy again on B: %+v, %v", again, err)
	}
	// A restart: a new server on the same bucket.
	c := startServer(t, opts, acme).client("acme")
	if list, err := c.Guests(ctx); err != nil || len(list) != 1 || list[0].Hash != dep.Hash || list[0].Size != int64(len(v1)) {
		t.Fatalf("guests after a restart: %+v, %v", list, err)
	}
	if err := c.DeleteGuest(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if list, err := ca.Guests(ctx); err != nil || len(list) != 0 {
		t.Fatalf("guests on A after the delete: %+v, %v", list, err)
	}
}
