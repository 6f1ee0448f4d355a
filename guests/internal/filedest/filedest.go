// Package filedest is the destination shared by the guests that write each
// table as encoded files: files below a directory (guests/file) or objects
// in a bucket (guests/s3). It holds what they do alike: the manifest, the
// write_mode they take, the names (naming.go), the rotation (one file per
// write, or with no_rotate one per table until Close), the encoding
// through the host's codec capability (the guest never reads a row), the
// rows reported held or lost, and the read back through codec_decode.
// Where the bytes go, and how a file is made to appear whole or not at
// all, is the guest's Store.
package filedest

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// Manifest is the manifest of a file-like guest: name and version, the
// capability of its store (abi.CapFilesystem, abi.CapHTTP) with the codec
// capability, specSchema, append only (files are never rewritten or
// deleted) and the file destination's batch defaults. Without
// core.StaleDeleter the host refuses overwrite-delete-stale up front.
func Manifest(name, version string, store abi.Capability, specSchema []byte) abi.Manifest {
	return abi.Manifest{
		Name:         name,
		Version:      version,
		Capabilities: []abi.Capability{store, abi.CapCodec},
		SpecSchema:   specSchema,
		WriteModes:   []abi.WriteMode{abi.WriteModeAppend},
		BatchDefaults: abi.BatchLimits{
			Rows:    filespec.DefaultBatchRows,
			Bytes:   filespec.DefaultBatchBytes,
			Timeout: filespec.DefaultBatchTimeout,
		},
	}
}

// Store is where a guest's files go: a directory, a bucket.
type Store interface {
	// Create starts the new file name (relative to the store's root, as
	// Name returns it). Nothing of it may be seen under name before Commit.
	Create(name string) (File, error)
	// ReadAll returns the whole content of the file name, which this
	// instance committed.
	ReadAll(name string) ([]byte, error)
	// Where is how messages show the file name, e.g. "/out/t.json" or
	// "s3://bucket/t.json".
	Where(name string) string
}

// File is a file being written. Commit or Abort ends it, once.
type File interface {
	// Write takes the next encoded bytes.
	Write(p []byte) (int, error)
	// Commit makes the file appear under its name, whole, without
	// replacing a file of that name (an error saying so, with ExistsFix,
	// if there is one).
	Commit() error
	// Abort removes everything of the file. Its error says what may be
	// left behind and how to remove it.
	Abort() error
}

// Words are the guest's words for what it writes, in its messages.
type Words struct {
	// Destination names the destination: "file", "S3".
	Destination string
	// File is what it writes: "file", "object".
	File string
	// Finished says that Commit ran: "finished", "completed".
	Finished string
}

// a is w.File with its indefinite article.
func (w Words) a() string {
	switch w.File[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + w.File
	}
	return "a " + w.File
}

// Destination is core.SchemaDestination and core.StreamReader on a Store
// that Open makes from the spec at Init.
type Destination struct {
	// Words name what the guest writes.
	Words Words
	// CreatedBy is the "created by" of the Parquet files it writes.
	CreatedBy string
	// Open parses the guest's spec and returns its file keys and its store.
	Open func(spec []byte) (*filespec.Spec, Store, error)

	spec  *filespec.Spec
	store Store
	// codec is the spec's format keys, as the codec capability takes them.
	codec abi.CodecFormat
	// scratch is the buffer encoded bytes are copied through, from the
	// host (codec_read) to the file: the host hands them over in pieces
	// as large as scratch, so a file needs no buffer of its own.
	scratch []byte
	// open holds, per table, the file kept open across Write calls with no_rotate.
	open map[string]*openFile
	// written lists, per table, the files this instance committed, for Read.
	written map[string][]writtenFile
}

type writtenFile struct {
	name   string
	schema core.IPCSchema
}

// openFile is a file being written.
type openFile struct {
	table, name string
	schema      core.IPCSchema
	file        File
	enc         *core.Encoder
	rows        int64
}

// Init checks the write mode, opens the spec's store and prepares the
// destination.
func (d *Destination) Init(_ context.Context, req abi.InitRequest) error {
	switch req.WriteMode {
	case abi.WriteModeAppend, "":
	default:
		return fmt.Errorf("write_mode %q is not supported by the %s destination: %ss are append-only (each batch becomes new %ss; nothing is ever rewritten or deleted, so there is nothing to overwrite); set write_mode to %q",
			req.WriteMode, d.Words.Destination, d.Words.File, d.Words.File, abi.WriteModeAppend)
	}
	spec, store, err := d.Open(req.Spec)
	if err != nil {
		return err
	}
	d.spec, d.store = spec, store
	d.codec = abi.CodecFormat{Format: string(spec.Format), FormatSpec: spec.FormatSpec, Compression: string(spec.Compression)}
	d.scratch = make([]byte, 256<<10)
	d.open = map[string]*openFile{}
	d.written = map[string][]writtenFile{}
	return nil
}

// Write writes the running write's batch: the guest has only its schema
// (core.RegisterSchemaOnly), the host encodes the records by reference
// (core.Encoder.WriteBatch). Without no_rotate the batch is one new file;
// with no_rotate it goes into the table's open file.
func (d *Destination) Write(ctx context.Context, table string, schema core.IPCSchema) error {
	of := d.open[table]
	if of != nil && !of.schema.Equal(schema) {
		return fmt.Errorf("table %s: the schema changed while %s is open (no_rotate keeps one %s per table, and %s holds one schema); the %s keeps its %d rows and is %s at close; start a new sync to write the new schema to a new %s",
			table, d.store.Where(of.name), d.Words.File, d.Words.a(), d.Words.File, of.rows, d.Words.Finished, d.Words.File)
	}
	if of == nil {
		return d.writeNew(ctx, table, schema)
	}
	before := of.rows
	rows, err := of.enc.WriteBatch()
	if err == nil {
		_, err = of.enc.Drain(of.file, d.scratch)
	}
	if err != nil {
		aerr := d.abort(of)
		return fmt.Errorf("table %s: write %s: %w%s%s", table, d.store.Where(of.name), err, d.discarded(ctx, of, before), also(aerr))
	}
	of.rows += rows
	// The batch is in the open no_rotate file, which is committed at
	// close: it is not durable until then.
	core.ReportWrite(ctx, abi.WriteResult{HeldRows: rows})
	return nil
}

// writeNew writes the running write's batch to a new file: committed at
// once, or kept open for later batches with no_rotate. An empty batch makes
// no file.
func (d *Destination) writeNew(ctx context.Context, table string, schema core.IPCSchema) error {
	enc, err := core.CodecOpenStream(d.codec, nil, d.CreatedBy)
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
	name, err := Name(d.spec, table)
	if err != nil {
		enc.Close()
		return err
	}
	f, err := d.store.Create(name)
	if err != nil {
		enc.Close()
		return fmt.Errorf("table %s: %w", table, err)
	}
	of := &openFile{table: table, name: name, schema: schema, file: f, enc: enc, rows: rows}
	if _, err := enc.Drain(f, d.scratch); err != nil {
		aerr := d.abort(of)
		return fmt.Errorf("table %s: write %s: %w%s", table, d.store.Where(name), err, also(aerr))
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
func (d *Destination) discarded(ctx context.Context, of *openFile, earlier int64) string {
	if d.spec.NoRotate && earlier > 0 {
		core.ReportWrite(ctx, abi.WriteResult{LostRows: earlier})
		return fmt.Sprintf("; a batch cannot be taken back out of %s, so the table's open %s, with the %d rows of earlier batches, was discarded (%s was not written)",
			d.Words.a(), d.Words.File, earlier, d.store.Where(of.name))
	}
	return ""
}

// also adds a failed Abort's error to the error that made it abort.
func also(abortErr error) string {
	if abortErr == nil {
		return ""
	}
	return "; and " + abortErr.Error()
}

// finish ends a file's encoding and commits it.
func (d *Destination) finish(of *openFile) error {
	delete(d.open, of.table)
	err := of.enc.Finish()
	if err == nil {
		_, err = of.enc.Drain(of.file, d.scratch)
	}
	if cerr := of.enc.Close(); err == nil {
		err = cerr
	}
	of.enc = nil
	if err == nil {
		err = of.file.Commit()
	}
	if err != nil {
		aerr := d.abort(of)
		return fmt.Errorf("table %s: finish %s: %w%s", of.table, d.store.Where(of.name), err, also(aerr))
	}
	d.written[of.table] = append(d.written[of.table], writtenFile{name: of.name, schema: of.schema})
	core.Debug(d.Words.File+" written", "table", of.table, "name", d.store.Where(of.name), "rows", of.rows)
	return nil
}

// abort gives up a file: its encoder is closed and what was written of it
// removed.
func (d *Destination) abort(of *openFile) error {
	delete(d.open, of.table)
	if of.enc != nil {
		of.enc.Close()
		of.enc = nil
	}
	return of.file.Abort()
}

// Close commits every file still open (no_rotate).
func (d *Destination) Close(context.Context) error {
	var errs []error
	for _, of := range d.open {
		errs = append(errs, d.finish(of))
	}
	return errors.Join(errs...)
}

// ReadStreams writes every row of table in the files this instance
// committed, in the order it wrote them, with schema. A column a file has
// not (it was written before a migration added it) reads as nulls. Each
// file is decoded by the host's codec (codec_decode): the guest holds no
// decoder of its own, and passes the decoded stream on.
func (d *Destination) ReadStreams(_ context.Context, table string, schema core.IPCSchema, out *core.StreamWriter) error {
	if of := d.open[table]; of != nil {
		return fmt.Errorf("table %s: its %s %s is still being written (no_rotate); its %d rows can be read once the destination is closed", table, d.Words.File, d.store.Where(of.name), of.rows)
	}
	for _, wf := range d.written[table] {
		if err := d.read(wf, schema, out); err != nil {
			return fmt.Errorf("table %s: read %s: %w", table, d.store.Where(wf.name), err)
		}
	}
	return nil
}

func (d *Destination) read(wf writtenFile, schema core.IPCSchema, out *core.StreamWriter) error {
	data, err := d.store.ReadAll(wf.name)
	if err != nil {
		return err
	}
	rows, err := core.CodecDecodeStream(d.codec, wf.schema, schema, data)
	if err != nil {
		return err
	}
	return out.WriteStream(rows)
}
