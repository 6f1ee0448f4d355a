package conformance_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// mustRun fails t unless every case but those in skipped ran (and so either
// passed or failed on its own): a guest must not skip what it claims.
func mustRun(t *testing.T, rep *conformance.Report, skipped ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, s := range skipped {
		want[s] = true
	}
	for _, r := range rep.Results {
		if (r.Status == conformance.Skip) != want[r.Name] {
			t.Errorf("case %s: status %s, want it %s (%s)", r.Name, r.Status, map[bool]string{true: "skipped", false: "run"}[want[r.Name]], r.Detail)
		}
	}
}

// TestFileGuest runs the suite on the builtin file guest: append only, read
// back from the files its instance wrote, no schemas.
func TestFileGuest(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/file"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"path": "out/{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": "json"},
	})
	mustRun(t, rep, "upsert_basic", "upsert_all", "upsert_duplicate_keys", "upsert_parallel", "delete_stale",
		"migrate_add_column", "migrate_remove_column", "migrate_remove_unique", "migrate_move_pk_to_cq_id",
		"migrate_unsafe_refused", "migrate_forced", "migrate_double")
}

// TestPostgresGuest runs the suite on the builtin postgres guest against a
// fresh database: every case runs.
func TestPostgresGuest(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/postgres"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"connection_string": testenv.PostgresURL(t)},
	})
	mustRun(t, rep)
}

// TestPostgresGuestRichTypes runs the suite on the builtin postgres guest
// with type_mapping rich (interval, jsonb): every case runs.
func TestPostgresGuestRichTypes(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/postgres"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"connection_string": testenv.PostgresURL(t), "type_mapping": "rich"},
	})
	mustRun(t, rep)
}

// TestSQLiteGuest runs the suite on the builtin sqlite guest, a database
// file in each case's directory: every case runs but upsert_parallel.
func TestSQLiteGuest(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/sqlite"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"path": "conformance.db"},
	})
	mustRun(t, rep, "upsert_parallel") // writes a table one batch at a time
}

// TestMySQLGuest runs the suite on the builtin mysql guest against a fresh
// database of the harness's MariaDB (or $WASMDEST_TEST_MYSQL_URL's
// server): every case runs but upsert_parallel (InnoDB's gap locks).
func TestMySQLGuest(t *testing.T) {
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/mysql"),
		CacheDir: testenv.CacheDir(t),
		Spec:     map[string]any{"dsn": testenv.MySQLDSN(t)},
	})
	mustRun(t, rep, "upsert_parallel") // writes a table one batch at a time
}

// TestSuiteCatchesWrongBehaviour runs the suite on the misbehave test guest,
// which keeps rows in memory per instance, claims every write mode, but
// never upserts nor deletes: the suite must fail exactly what it gets wrong.
func TestSuiteCatchesWrongBehaviour(t *testing.T) {
	rep, err := conformance.Run(context.Background(), conformance.Config{
		Guest:    testenv.BuildGuest(t, "host/testdata/guests/misbehave"),
		CacheDir: testenv.CacheDir(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	want := map[string]conformance.Status{
		"load": conformance.Pass, "unknown_op": conformance.Pass, "write": conformance.Pass,
		"types": conformance.Pass, "insert_basic": conformance.Pass, "insert_all": conformance.Pass,
		// Rows are appended whatever the key.
		"upsert_basic": conformance.Fail, "upsert_all": conformance.Fail, "upsert_duplicate_keys": conformance.Fail,
		// Deletes nothing.
		"delete_stale": conformance.Fail,
		// Each sync is a new instance, which has no tables: describe says
		// "create" where an alter is due.
		"migrate_add_column": conformance.Fail,
	}
	for _, r := range rep.Results {
		if st, ok := want[r.Name]; ok && r.Status != st {
			t.Errorf("case %s: %s, want %s: %s", r.Name, r.Status, st, r.Detail)
		}
	}
}

// TestS3Guest runs the suite on the builtin s3 guest against a fresh
// bucket of the harness's versitygw (or $WASMDEST_TEST_S3_URL's server),
// the host signing its requests: append only, read back from the objects
// its instance wrote, no schemas.
func TestS3Guest(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	rep := conformance.RunTests(t, conformance.Config{
		Guest:    testenv.BuildGuest(t, "guests/s3"),
		CacheDir: testenv.CacheDir(t),
		Spec: map[string]any{
			"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint, "use_path_style": true,
			"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": "parquet",
			"http": map[string]any{"allow_private": true, "auth": map[string]any{
				"type": "aws_sigv4", "access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey}},
		},
	})
	mustRun(t, rep, "upsert_basic", "upsert_all", "upsert_duplicate_keys", "upsert_parallel", "delete_stale",
		"migrate_add_column", "migrate_remove_column", "migrate_remove_unique", "migrate_move_pk_to_cq_id",
		"migrate_unsafe_refused", "migrate_forced", "migrate_double")
}
