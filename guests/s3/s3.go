//go:build wasip1

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/internal/naming"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

// maxReadObject bounds an object Read fetches whole to decode (Read is
// for conformance and checks, not bulk export).
const maxReadObject = 1 << 30

// destination writes each table's rows as objects in one bucket, through
// the host's http capability (which signs the requests; the guest never
// sees a credential) and its codec capability (which encodes the rows).
//
// Without no_rotate every Write call is one object. With no_rotate a
// table's object stays open across Write calls and is completed by Close.
// Either way an object appears whole or not at all: a small one is one
// PUT; a larger one goes up as a multipart upload, which S3 makes visible
// only when it is completed, and which is aborted on any failure.
type destination struct {
	spec Spec
	// codec is the spec's format keys, as the codec capability takes them.
	codec abi.CodecFormat
	c     *client
	// scratch is the buffer encoded bytes are copied through.
	scratch []byte
	// open holds, per table, the object kept open across Write calls with no_rotate.
	open map[string]*object
	// written lists, per table, the objects this instance completed, for Read.
	written map[string][]writtenObject
	// spare is a part buffer to reuse: without no_rotate one object is
	// open at a time, and a new part buffer per object would make the
	// guest's memory grow and its collector work for nothing.
	spare []byte
}

type writtenObject struct {
	key    string
	schema *arrow.Schema
}

// object is an object being written: its encoded bytes collect in buf
// until a part is full, and go up in one PUT if it never fills.
type object struct {
	d                 *destination
	table, key, ctype string
	schema            *arrow.Schema
	enc               *sdk.Encoder
	buf               []byte
	uploadID          string
	parts             []completedPart
	rows              int64
}

func (d *destination) Init(_ context.Context, req abi.InitRequest) error {
	switch req.WriteMode {
	case abi.WriteModeAppend, "":
	default:
		return fmt.Errorf("write_mode %q is not supported by the S3 destination: objects are append-only (each batch becomes new objects; nothing is ever rewritten or deleted); set write_mode to %q", req.WriteMode, abi.WriteModeAppend)
	}
	s, err := ParseSpec(req.Spec)
	if err != nil {
		return err
	}
	c, err := newClient(s)
	if err != nil {
		return err
	}
	d.spec, d.c = s, c
	d.codec = abi.CodecFormat{Format: string(s.Format), FormatSpec: s.FormatSpec, Compression: string(s.Compression)}
	d.scratch = make([]byte, 256<<10)
	d.open = map[string]*object{}
	d.written = map[string][]writtenObject{}
	return nil
}

func (d *destination) Write(ctx context.Context, table string, records array.RecordReader) error {
	schema := records.Schema()
	o := d.open[table]
	if o != nil && !o.schema.Equal(schema) {
		return fmt.Errorf("table %s: the schema changed while s3://%s/%s is open (no_rotate keeps one object per table, and an object holds one schema); the object keeps its %d rows and is completed at close; start a new sync to write the new schema to a new object",
			table, d.spec.Bucket, o.key, o.rows)
	}
	if o == nil {
		return d.writeNew(ctx, table, schema)
	}
	before := o.rows
	rows, err := o.enc.WriteBatch()
	if err == nil {
		_, err = o.enc.Drain(o, d.scratch)
	}
	if err != nil {
		aerr := d.abort(o)
		return fmt.Errorf("table %s: write s3://%s/%s: %w%s%s", table, d.spec.Bucket, o.key, err, d.discarded(ctx, o, before), aborted(aerr))
	}
	o.rows += rows
	// The batch is in the open no_rotate object, which is completed at
	// close: it is not durable until then.
	sdk.ReportWrite(ctx, abi.WriteResult{HeldRows: rows})
	return nil
}

// writeNew writes the running write's batch to a new object: completed at
// once, or kept open for later batches with no_rotate. An empty batch makes
// no object.
func (d *destination) writeNew(ctx context.Context, table string, schema *arrow.Schema) error {
	enc, err := sdk.CodecOpen(d.codec, nil, CreatedBy)
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
	key, err := naming.Name(&d.spec.Spec, table)
	if err != nil {
		enc.Close()
		return err
	}
	o := &object{d: d, table: table, key: key, ctype: contentType(d.spec.Format), schema: schema, enc: enc, rows: rows}
	if _, err := enc.Drain(o, d.scratch); err != nil {
		aerr := d.abort(o)
		return fmt.Errorf("table %s: write s3://%s/%s: %w%s", table, d.spec.Bucket, key, err, aborted(aerr))
	}
	if d.spec.NoRotate {
		d.open[table] = o
		sdk.ReportWrite(ctx, abi.WriteResult{HeldRows: rows})
		return nil
	}
	return d.finish(o)
}

// Write takes encoded bytes from the codec: it collects them, and sends
// every full part of a multipart upload, started with the first.
func (o *object) Write(p []byte) (int, error) {
	n := len(p)
	size := int(o.d.spec.PartSize)
	for len(p) > 0 {
		if o.buf == nil {
			o.buf = o.d.partBuffer()
		}
		take := min(size-len(o.buf), len(p))
		o.buf = append(o.buf, p[:take]...)
		p = p[take:]
		if len(o.buf) == size {
			if err := o.sendPart(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// partBuffer returns an empty buffer of a part's capacity.
func (d *destination) partBuffer() []byte {
	if b := d.spare; b != nil {
		d.spare = nil
		return b[:0]
	}
	return make([]byte, 0, d.spec.PartSize)
}

// release keeps an object's part buffer for the next object.
func (d *destination) release(o *object) {
	if o.buf != nil && d.spare == nil {
		d.spare = o.buf[:0]
	}
	o.buf = nil
}

// sendPart sends buf as the next part, starting the upload first if need be.
func (o *object) sendPart() error {
	c := o.d.c
	if o.uploadID == "" {
		id, err := c.createUpload(o.key, o.ctype)
		if err != nil {
			return fmt.Errorf("start multipart upload: %w", err)
		}
		o.uploadID = id
		sdk.Debug("multipart upload started", "table", o.table, "key", o.key, "upload_id", id)
	}
	n := len(o.parts) + 1
	if n > MaxParts {
		return fmt.Errorf("the object would need more than %d parts of %d bytes (S3's limit); raise part_size, or lower batch_size so that objects are smaller", MaxParts, o.d.spec.PartSize)
	}
	etag, err := c.uploadPart(o.key, o.uploadID, n, o.buf)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	o.parts = append(o.parts, completedPart{PartNumber: n, ETag: etag})
	o.buf = o.buf[:0]
	return nil
}

// discarded explains, after a failure, what happened to a no_rotate object
// that held earlier rows, and tells the host they are lost.
func (d *destination) discarded(ctx context.Context, o *object, earlier int64) string {
	if d.spec.NoRotate && earlier > 0 {
		sdk.ReportWrite(ctx, abi.WriteResult{LostRows: earlier})
		return fmt.Sprintf("; a batch cannot be taken back out of an object, so the table's open object, with the %d rows of earlier batches, was discarded (%s was not written)", earlier, o.key)
	}
	return ""
}

func aborted(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf("; and aborting its multipart upload failed too (%v): the bucket may hold a pending upload, which a lifecycle rule AbortIncompleteMultipartUpload removes", err)
}

// finish completes an object: one PUT, or the last part and the completion
// of its multipart upload.
func (d *destination) finish(o *object) error {
	delete(d.open, o.table)
	err := o.enc.Finish()
	if err == nil {
		_, err = o.enc.Drain(o, d.scratch)
	}
	if cerr := o.enc.Close(); err == nil {
		err = cerr
	}
	o.enc = nil
	switch {
	case err != nil:
	case o.uploadID == "":
		err = d.c.put(o.key, o.ctype, o.buf)
	default:
		if len(o.buf) > 0 {
			err = o.sendPart()
		}
		if err == nil {
			err = d.c.completeUpload(o.key, o.uploadID, o.parts)
		}
	}
	if err != nil {
		aerr := d.abort(o)
		var se *s3Error
		if errors.As(err, &se) && se.Status == 412 {
			err = fmt.Errorf("%w: the object exists already, and the S3 destination never replaces one (write_mode append); %s", err, naming.ExistsFix(d.spec.NoRotate))
		}
		return fmt.Errorf("table %s: write s3://%s/%s: %w%s", o.table, d.spec.Bucket, o.key, err, aborted(aerr))
	}
	d.written[o.table] = append(d.written[o.table], writtenObject{key: o.key, schema: o.schema})
	sdk.Debug("object written", "table", o.table, "key", o.key, "rows", o.rows, "parts", len(o.parts))
	d.release(o)
	return nil
}

// abort gives up an object: its encoder is closed and its multipart
// upload, if one was started, aborted, so that nothing of it is left.
func (d *destination) abort(o *object) error {
	delete(d.open, o.table)
	if o.enc != nil {
		o.enc.Close()
		o.enc = nil
	}
	d.release(o)
	if o.uploadID == "" {
		return nil
	}
	id := o.uploadID
	o.uploadID = ""
	if err := d.c.abortUpload(o.key, id); err != nil {
		sdk.Error("abort multipart upload failed", "key", o.key, "upload_id", id, "err", err.Error())
		return err
	}
	sdk.Debug("multipart upload aborted", "table", o.table, "key", o.key, "upload_id", id)
	return nil
}

func (d *destination) Close(context.Context) error {
	var errs []error
	for _, o := range d.open {
		errs = append(errs, d.finish(o))
	}
	return errors.Join(errs...)
}

// Read emits every row of table in the objects this instance completed, in
// the order it wrote them, as record batches of schema. A column an object
// has not (it was written before a migration added it) reads as nulls.
func (d *destination) Read(ctx context.Context, table string, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	if o := d.open[table]; o != nil {
		return fmt.Errorf("table %s: its object s3://%s/%s is still being written (no_rotate); its %d rows can be read once the destination is closed", table, d.spec.Bucket, o.key, o.rows)
	}
	for _, wo := range d.written[table] {
		if err := d.readObject(wo, schema, emit); err != nil {
			return fmt.Errorf("table %s: read s3://%s/%s: %w", table, d.spec.Bucket, wo.key, err)
		}
	}
	return nil
}

// readObject fetches an object and decodes it through the host's codec
// (codec_decode): the guest holds no decoder of its own.
func (d *destination) readObject(wo writtenObject, schema *arrow.Schema, emit func(arrow.RecordBatch) error) error {
	data, err := d.c.get(wo.key, maxReadObject)
	if err != nil {
		return err
	}
	recs, err := sdk.CodecDecode(d.codec, wo.schema, schema, data)
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, r := range recs {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}
