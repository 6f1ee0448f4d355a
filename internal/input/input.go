// Package input opens what `wasmdest run` reads: Arrow IPC (through
// internal/arrowio), Parquet, CSV and JSON Lines, plain or gzip/zstd
// compressed, from files, directories, globs and stdin. Each opened input
// is one table's records, read a bounded piece at a time:
//
//   - Arrow IPC: arrowio's reader, one message at a time.
//   - Parquet: arrow-go's pqarrow, BatchSize rows at a time with buffered
//     column reads, so a file of any size is read in bounded memory, row
//     group by row group. Its schema is the one stored in the file (the
//     Arrow schema pqarrow keeps in the footer, with CloudQuery's metadata
//     and extension types when the writer stored them).
//   - CSV (with a header row) and JSON Lines: arrow-go's readers, Chunk rows
//     at a time, with the schema given (Options.Schema) or inferred from the
//     first SampleRows rows (see Infer).
//
// The table's name is the schema's cq:table_name metadata, else the file's
// name without extensions, else (for files named by a UUID, as CloudQuery's
// file destination names them under {{TABLE}}/{{UUID}}.{{FORMAT}}) the name
// of the directory holding the file.
package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
	"github.com/wasmdest/wasmdest/internal/arrowio"
)

// Format is an input format.
type Format string

// Formats. FormatAuto detects the format from the file's first bytes and,
// for text, its extension.
const (
	FormatAuto    Format = ""
	FormatArrow   Format = "arrow"
	FormatParquet Format = "parquet"
	FormatCSV     Format = "csv"
	FormatJSON    Format = "json"
)

// Input is one table's records; syncer.Input is satisfied by it.
type Input interface {
	Table() arrowio.Table
	// Next returns the next record, io.EOF at the end. The caller releases it.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	Close() error
}

// Options say how to read text inputs.
type Options struct {
	// Format forces a format; FormatAuto detects it.
	Format Format
	// Schemas, if set, are the schemas of CSV and JSON inputs: one whose
	// cq:table_name names the input's table, else one without a name.
	// Without one the schema is inferred per table from its first file
	// (later files of the table are read with it).
	Schemas []*arrow.Schema
	// SampleRows is how many rows inference looks at (default 1000).
	SampleRows int
	// Chunk is the rows per record of CSV, JSON and Parquet (default 10000).
	Chunk int
	// Limits bound Arrow IPC inputs (arrowio.DefaultLimits when zero).
	Limits arrowio.Limits
}

func (o Options) withDefaults() Options {
	if o.SampleRows <= 0 {
		o.SampleRows = 1000
	}
	if o.Chunk <= 0 {
		o.Chunk = 10000
	}
	return o
}

// Opener opens inputs, remembering the schema inferred for each table so
// that every file of one table is read with the same schema.
type Opener struct {
	opts     Options
	inferred map[string]*arrow.Schema
}

// NewOpener returns an Opener with opts.
func NewOpener(opts Options) *Opener {
	arrowtypes.Register()
	return &Opener{opts: opts.withDefaults(), inferred: map[string]*arrow.Schema{}}
}

// Open opens one argument: a file, a directory (every file below it, in
// name order, hidden files skipped), a glob, or "-" (stdin). On error,
// the inputs already opened are closed.
func (o *Opener) Open(arg string) ([]Input, error) {
	files, err := expand(arg)
	if err != nil {
		return nil, err
	}
	var out []Input
	for _, f := range files {
		in, err := o.openFile(f.path, f.table)
		if err != nil {
			for _, i := range out {
				i.Close()
			}
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// inFile is one file to open and the table name its place gives it.
type inFile struct{ path, table string }

// expand lists the files of an argument.
func expand(arg string) ([]inFile, error) {
	if arg == "-" {
		return []inFile{{path: "-"}}, nil
	}
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && strings.ContainsAny(arg, "*?[") {
			matches, gerr := filepath.Glob(arg)
			if gerr != nil {
				return nil, fmt.Errorf("%s: %w", arg, gerr)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("%s: no file matches", arg)
			}
			var out []inFile
			for _, m := range matches {
				fs, err := expand(m)
				if err != nil {
					return nil, err
				}
				out = append(out, fs...)
			}
			return out, nil
		}
		return nil, err
	}
	if !st.IsDir() {
		return []inFile{{path: arg, table: tableOf(arg, "")}}, nil
	}
	var out []inFile
	err = filepath.WalkDir(arg, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != arg && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			out = append(out, inFile{path: p, table: tableOf(p, arg)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the directory holds no file", arg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// tableOf is the table name a file's place gives it: its name without
// extensions, or, when that is a UUID (CloudQuery's {{UUID}}), its
// directory's name. Under a directory argument root, a file in a
// subdirectory takes the subdirectory's name (root/users/x.json: users).
func tableOf(path, root string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if root != "" {
		if rel, err := filepath.Rel(root, path); err == nil {
			if parts := strings.Split(filepath.ToSlash(rel), "/"); len(parts) > 1 {
				return parts[0]
			}
		}
	}
	if _, err := uuid.Parse(base); err == nil {
		dir := filepath.Base(filepath.Dir(path))
		if root != "" && filepath.Clean(filepath.Dir(path)) == filepath.Clean(root) {
			dir = filepath.Base(filepath.Clean(root))
		}
		if dir != "." && dir != "/" {
			return dir
		}
	}
	return base
}

// Magic numbers.
var (
	gzipMagic    = []byte{0x1f, 0x8b}
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
	parquetMagic = []byte("PAR1")
	arrowFile    = []byte("ARROW1")
	arrowStream  = []byte{0xff, 0xff, 0xff, 0xff}
)

// openFile opens one file (or stdin) as its format.
func (o *Opener) openFile(path, table string) (Input, error) {
	name := path
	if path == "-" {
		name = "stdin"
	}
	var src io.ReadCloser = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		src = f
	}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(8)
	var closers []io.Closer
	if path != "-" {
		closers = append(closers, src)
	}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}
	var r io.Reader = br
	compressed := ""
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		closers = append(closers, zr)
		r, compressed = zr, "gzip"
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(1<<30), zstd.WithDecoderConcurrency(1))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: zstd: %w", name, err)
		}
		closers = append(closers, zr.IOReadCloser())
		r, compressed = zr, "zstd"
	}
	if compressed != "" {
		inner := bufio.NewReaderSize(r, 64<<10)
		head, _ = inner.Peek(8)
		r = inner
	}
	format := o.opts.Format
	if format == FormatAuto {
		format = detect(head, path)
	}
	if format == FormatAuto {
		closeAll()
		return nil, fmt.Errorf("%s: unknown input format (not Arrow IPC, Parquet, CSV or JSON Lines by its first bytes or extension): give --format", name)
	}
	var in Input
	var err error
	switch format {
	case FormatArrow:
		var rd *arrowio.Reader
		rd, err = arrowio.NewReader(nameFor(path, table), r, o.opts.Limits)
		if err == nil {
			in = &closing{Input: rd, closers: closers}
		}
	case FormatParquet:
		in, err = o.openParquet(name, path, r, compressed, table, closers)
	case FormatCSV, FormatJSON:
		in, err = o.openText(format, name, r, table, closers)
	default:
		err = fmt.Errorf("%s: unknown format %q (want arrow, parquet, csv or json)", name, format)
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	return in, nil
}

// nameFor is the name arrowio takes a table name from when the schema has
// no cq:table_name.
func nameFor(path, table string) string {
	if table == "" || path == "-" {
		return path
	}
	return filepath.Join(filepath.Dir(path), table+".arrows")
}

// detect tells the format by the first bytes, then the extension.
func detect(head []byte, path string) Format {
	switch {
	case bytes.HasPrefix(head, parquetMagic):
		return FormatParquet
	case bytes.HasPrefix(head, arrowFile), bytes.HasPrefix(head, arrowStream):
		return FormatArrow
	}
	exts := strings.Split(strings.ToLower(filepath.Base(path)), ".")
	for _, e := range slices.Backward(exts[1:]) {
		switch e {
		case "csv", "tsv":
			return FormatCSV
		case "json", "jsonl", "ndjson":
			return FormatJSON
		case "arrow", "arrows", "ipc", "feather":
			return FormatArrow
		case "parquet":
			return FormatParquet
		}
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return FormatJSON
	}
	return FormatAuto
}

// closing is an Input that closes more when it is closed.
type closing struct {
	Input
	closers []io.Closer
}

func (c *closing) Close() error {
	err := c.Input.Close()
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i].Close()
	}
	return err
}

// withTableName returns sc with cq:table_name set to table when it has none.
func withTableName(sc *arrow.Schema, table string) *arrow.Schema {
	md := sc.Metadata()
	if v, ok := md.GetValue(abi.MetaTableName); ok && v != "" {
		return sc
	}
	keys := append(slices.Clone(md.Keys()), abi.MetaTableName)
	vals := append(slices.Clone(md.Values()), table)
	nmd := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(sc.Fields(), &nmd)
}

// tableFrom makes the arrowio.Table of a schema.
func tableFrom(name string, sc *arrow.Schema, table string) (arrowio.Table, error) {
	t := arrowio.Table{Schema: sc}
	if v, ok := sc.Metadata().GetValue(abi.MetaTableName); ok && v != "" {
		t.Name = v
	} else if table != "" {
		t.Name = table
		t.Schema = withTableName(sc, table)
	} else {
		return t, fmt.Errorf("%s: the schema has no %s metadata and stdin has no file name to take the table name from: give a schema with %s (--schema)", name, abi.MetaTableName, abi.MetaTableName)
	}
	for _, f := range t.Schema.Fields() {
		if v, _ := f.Metadata.GetValue(abi.MetaPrimaryKey); v == abi.MetaTrue {
			t.PrimaryKeys = append(t.PrimaryKeys, f.Name)
		}
		if v, _ := f.Metadata.GetValue(abi.MetaUnique); v == abi.MetaTrue {
			t.Unique = append(t.Unique, f.Name)
		}
	}
	return t, nil
}
