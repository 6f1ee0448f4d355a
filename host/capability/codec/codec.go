// Package codec is the codec capability of the host (abi.CapCodec): the
// host encodes record batches as CSV, JSON Lines or Parquet natively
// (package internal/codec) and hands the encoded bytes to the guest, which
// writes them where its policy says: a file it opened in its own granted
// directory, an upload. The host never opens a path for the guest, so the
// sandbox stays the filesystem capability's. Encoding a write's batch goes
// by reference: the host encodes the records it decoded itself for the
// call, and the guest need not read them.
//
// An encoder belongs to the instance that opened it and lives across its
// operations (no_rotate keeps one file open over many write calls) until
// codec_close or the instance's end.
package codec

import (
	"io"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
	"github.com/wasmdest/wasmdest/internal/codec"
	"github.com/wasmdest/wasmdest/internal/filespec"
)

// ResultLimit caps the Arrow IPC stream one codec_decode returns through
// the result slot: it must fit in guest memory next to the file itself.
const ResultLimit = 256 << 20

// MaxEncoders caps the encoders one instance may hold open at once: each
// holds a file's pending bytes (a Parquet row group) in host memory.
const MaxEncoders = 1024

type capability struct{}

// Capability returns the codec capability.
func Capability() host.Capability { return capability{} }

func (capability) Name() abi.Capability { return abi.CapCodec }

func (capability) Functions() []host.Function {
	return []host.Function{
		{Name: abi.ImportCodecOpen, Fn: codecOpen},
		{Name: abi.ImportCodecWrite, Fn: codecWrite},
		{Name: abi.ImportCodecRead, Fn: codecRead},
		{Name: abi.ImportCodecFinish, Fn: codecFinish},
		{Name: abi.ImportCodecClose, Fn: codecClose},
		{Name: abi.ImportCodecDecode, Fn: codecDecode},
	}
}

func (capability) SecretKeys() []string { return nil }

func (capability) Describe() string {
	return "codec_* host functions: the host encodes record batches (a write's own batch by reference) as CSV, JSON Lines or Parquet natively and hands the guest the bytes to write; it opens no file"
}

// Open grants the codec; it opens nothing.
func (capability) Open(context.Context, host.OpenRequest) (host.Grant, error) { return Grant(), nil }

// Grant grants the codec capability.
func Grant() host.Grant { return grant{} }

type grant struct{}

func (grant) Capability() host.Capability { return capability{} }

func (grant) ConfigureInstance(mc wazero.ModuleConfig, _ hclog.Logger) wazero.ModuleConfig {
	return mc
}

// Begin keeps no per-operation state: encoders are the instance's.
func (grant) Begin(*host.Call) host.Session { return nil }

func (grant) Close() error { return nil }

// encoders are one instance's open encoders, by handle.
type encoders map[int64]*encoder

// Close drops every encoder the instance left open.
func (es encoders) Close() {
	for h, e := range es {
		e.close()
		delete(es, h)
	}
}

func encodersOf(c *host.Call) encoders {
	return c.InstanceState(func() host.InstanceState { return encoders{} }).(encoders)
}

// handles numbers encoders across instances, so that a handle of one
// instance is never valid in another.
var handles atomic.Int64

// encoder is one file's content being encoded: what the format writer
// produced waits in buf until the guest reads it.
type encoder struct {
	schema   *arrow.Schema
	w        codec.Writer
	buf      chunks
	finished bool
	rows     int64
}

func (e *encoder) close() {
	if !e.finished && e.w != nil {
		// Dropped unfinished: release the writer's buffers; its output is
		// thrown away with buf.
		e.w.Close()
	}
	e.w = nil
	e.buf.Reset()
}

func fail(c *host.Call, stack []uint64, fn string, err error) {
	c.ReturnError(stack, fmt.Errorf("%s: %w", fn, err))
}

// readSchema decodes an Arrow IPC stream holding a schema.
func readSchema(b []byte) (*arrow.Schema, error) {
	r, err := arrowio.NewReader("schema", bytes.NewReader(b), arrowio.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	defer r.Close()
	return r.Table().Schema, nil
}

// decodeRequest decodes a JSON request from guest memory.
func decodeRequest(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	return nil
}

func parseFormat(f abi.CodecFormat) (filespec.Spec, error) {
	return filespec.ParseFormat(filespec.Format(f.Format), f.FormatSpec, filespec.Compression(f.Compression))
}

func codecOpen(_ context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecOpen
	var req abi.CodecOpenRequest
	if err := decodeRequest(c.Memory(uint32(stack[0]), uint32(stack[1])), &req); err != nil {
		fail(c, stack, fn, err)
		return
	}
	spec, err := parseFormat(req.CodecFormat)
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	var schema *arrow.Schema
	if len(req.Schema) > 0 {
		if schema, err = readSchema(req.Schema); err != nil {
			fail(c, stack, fn, err)
			return
		}
	} else {
		s, _, ok := c.Records()
		if !ok {
			fail(c, stack, fn, errors.New("no schema given and the running operation has no records: give schema, or open the encoder in a write operation"))
			return
		}
		schema = s
	}
	es := encodersOf(c)
	if len(es) >= MaxEncoders {
		fail(c, stack, fn, fmt.Errorf("the instance holds %d open encoders already: finish and close some first", len(es)))
		return
	}
	e := &encoder{schema: schema}
	if e.w, err = codec.NewWriter(&e.buf, schema, &spec, req.CreatedBy); err != nil {
		fail(c, stack, fn, err)
		return
	}
	h := handles.Add(1)
	es[h] = e
	c.ReturnValue(stack, h)
}

// encoderOf returns the instance's encoder h.
func encoderOf(c *host.Call, h int64) (*encoder, error) {
	e, ok := encodersOf(c)[h]
	if !ok {
		return nil, fmt.Errorf("no open encoder %d in this instance (closed, or never opened)", h)
	}
	return e, nil
}

func codecWrite(_ context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecWrite
	h, ptr, n := int64(stack[0]), uint32(stack[1]), uint32(stack[2])
	e, err := encoderOf(c, h)
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	if e.finished {
		fail(c, stack, fn, fmt.Errorf("encoder %d is finished: open a new one for more rows", h))
		return
	}
	var rows int64
	if n == 0 {
		rows, err = e.writeCall(c)
	} else {
		rows, err = e.writeIPC(c.Memory(ptr, n))
	}
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	e.rows += rows
	c.ReturnValue(stack, rows)
}

// writeCall encodes the records of the running operation's body.
func (e *encoder) writeCall(c *host.Call) (int64, error) {
	schema, recs, ok := c.Records()
	if !ok {
		return 0, errors.New("the running operation has no records to encode by reference: pass an Arrow IPC stream")
	}
	if !schema.Equal(e.schema) {
		return 0, fmt.Errorf("the batch's schema differs from the encoder's: open a new encoder for it")
	}
	var rows int64
	for _, rec := range recs {
		if rec.NumRows() == 0 {
			continue
		}
		if err := e.w.Write(rec); err != nil {
			return rows, err
		}
		rows += rec.NumRows()
	}
	return rows, nil
}

// writeIPC encodes the records of an Arrow IPC stream.
func (e *encoder) writeIPC(b []byte) (int64, error) {
	// The guest's bytes go through the host's hardened reader (limits,
	// verified metadata, validated records), as every guest output does.
	r, err := arrowio.NewReader("records", bytes.NewReader(b), arrowio.DefaultLimits)
	if err != nil {
		return 0, fmt.Errorf("records: %w", err)
	}
	defer r.Close()
	if !r.Table().Schema.Equal(e.schema) {
		return 0, fmt.Errorf("the records' schema differs from the encoder's: open a new encoder for it")
	}
	var rows int64
	for {
		rec, err := r.Next(context.Background())
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, fmt.Errorf("records: %w", err)
		}
		if rec.NumRows() > 0 {
			err = e.w.Write(rec)
			rows += rec.NumRows()
		}
		rec.Release()
		if err != nil {
			return rows, err
		}
	}
}

func codecRead(_ context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecRead
	h, ptr, n := int64(stack[0]), uint32(stack[1]), uint32(stack[2])
	e, err := encoderOf(c, h)
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	// Drained chunks go back to the pool for the next batch or file.
	k := e.buf.Read(c.Memory(ptr, n))
	c.ReturnValue(stack, int64(k))
}

func codecFinish(_ context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecFinish
	h := int64(stack[0])
	e, err := encoderOf(c, h)
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	if e.finished {
		fail(c, stack, fn, fmt.Errorf("encoder %d is finished already", h))
		return
	}
	e.finished = true
	if err := e.w.Close(); err != nil {
		fail(c, stack, fn, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func codecClose(_ context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecClose
	h := int64(stack[0])
	es := encodersOf(c)
	e, ok := es[h]
	if !ok {
		fail(c, stack, fn, fmt.Errorf("no open encoder %d in this instance (closed already, or never opened)", h))
		return
	}
	e.close()
	delete(es, h)
	c.ReturnValue(stack, 0)
}

func codecDecode(ctx context.Context, c *host.Call, stack []uint64) {
	const fn = abi.ImportCodecDecode
	var req abi.CodecDecodeRequest
	if err := decodeRequest(c.Memory(uint32(stack[0]), uint32(stack[1])), &req); err != nil {
		fail(c, stack, fn, err)
		return
	}
	out, err := decode(ctx, req, c.Memory(uint32(stack[2]), uint32(stack[3])))
	if err != nil {
		fail(c, stack, fn, err)
		return
	}
	c.ReturnResult(stack, out)
}

// decode decodes the file data as req says and returns its rows as an
// Arrow IPC stream.
func decode(ctx context.Context, req abi.CodecDecodeRequest, data []byte) ([]byte, error) {
	spec, err := parseFormat(req.CodecFormat)
	if err != nil {
		return nil, err
	}
	fileSchema, err := readSchema(req.FileSchema)
	if err != nil {
		return nil, fmt.Errorf("file_schema: %w", err)
	}
	want := fileSchema
	if len(req.Schema) > 0 {
		if want, err = readSchema(req.Schema); err != nil {
			return nil, err
		}
	}
	// data is a view of guest memory, valid while the function runs:
	// everything decoded is copied into the IPC stream before it returns.
	var out bytes.Buffer
	w := ipc.NewWriter(&out, ipc.WithSchema(want))
	err = codec.Read(ctx, bytes.NewReader(data), bytes.NewReader(data), int64(len(data)), fileSchema, &spec, func(rec arrow.RecordBatch) error {
		p, err := codec.Project(rec, want)
		if err != nil {
			return err
		}
		defer p.Release()
		if err := w.Write(p); err != nil {
			return err
		}
		if out.Len() > ResultLimit {
			return fmt.Errorf("the decoded rows exceed %d MiB: codec_decode is for reading back, not bulk export", ResultLimit>>20)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
