//go:build wasip1

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/naming"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// destination writes each table's rows as files below "/", the one
// directory the host grants (the filesystem capability, host/capability/filesystem).
//
// Without no_rotate every Write call is one file. With no_rotate a table's
// file stays open across Write calls and is finished by Close. Either way a
// file is written under a temporary name (".<name>.<random>.tmp" in the
// same directory) and gets its final name only once complete, without
// replacing a file of that name: a file is complete or absent.
//
// The host encodes the files (the codec capability, host/capability/codec):
// the guest hands it each write's batch by reference and writes the bytes
// it gets back to the file it opened. Names, rotation, the temporary file
// and what happens on failure stay here.
type destination struct {
	spec filespec.Spec
	// codec is the spec's format keys, as the codec capability takes them.
	codec abi.CodecFormat
	// scratch is the buffer encoded bytes are copied through, from the
	// host (codec_read) straight to the file (fd_write): the host hands
	// them over in pieces as large as scratch, so a file needs no buffer
	// of its own.
	scratch []byte
	// open holds, per table, the file kept open across Write calls with no_rotate.
	open map[string]*openFile
	// written lists, per table, the files this instance finished, for Read.
	written map[string][]writtenFile
}

type writtenFile struct {
	name   string
	schema core.IPCSchema
}

// openFile is a file being written under its temporary name.
type openFile struct {
	table, final, tmp string
	schema            core.IPCSchema
	f                 *os.File
	enc               *core.Encoder
	rows              int64
}

func (d *destination) Init(_ context.Context, req abi.InitRequest) error {
	switch req.WriteMode {
	case abi.WriteModeAppend, "":
	default:
		return fmt.Errorf("write_mode %q is not supported by the file destination: files are append-only (each batch becomes new files; nothing is ever rewritten or deleted, so there is nothing to overwrite); set write_mode to %q", req.WriteMode, abi.WriteModeAppend)
	}
	s, err := filespec.Parse(req.Spec)
	if err != nil {
		return err
	}
	d.spec = s
	d.codec = abi.CodecFormat{Format: string(s.Format), FormatSpec: s.FormatSpec, Compression: string(s.Compression)}
	d.scratch = make([]byte, 256<<10)
	d.open = map[string]*openFile{}
	d.written = map[string][]writtenFile{}
	return nil
}

// Write writes the running write's batch: the guest has only its schema
// (core.RegisterSchemaOnly), the host encodes the records by reference
// (core.Encoder.WriteBatch).
func (d *destination) Write(ctx context.Context, table string, schema core.IPCSchema) error {
	of := d.open[table]
	if of != nil && !of.schema.Equal(schema) {
		return fmt.Errorf("table %s: the schema changed while %s is open (no_rotate keeps one file per table, and a file holds one schema); the file keeps its %d rows and is finished at close; start a new sync to write the new schema to a new file",
			table, of.final, of.rows)
	}
	if of == nil {
		return d.writeNew(ctx, table, schema)
	}
	before := of.rows
	rows, err := of.enc.WriteBatch()
	if err == nil {
		_, err = of.enc.Drain(of.f, d.scratch)
	}
	if err != nil {
		d.abort(of)
		return fmt.Errorf("table %s: write %s: %w%s", table, of.final, err, d.discarded(ctx, of, before))
	}
	of.rows += rows
	// The batch is in the open no_rotate file, which gets its name at
	// close: it is not durable until then.
	core.ReportWrite(ctx, abi.WriteResult{HeldRows: rows})
	return nil
}

// writeNew writes the running write's batch to a new file: finished at
// once, or kept open for later batches with no_rotate. An empty batch makes
// no file.
func (d *destination) writeNew(ctx context.Context, table string, schema core.IPCSchema) error {
	enc, err := core.CodecOpenStream(d.codec, nil, CreatedBy)
	if err != nil {
		return fmt.Errorf("table %s: %w", table, err)
	}
	rows, err := enc.WriteBatch()
	if err != nil || rows == 0 {
		enc.Close()
		if err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		return nil
	}
	of, err := d.create(table, schema, enc)
	if err != nil {
		enc.Close()
		return err
	}
	of.rows = rows
	if _, err := enc.Drain(of.f, d.scratch); err != nil {
		d.abort(of)
		return fmt.Errorf("table %s: write %s: %w", table, of.final, err)
	}
	if d.spec.NoRotate {
		d.open[table] = of
		core.ReportWrite(ctx, abi.WriteResult{HeldRows: rows})
		return nil
	}
	return d.finish(of)
}

// discarded explains, after a failure, what happened to a no_rotate file
// that held earlier rows, and tells the host they are lost.
func (d *destination) discarded(ctx context.Context, of *openFile, earlier int64) string {
	if d.spec.NoRotate && earlier > 0 {
		core.ReportWrite(ctx, abi.WriteResult{LostRows: earlier})
		return fmt.Sprintf("; a batch cannot be taken back out of a file, so the table's open file, with the %d rows of earlier batches, was discarded (%s was not written)", earlier, of.final)
	}
	return ""
}

// create expands the path for a new file of table and opens it under a
// temporary name in the final directory, for the content enc encodes.
func (d *destination) create(table string, schema core.IPCSchema, enc *core.Encoder) (*openFile, error) {
	rel, err := naming.Name(&d.spec, table)
	if err != nil {
		return nil, err
	}
	final := "/" + rel
	dir := path.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("table %s: create directory %s: %w%s", table, dir, err, explain(dir, err))
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, d.exists(table, final)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("table %s: %s: %w%s", table, final, err, explain(final, err))
	}
	tmp := path.Join(dir, "."+path.Base(final)+"."+randomHex()+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("table %s: create %s: %w%s", table, tmp, err, explain(tmp, err))
	}
	of := &openFile{table: table, final: final, tmp: tmp, schema: schema, f: f, enc: enc}
	core.Debug("file opened", "table", table, "path", final, "tmp", tmp)
	return of, nil
}

func (d *destination) exists(table, final string) error {
	return fmt.Errorf("table %s: %s exists already, and the file destination never replaces a file (write_mode append); %s", table, final, naming.ExistsFix(d.spec.NoRotate))
}

// explain adds what the host's refusal of a path that leaves the granted
// directory looks like from here: EPERM, or, when the Go runtime turns it
// into another error (MkdirAll says "file exists" for a symlink it may not
// follow), a component of p that cannot be followed.
func explain(p string, err error) string {
	const why = " (the host refuses paths that leave the granted directory; %s)"
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range parts {
		prefix := "/" + strings.Join(parts[:i+1], "/")
		fi, lerr := os.Lstat(prefix)
		if lerr != nil {
			break
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, serr := os.Stat(prefix); errors.Is(serr, syscall.EPERM) {
			target, _ := os.Readlink(prefix)
			return fmt.Sprintf(why, fmt.Sprintf("%s is a symlink to %q, which points outside it", prefix, target))
		}
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission) {
		return fmt.Sprintf(why, "a symlink in the path may point outside it; also check the directory's permissions")
	}
	return ""
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// finish completes a file and gives it its final name.
func (d *destination) finish(of *openFile) error {
	delete(d.open, of.table)
	err := of.enc.Finish()
	if err == nil {
		_, err = of.enc.Drain(of.f, d.scratch)
	}
	if cerr := of.enc.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = of.f.Sync()
	}
	if cerr := of.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = publish(of.tmp, of.final)
		if errors.Is(err, fs.ErrExist) {
			err = d.exists(of.table, of.final)
		}
	}
	if err != nil {
		os.Remove(of.tmp)
		return fmt.Errorf("table %s: finish %s: %w", of.table, of.final, err)
	}
	d.written[of.table] = append(d.written[of.table], writtenFile{name: of.final, schema: of.schema})
	core.Debug("file written", "table", of.table, "path", of.final, "rows", of.rows)
	return nil
}

// publish gives tmp the name final, failing if final exists (another
// instance may have finished a file of that name meanwhile). A hard link
// does that atomically; where the filesystem has none, a check and a
// rename come close.
func publish(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(final); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, final)
}

// abort removes a file that will not be finished.
func (d *destination) abort(of *openFile) {
	delete(d.open, of.table)
	of.enc.Close()
	of.f.Close()
	os.Remove(of.tmp)
}

func (d *destination) Close(context.Context) error {
	var errs []error
	for _, of := range d.open {
		errs = append(errs, d.finish(of))
	}
	return errors.Join(errs...)
}

// ReadStreams writes every row of table in the files this instance
// finished, in the order it wrote them, with schema. A column the file has
// not (it was written before a migration added it) reads as nulls.
func (d *destination) ReadStreams(ctx context.Context, table string, schema core.IPCSchema, out *core.StreamWriter) error {
	if of := d.open[table]; of != nil {
		return fmt.Errorf("table %s: its file %s is still being written (no_rotate); its %d rows can be read from the file once the destination is closed", table, of.final, of.rows)
	}
	for _, wf := range d.written[table] {
		if err := d.readFile(ctx, wf, schema, out); err != nil {
			return fmt.Errorf("table %s: read %s: %w", table, wf.name, err)
		}
	}
	return nil
}

// readFile decodes a file through the host's codec (codec_decode): the
// guest holds no decoder of its own, and passes the decoded stream on.
func (d *destination) readFile(_ context.Context, wf writtenFile, schema core.IPCSchema, out *core.StreamWriter) error {
	data, err := os.ReadFile(wf.name)
	if err != nil {
		return err
	}
	rows, err := core.CodecDecodeStream(d.codec, wf.schema, schema, data)
	if err != nil {
		return err
	}
	return out.WriteStream(rows)
}
