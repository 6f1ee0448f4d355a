package main

import (
	"bufio"
	"fmt"
	"github.com/wasmdest/wasmdest/internal/codec"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/uuid"

	"github.com/wasmdest/wasmdest/abi"
)

// fileScenarios: the file guest writing Parquet, CSV and JSON Lines (one
// file per batch of 10,000 rows, its defaults) against arrow-go's writers
// writing the same records to the same number of files, each in a worker
// process of its own as wasmdest's sync runs (job.runNative).
func (b *bench) fileScenarios() error {
	for _, f := range []struct{ format, native string }{
		{"parquet", "arrow-go pqarrow"},
		{"csv", "arrow-go csv"},
		{"json", "arrow-go array.RecordToJSON"},
	} {
		name := "file, " + f.format
		if b.fileFormats != nil && !slices.Contains(b.fileFormats, f.format) {
			fmt.Fprintf(os.Stderr, "== %s: skipped, the file guest has formats %v only\n", name, b.fileFormats)
			b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("%s: the file guest (built from %s) writes %s only", name, b.rep.Guests, strings.Join(b.fileFormats, ", ")))
			continue
		}
		step(name)
		sc := &scenario{Name: name, Group: "file"}
		dir := filepath.Join(b.tmp, "files")
		fresh := func() error {
			os.RemoveAll(dir)
			return os.MkdirAll(filepath.Join(dir, table), 0o755)
		}
		rs, err := b.rounds(
			method{func() (result, error) {
				if err := fresh(); err != nil {
					return result{}, err
				}
				j := job{Guest: b.fileGuest, CacheDir: b.cacheDir, WriteMode: abi.WriteModeAppend,
					Spec:      map[string]any{"path": "{{TABLE}}/{{UUID}}.{{FORMAT}}", "format": f.format},
					Directory: dir, Writers: 1, SyncTime: b.opts.t1, SourceName: b.opts.source, InputFile: b.ds.file}
				w, err := b.runWasmdest(j, 0, "wasmdest file guest")
				files, size := dirSize(dir)
				w.Note = fmt.Sprintf("%d files, %.0f MB", files, float64(size)/1e6)
				return w, err
			}},
			method{func() (result, error) {
				if err := fresh(); err != nil {
					return result{}, err
				}
				fmt.Fprintf(os.Stderr, "  %-40s", f.native)
				m, err := b.runNative("arrow-go", f.format, dir)
				if err != nil {
					return result{}, fmt.Errorf("%s: %w", f.native, err)
				}
				n := result{Method: f.native, Rows: b.rows, Seconds: m.Seconds, HostCPU: m.CPUSeconds}
				n.fill(b.ds.bytes)
				files, size := dirSize(dir)
				n.Note = fmt.Sprintf("%d files, %.0f MB", files, float64(size)/1e6)
				fmt.Fprintln(os.Stderr, n.line())
				return n, nil
			}},
			// The fastest honest native writer: wasmdest's own encoder
			// (internal/codec, what the codec capability runs in the
			// host), natively in this process, same files.
			method{func() (result, error) {
				if err := fresh(); err != nil {
					return result{}, err
				}
				const label = "wasmdest codec natively"
				fmt.Fprintf(os.Stderr, "  %-40s", label)
				m, err := b.runNative("codec", f.format, dir)
				if err != nil {
					return result{}, fmt.Errorf("%s: %w", label, err)
				}
				n := result{Method: label, Rows: b.rows, Seconds: m.Seconds, HostCPU: m.CPUSeconds}
				n.fill(b.ds.bytes)
				files, size := dirSize(dir)
				n.Note = fmt.Sprintf("%d files, %.0f MB", files, float64(size)/1e6)
				fmt.Fprintln(os.Stderr, n.line())
				return n, nil
			}})
		os.RemoveAll(dir)
		if err != nil {
			// One format failing does not stop the others.
			fmt.Fprintf(os.Stderr, "\n== %s failed: %v\n", name, err)
			b.rep.Skipped = append(b.rep.Skipped, fmt.Sprintf("%s failed: %v", name, err))
			continue
		}
		w, n, c := rs[0], rs[1], rs[2]
		sc.add(w, n, c)
		// Issue 15: every format through the guest at >= 0.8x of the
		// native writers, arrow-go's and the fastest native one.
		goal := fmt.Sprintf("%s through the guest at >= 0.8x of the native writer", f.format)
		sc.target(n.Method, 0.8, goal)
		sc.target(c.Method, 0.8, goal)
		b.rep.add(sc)
	}
	return nil
}

// runNative runs a native file writer (job.Native) in a worker process,
// as the guest's sync runs, writing the dataset's rows in format to
// dir/<table>.
func (b *bench) runNative(native, format, dir string) (jobResult, error) {
	return runJob(job{Native: native, Format: format, NativeRows: b.rows, Directory: dir,
		SyncTime: b.opts.t1, SourceName: b.opts.source})
}

// writeNative writes each record of the dataset (as the host sends it to
// guests) to a file of its own with arrow-go's writer for format, and
// syncs each file to disk before closing it, as the file guest does (a
// file it reports written is on disk): without that the native writers
// would be timed to the page cache and the guest to the disk, 0.4 s of
// the 1M-row Parquet run's difference (RATIONALE.md, "The codec
// capability").
func (b *bench) writeNative(dir, format, ext string) error {
	for _, rec := range b.ds.wanted {
		f, err := os.Create(filepath.Join(dir, uuid.NewString()+"."+ext))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := writeOne(bw, format, rec); err != nil {
			f.Close()
			return err
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// writeCodec writes each record of the dataset to a file of its own with
// wasmdest's encoder (internal/codec) and the file guest's default spec,
// syncing each file as writeNative does.
func (b *bench) writeCodec(dir, format, ext string) error {
	spec, err := filespec.ParseFormat(filespec.Format(format), nil, filespec.None)
	if err != nil {
		return err
	}
	for _, rec := range b.ds.wanted {
		f, err := os.Create(filepath.Join(dir, uuid.NewString()+"."+ext))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		w, err := codec.NewWriter(bw, rec.Schema(), &spec, "")
		if err == nil {
			err = w.Write(rec)
		}
		if err == nil {
			err = w.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func writeOne(w io.Writer, format string, rec arrow.RecordBatch) error {
	switch format {
	case "parquet":
		pw, err := pqarrow.NewFileWriter(rec.Schema(), w, parquet.NewWriterProperties(),
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		if err := pw.Write(rec); err != nil {
			return err
		}
		return pw.Close()
	case "csv":
		cw := csv.NewWriter(w, rec.Schema(), csv.WithHeader(true), csv.WithNullWriter(""), csv.WithCRLF(true))
		if err := cw.Write(rec); err != nil {
			return err
		}
		return cw.Flush()
	case "json":
		return array.RecordToJSON(rec, w)
	}
	return fmt.Errorf("no native writer for %s", format)
}

func dirSize(dir string) (files int, bytes int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return files, bytes
}
