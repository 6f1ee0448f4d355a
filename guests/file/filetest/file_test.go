package filetest

import (
	"bytes"
	"context"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/host/capability/codec"
	"github.com/wasmdest/wasmdest/host/capability/filesystem"
	"github.com/wasmdest/wasmdest/host/conformance"
	"github.com/wasmdest/wasmdest/internal/batch"
)

// TestRoundTrip writes the reference test table, in two Write calls, in
// every format and compression (and every Parquet version), then checks:
// one file per Write call; each file, read by an independent reader, holds
// exactly the rows written, with the documented types; and OpRead gives
// back every row with its original Arrow type.
func TestRoundTrip(t *testing.T) {
	g := guest(t)
	schema := testTable()
	batches := []arrow.RecordBatch{conformance.Rows(schema, 0, 40, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(schema, 40, 23, conformance.RowOptions{Nanoseconds: true})}
	all := concat(schema, batches)
	defer all.Release()

	type tc struct{ format, compression, formatSpec string }
	var cases []tc
	for _, f := range []string{"csv", "json", "parquet"} {
		for _, c := range []string{"", "gzip", "zstd"} {
			cases = append(cases, tc{f, c, ""})
		}
	}
	for _, v := range []string{"v1.0", "v2.4", "v2.6"} {
		cases = append(cases, tc{"parquet", "", fmt.Sprintf(`{"version":%q,"root_repetition":"required","max_row_group_length":10}`, v)})
	}
	cases = append(cases, tc{"csv", "gzip", `{"delimiter":";","skip_header":true}`}, tc{"csv", "", `{"delimiter":"\t"}`})

	for _, c := range cases {
		name := c.format + "/" + c.compression + c.formatSpec
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			spec := fmt.Sprintf(`{"path":"out/{{TABLE}}/{{UUID}}.{{FORMAT}}","format":%q,"compression":%q`, c.format, c.compression)
			if c.formatSpec != "" {
				spec += `,"format_spec":` + c.formatSpec
			}
			p := newPool(t, g, root, spec+"}")
			in, err := p.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Release(ctx, in)
			for _, b := range batches {
				if err := write(ctx, p, in, "test_table", b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readBack(ctx, p, in, schema, "test_table")
			if err != nil {
				t.Fatalf("OpRead: %v", err)
			}
			back := concat(schema, got)
			defer back.Release()
			if !array.RecordEqual(back, all) {
				compareColumns(t, "OpRead", all, back, sameAsJSON)
				t.Error("OpRead did not give back exactly the rows written")
			}

			names := files(t, root)
			ext := map[string]string{"": "", "gzip": ".gz", "zstd": ".zst"}[c.compression]
			if c.format == "parquet" {
				ext = ""
			}
			re := regexp.MustCompile(`^out/test_table/[0-9a-f-]{36}\.` + c.format + regexp.QuoteMeta(ext) + `$`)
			if len(names) != len(batches) {
				t.Fatalf("files %v: want one per Write call (%d)", names, len(batches))
			}
			var rows []arrow.RecordBatch
			for _, n := range names {
				if !re.MatchString(n) {
					t.Errorf("file %s does not match %s", n, re)
				}
				rows = append(rows, nil)
			}
			// Files are named by UUID, so their order is not the write
			// order: match each file with a batch by its row count.
			for _, n := range names {
				compression := c.compression
				if c.format == "parquet" {
					compression = "" // a codec inside the file, not a wrapper
				}
				data := decompress(t, filepath.Join(root, n), compression)
				for k, b := range batches {
					what := fmt.Sprintf("%s (batch %d)", n, k)
					switch c.format {
					case "json":
						if lines := bytes.Count(data, []byte("\n")); lines != int(b.NumRows()) {
							continue
						}
						checkJSONLines(t, what, data, b)
					case "csv":
						header := !strings.Contains(c.formatSpec, "skip_header")
						comma := ','
						if strings.Contains(c.formatSpec, `";"`) {
							comma = ';'
						} else if strings.Contains(c.formatSpec, `\t`) {
							comma = '\t'
						}
						r := stdcsv.NewReader(bytes.NewReader(data))
						r.Comma = comma
						lines, _ := r.ReadAll()
						if n := len(lines); header && n-1 != int(b.NumRows()) || !header && n != int(b.NumRows()) {
							continue
						}
						checkCSV(t, what, data, b, comma, header)
					case "parquet":
						if n := parquetRows(t, data); n != b.NumRows() {
							continue
						}
						checkParquet(t, what, data, b)
						version := "v2Latest"
						if m := regexp.MustCompile(`"version":"([^"]+)"`).FindStringSubmatch(c.formatSpec); m != nil {
							version = m[1]
						}
						parquetTypes(t, what, data, version)
					}
					rows[k] = b
				}
			}
			for k := range batches {
				if rows[k] == nil {
					t.Errorf("no file holds batch %d (%d rows)", k, batches[k].NumRows())
				}
			}
		})
	}
}

func parquetRows(t *testing.T, data []byte) int64 {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("PAR1")) || !bytes.HasSuffix(data, []byte("PAR1")) {
		t.Fatalf("not a complete Parquet file (magic PAR1 at both ends)")
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not Parquet: %v", err)
	}
	defer pf.Close()
	return pf.NumRows()
}

// TestPlaceholders: the host expands every placeholder (placeholder.Expand,
// through PoolConfig.Expand); {{FORMAT}} includes the compression's
// extension; {{UUID}} is new for every file; a path without {{TABLE}} gets
// /{{TABLE}}.{{FORMAT}}.
func TestPlaceholders(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	rec := conformance.Rows(schema, 0, 5, conformance.RowOptions{Nanoseconds: true})
	defer rec.Release()

	root := t.TempDir()
	p := newPool(t, g, root, `{"path":"/{{SYNC_ID}}/{{YEAR}}/{{MONTH}}/{{DAY}}/{{HOUR}}{{MINUTE}}/{{TABLE_HYPHEN}}/{{TABLE}}-{{UUID}}.{{FORMAT}}","format":"csv","compression":"gzip"}`)
	for i := 0; i < 3; i++ {
		if err := write(ctx, p, nil, "my_table", rec); err != nil {
			t.Fatal(err)
		}
	}
	re := regexp.MustCompile(`^sync-7f3a/2026/03/04/0506/my-table/my_table-([0-9a-f-]{36})\.csv\.gz$`)
	uuids := map[string]bool{}
	for _, f := range files(t, root) {
		m := re.FindStringSubmatch(f)
		if m == nil {
			t.Errorf("file %s does not match %s", f, re)
			continue
		}
		uuids[m[1]] = true
	}
	if len(uuids) != 3 {
		t.Errorf("%d distinct {{UUID}}s in 3 files, want 3", len(uuids))
	}

	root = t.TempDir()
	p = newPool(t, g, root, `{"path":"by-sync/{{SYNC_ID}}","format":"parquet","compression":"zstd","no_rotate":true}`)
	if err := write(ctx, p, nil, "t1", rec); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 1 || got[0] != "by-sync/sync-7f3a/t1.parquet" {
		t.Errorf("files %v, want [by-sync/sync-7f3a/t1.parquet]", got)
	}
}

// TestRotation: with batching on, the host's batcher (internal/batch) cuts the
// rows by row count or bytes, and each batch it flushes is one Write call
// and one file, never over the limit.
func TestRotation(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	var recs []arrow.RecordBatch
	for i := 0; i < 5; i++ {
		recs = append(recs, conformance.Rows(schema, i*37, 37, conformance.RowOptions{Nanoseconds: true}))
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	one := batch.RecordSize(recs[0])
	for _, c := range []struct {
		name  string
		lim   abi.BatchLimits
		spec  string
		files int
	}{
		{"rows", abi.BatchLimits{Rows: 50}, `,"batch_size":50`, 4}, // 185 rows: 50+50+50+35
		{"bytes", abi.BatchLimits{Bytes: one}, `,"batch_size_bytes":` + fmt.Sprint(one) + `,"batch_size":0`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := newPool(t, g, root, `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"json"`+c.spec+`}`)
			var writes int
			var maxRows int64
			b := batch.New(c.lim, func(ctx context.Context, batch []arrow.RecordBatch) error {
				writes++
				var n int64
				for _, r := range batch {
					n += r.NumRows()
				}
				maxRows = max(maxRows, n)
				return write(ctx, p, nil, "t", batch...)
			})
			for _, r := range recs {
				if err := b.Add(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := files(t, root)
			if len(got) != writes || (c.files > 0 && writes != c.files) {
				t.Errorf("%d Write calls made %d files %v; want one file per call (and %d calls)", writes, len(got), got, c.files)
			}
			if c.lim.Rows > 0 && maxRows > c.lim.Rows {
				t.Errorf("a batch of %d rows, over batch_size %d", maxRows, c.lim.Rows)
			}
			var total int
			for _, f := range got {
				data, _ := os.ReadFile(filepath.Join(root, f))
				total += bytes.Count(data, []byte("\n"))
			}
			if total != 185 {
				t.Errorf("%d rows in the files, wrote 185", total)
			}
			t.Logf("%s: %d batches -> %d files", c.name, writes, len(got))
		})
	}
}

// TestNoRotate: with no_rotate, several Write calls extend one file per
// table, finished when the destination closes: CSV has one header, Parquet
// is valid and holds every row, gzip is one stream. Until then the file is
// only there under its temporary name, and OpRead says why it cannot read it.
func TestNoRotate(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	batches := []arrow.RecordBatch{conformance.Rows(schema, 0, 10, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(schema, 10, 7, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(schema, 17, 12, conformance.RowOptions{Nanoseconds: true})}
	all := concat(schema, batches)
	defer all.Release()
	for _, c := range []struct{ format, compression string }{{"csv", ""}, {"csv", "gzip"}, {"json", "zstd"}, {"parquet", "gzip"}, {"parquet", ""}} {
		t.Run(c.format+"/"+c.compression, func(t *testing.T) {
			root := t.TempDir()
			p := newPool(t, g, root, fmt.Sprintf(`{"path":"data/{{TABLE}}.{{FORMAT}}","format":%q,"compression":%q,"no_rotate":true}`, c.format, c.compression))
			in, err := p.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range batches {
				if err := write(ctx, p, in, "test_table", b); err != nil {
					t.Fatal(err)
				}
				if err := write(ctx, p, in, "other", b); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range files(t, root) {
				if !isTemp(f) {
					t.Errorf("%s is under its final name before close", f)
				}
			}
			if _, err := readBack(ctx, p, in, schema, "test_table"); err == nil || !strings.Contains(err.Error(), "still being written (no_rotate)") {
				t.Errorf("OpRead of an open no_rotate file: got %v, want an error saying it is still being written", err)
			}
			p.Release(ctx, in)
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			ext := c.format
			if c.format != "parquet" {
				ext += map[string]string{"": "", "gzip": ".gz", "zstd": ".zst"}[c.compression]
			}
			want := []string{"data/other." + ext, "data/test_table." + ext}
			if got := files(t, root); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("files %v, want %v", got, want)
			}
			compression := c.compression
			if c.format == "parquet" {
				compression = ""
			}
			data := decompress(t, filepath.Join(root, want[1]), compression)
			switch c.format {
			case "csv":
				checkCSV(t, want[1], data, all, ',', true)
			case "json":
				checkJSONLines(t, want[1], data, all)
			case "parquet":
				checkParquet(t, want[1], data, all)
			}
		})
	}
}

// TestEscapes: a path cannot leave the granted directory. ".." is refused
// at Init; an absolute path is taken below the directory; a symlink in the
// directory that points outside it is refused by the host (internal/fsroot),
// and the guest's error says so. Nothing is written outside.
func TestEscapes(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	rec := conformance.Rows(schema, 0, 3, conformance.RowOptions{Nanoseconds: true})
	defer rec.Release()

	tmp := t.TempDir()
	root, outside := filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(root, "rel-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(root, "inside-link")); err != nil {
		t.Fatal(err)
	}
	// A symlink where the file itself would go: the guest never writes
	// through it (it writes a temporary file and gives it the name only if
	// the name is free).
	if err := os.MkdirAll(filepath.Join(root, "file-link"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "t.json"), filepath.Join(root, "file-link", "t.json")); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, path string
		want       []string // error substrings; none: success
		file       string   // where the file must be, below root
	}{
		{"dotdot", "../outside/{{TABLE}}.{{FORMAT}}", []string{`".." component`, "below the granted directory"}, ""},
		{"dotdot inside", "sub/../{{TABLE}}.{{FORMAT}}", []string{`".." component`}, ""},
		{"absolute", "/etc/{{TABLE}}.{{FORMAT}}", nil, "etc/t.json"},
		{"symlink out", "link/{{TABLE}}.{{FORMAT}}", []string{"leave the granted directory", "/link is a symlink to"}, ""},
		{"relative symlink out", "rel-link/x/{{TABLE}}.{{FORMAT}}", []string{"leave the granted directory", `/rel-link is a symlink to "../outside"`}, ""},
		{"symlink as the file", "file-link/{{TABLE}}.{{FORMAT}}", []string{"exists already", "never replaces a file"}, ""},
		{"symlink inside", "inside-link/{{TABLE}}.{{FORMAT}}", nil, "sub/t.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPool(t, g, root, fmt.Sprintf(`{"path":%q,"batch_size":0,"batch_size_bytes":0}`, c.path))
			err := write(ctx, p, nil, "t", rec)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(root, c.file)); err != nil {
					t.Errorf("file not at %s: %v", c.file, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("writing to %q succeeded", c.path)
			}
			t.Logf("%s: %v", c.path, err)
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the granted directory: %v", entries)
	}
}

// TestKilledMidWrite: an instance that dies while a file is open (out of
// memory, or stopped when its context ends on an interruptible runtime)
// leaves no file under the final name: only its temporary file.
func TestKilledMidWrite(t *testing.T) {
	schema := testTable()
	small := conformance.Rows(schema, 0, 100, conformance.RowOptions{Nanoseconds: true})
	defer small.Release()
	big := conformance.Rows(schema, 0, 30000, conformance.RowOptions{Nanoseconds: true})
	defer big.Release()

	check := func(t *testing.T, root string, err error) {
		t.Helper()
		var ce *host.CallError
		if !errors.As(err, &ce) || !ce.Trapped {
			t.Fatalf("got %v, want the instance to fail", err)
		}
		t.Logf("killed: %v", err)
		got := files(t, root)
		for _, f := range got {
			if !isTemp(f) {
				t.Errorf("%s is under its final name after the instance died", f)
			}
		}
		if len(got) == 0 {
			t.Log("no temporary file left either")
		}
	}

	t.Run("cancelled", func(t *testing.T) {
		if testing.Short() {
			t.Skip("an interruptible runtime compiles the guest again (~40 s cold)")
		}
		rt := newRuntime(t, host.Config{Interruptible: true})
		g := loadGuest(t, rt)
		root := t.TempDir()
		ctx := context.Background()
		p := newPool(t, g, root, `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"csv"}`)
		if err := write(ctx, p, nil, "t", small); err != nil {
			t.Fatal(err)
		}
		// The first write made a file: move it away to see only the
		// killed write's.
		if err := os.RemoveAll(filepath.Join(root, "t")); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		err := write(cctx, p, nil, "t", big, big, big, big)
		check(t, root, err)

		// An instance that dies with a no_rotate file open (the host
		// encodes, so the guest no longer runs out of memory on a big
		// batch: the call is stopped instead) leaves only that file's
		// temporary name.
		root = t.TempDir()
		np := newPool(t, g, root, `{"path":"{{TABLE}}.{{FORMAT}}","format":"parquet","no_rotate":true}`)
		in, err := np.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(ctx, np, in, "t", small); err != nil {
			t.Fatal(err)
		}
		dead, stop := context.WithCancel(ctx)
		stop()
		err = write(dead, np, in, "t", big)
		check(t, root, err)
		np.Release(ctx, in)
		if err := np.Close(ctx); err != nil {
			t.Logf("close: %v", err)
		}
		// The first batch was in the open file when the instance died: its
		// temporary file is all that is left of it.
		if got := files(t, root); len(got) != 1 || !isTemp(got[0]) {
			t.Errorf("files %v, want just the dead instance's temporary file", got)
		}
	})
}

// TestRefusals: what the guest refuses at Init, and never replacing a file.
func TestRefusals(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	root := t.TempDir()
	for _, c := range []struct {
		name, spec string
		mode       abi.WriteMode
		want       []string
	}{
		{"overwrite", `{"path":"{{UUID}}"}`, abi.WriteModeOverwrite, []string{`write_mode "overwrite"`, "append-only", `set write_mode to "append"`}},
		{"delete stale", `{"path":"{{UUID}}"}`, abi.WriteModeOverwriteDeleteStale, []string{"overwrite-delete-stale", "append-only"}},
		{"no uuid", `{"path":"{{TABLE}}.{{FORMAT}}"}`, abi.WriteModeAppend, []string{"no {{UUID}}", "add {{UUID}}"}},
		{"unknown format_spec key", `{"path":"{{UUID}}","format":"csv","format_spec":{"separator":";"}}`, abi.WriteModeAppend, []string{`unknown field "separator"`, "delimiter"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, err := filesystem.Dir(root)
			if err != nil {
				t.Fatal(err)
			}
			p, err := g.NewPool(host.PoolConfig{Grants: []host.Grant{fs, codec.Grant()}, Expand: expand,
				Init: &abi.InitRequest{Destination: "files", Spec: []byte(c.spec), WriteMode: c.mode}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			_, err = p.Acquire(ctx)
			if err == nil {
				t.Fatal("Init succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if g.HasFeature(abi.FeatureDeleteStale) {
		t.Error("the manifest offers delete_stale")
	}
	if !g.HasFeature(abi.FeatureRead) {
		t.Error("the manifest does not offer read")
	}
	if fmt.Sprint(g.Manifest().WriteModes) != "[append]" {
		t.Errorf("write modes %v, want [append]", g.Manifest().WriteModes)
	}

	t.Run("existing file", func(t *testing.T) {
		schema := testTable()
		rec := conformance.Rows(schema, 0, 3, conformance.RowOptions{Nanoseconds: true})
		defer rec.Release()
		if err := os.MkdirAll(filepath.Join(root, "keep"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "keep", "t.json"), []byte("precious\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := newPool(t, g, root, `{"path":"keep/{{TABLE}}.{{FORMAT}}","no_rotate":true}`)
		err := write(ctx, p, nil, "t", rec)
		if err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Errorf("got %v, want an error saying the file exists", err)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "keep", "t.json")); string(b) != "precious\n" {
			t.Errorf("the existing file was changed: %q", b)
		}
	})
}

// TestMemoryPlateau: guest memory never shrinks, so a format writer that
// makes much garbage per batch can ratchet it up until the instance runs
// out (arrow/csv's list cells once took a wide table from 120 MiB to the
// 512 MiB limit on the third batch). Memory must level off.
func TestMemoryPlateau(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 30000 rows of the wide test table through the guest per format")
	}
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	batches := []arrow.RecordBatch{conformance.Rows(schema, 0, 5000, conformance.RowOptions{Nanoseconds: true}), conformance.Rows(schema, 5000, 5000, conformance.RowOptions{Nanoseconds: true})}
	for _, f := range []string{"csv", "json", "parquet"} {
		t.Run(f, func(t *testing.T) {
			p := newPool(t, g, t.TempDir(), `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"`+f+`"}`)
			in, err := p.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Release(ctx, in)
			var sizes []uint32
			// Three pairs: the ratchet this guards against showed on the
			// third batch.
			for i := 0; i < 3; i++ {
				for _, r := range batches {
					if err := write(ctx, p, in, "t", r); err != nil {
						t.Fatal(err)
					}
				}
				sizes = append(sizes, in.MemorySize()>>20)
			}
			t.Logf("guest memory after each pair of 5000-row batches, MiB: %v", sizes)
			if last := sizes[len(sizes)-1]; last > sizes[0]*3/2 || last > 256 {
				t.Errorf("guest memory grew from %d to %d MiB", sizes[0], last)
			}
		})
	}
}

// TestBrokenBatch: a batch whose body breaks half-way is not written: with
// rotation its file is removed; with no_rotate the table's open file (which
// holds part of it) is discarded, and the error says so.
func TestBrokenBatch(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := testTable()
	rec := conformance.Rows(schema, 0, 20, conformance.RowOptions{Nanoseconds: true})
	defer rec.Release()
	body, err := io.ReadAll(host.RecordBody(schema, rec, rec))
	if err != nil {
		t.Fatal(err)
	}
	broken := body[:len(body)-200] // the second record is cut short
	for _, c := range []struct{ name, spec, want string }{
		{"rotate", `{"path":"{{TABLE}}/{{UUID}}.{{FORMAT}}","format":"csv"}`, ""},
		{"no_rotate", `{"path":"{{TABLE}}.{{FORMAT}}","format":"parquet","no_rotate":true}`, "rows of earlier batches, was discarded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := newPool(t, g, root, c.spec)
			if err := write(ctx, p, nil, "t", rec); err != nil {
				t.Fatal(err)
			}
			before := files(t, root)
			err := p.Call(ctx, nil, abi.OpWrite, abi.TableRequest{Table: "t"}, bytes.NewReader(broken), nil)
			if err == nil {
				t.Fatal("a broken body was written")
			}
			t.Logf("%v", err)
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			got := files(t, root)
			if c.name == "rotate" && strings.Join(got, " ") != strings.Join(before, " ") {
				t.Errorf("files %v after the broken batch, want only %v", got, before)
			}
			if c.name == "no_rotate" && len(got) != 0 {
				t.Errorf("files %v: the open file held half a batch and should be gone", got)
			}
		})
	}
}
