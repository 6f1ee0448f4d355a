package syncer_test

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// openNoRotate is the file guest writing one CSV file per table into dir,
// kept open across batches (no_rotate).
func openNoRotate(t *testing.T, env *syncer.Env, dir string, summary bool) *syncer.Destination {
	t.Helper()
	d, err := syncer.Open(context.Background(), env, config.Destination{
		Name: "files", Registry: config.RegistryLocal, Path: testenv.BuildGuest(t, "guests/file"),
		WriteMode: abi.WriteModeAppend, MigrateMode: abi.MigrateModeSafe, PKMode: abi.PKModeDefault,
		Directory: dir, SendSyncSummary: summary, File: "test.toml", Line: 1,
		Spec: map[string]any{"path": "{{TABLE}}.{{FORMAT}}", "format": "csv", "no_rotate": true, "batch_size": 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func batches(table string, n, rows int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := 0; i < n; i++ {
		out = append(out, users(table, i*rows, rows))
	}
	return out
}

// Disk full while a no_rotate file holds earlier batches: the file is
// discarded, and the stats (what the summary, the sync summary table and
// serve's finish response count) say that nothing was written.
func TestDiskFullCountsOnlyDurableRows(t *testing.T) {
	dir := testenv.SmallFS(t, 1024)
	env := newEnv(t)
	d := openNoRotate(t, env, dir, false)
	s := syncer.New(env, []*syncer.Destination{d})
	err := s.Run(context.Background(), []syncer.Input{input("users", batches("users", 100, 1000)...)})
	err = errors.Join(err, s.Finish(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "discarded") {
		t.Fatalf("got %v, want the disk-full error saying the open file was discarded", err)
	}
	st := s.Stats()[0]
	if st.Rows != 0 || st.Batches != 0 || st.Bytes != 0 || st.Held != 0 {
		t.Errorf("stats %+v after the file was discarded, want 0 rows, batches and bytes", st)
	}
	if st.Err == nil {
		t.Errorf("stats %+v carry no error", st)
	}
}

// A no_rotate file is durable once the destination finishes: until then its
// rows are held, then they count; the sync summary, written after, counts
// them too.
func TestNoRotateRowsCountWhenTheDestinationFinishes(t *testing.T) {
	dir := t.TempDir()
	env := newEnv(t)
	d := openNoRotate(t, env, dir, true)
	s := syncer.New(env, []*syncer.Destination{d})
	if err := s.Run(context.Background(), []syncer.Input{input("users", batches("users", 5, 1000)...)}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats()[0]; st.Rows != 0 || st.Held != 5000 {
		t.Errorf("before finishing: stats %+v, want 5000 rows held and none durable", st)
	}
	if err := s.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats()[0]; st.Rows != 5000 || st.Batches != 5 || st.Held != 0 {
		t.Errorf("after finishing: stats %+v, want 5000 rows in 5 batches", st)
	}
	f, err := os.Open(filepath.Join(dir, syncer.SummaryTable+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("summary file: %d records, %v; want a header and one row", len(recs), err)
	}
	i := slices.Index(recs[0], "resources")
	if i < 0 || recs[1][i] != "5000" {
		t.Errorf("summary %v / %v: want resources 5000", recs[0], recs[1])
	}
}

// Disk full: the guest only sees EIO (WASI has no ENOSPC), but the error
// says what the host's file system said, with the host path.
func TestDiskFullSaysNoSpaceLeftWithThePath(t *testing.T) {
	dir := testenv.SmallFS(t, 512)
	env := newEnv(t)
	d := openNoRotate(t, env, dir, false)
	s := syncer.New(env, []*syncer.Destination{d})
	err := s.Run(context.Background(), []syncer.Input{input("users", batches("users", 100, 1000)...)})
	err = errors.Join(err, s.Finish(context.Background()))
	if err == nil {
		t.Fatal("a sync of 100,000 rows fit in 512 KiB")
	}
	for _, want := range []string{"no space left on device", dir + "/.users.csv."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "I/O error") {
		t.Errorf("error %q still says I/O error", err)
	}
}
