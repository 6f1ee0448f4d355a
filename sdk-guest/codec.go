package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
)

// The codec capability (abi.CapCodec): the host encodes record batches as
// CSV, JSON Lines or Parquet natively and hands the bytes back, and the
// guest writes them where its policy says. A guest using it lists
// abi.CapCodec in its manifest. The host never opens a file for the guest.

// Encoder is one file's content being encoded by the host. It belongs to the
// instance and lives across operations until Close; it is not safe for
// concurrent use (a guest has one thread anyway).
type Encoder struct{ h int64 }

// CodecOpen opens an encoder of format f for records of schema; a nil schema
// means the schema of the running write operation's batch. createdBy is the
// "created by" of Parquet files ("" for the host's default).
func CodecOpen(f abi.CodecFormat, schema *arrow.Schema, createdBy string) (*Encoder, error) {
	req := abi.CodecOpenRequest{CodecFormat: f, CreatedBy: createdBy}
	if schema != nil {
		b, err := schemaIPC(schema)
		if err != nil {
			return nil, err
		}
		req.Schema = b
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	h, err := hostCount(codecOpen(b))
	if err != nil {
		return nil, err
	}
	return &Encoder{h: h}, nil
}

// WriteBatch encodes the records of the running write operation by
// reference (the host encodes the batch it decoded; the guest need not read
// it) and returns how many rows they hold.
func (e *Encoder) WriteBatch() (int64, error) { return hostCount(codecWrite(e.h, nil)) }

// WriteRecords encodes recs, which have the encoder's schema, and returns
// how many rows they hold.
func (e *Encoder) WriteRecords(recs ...arrow.RecordBatch) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(recs[0].Schema()))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return hostCount(codecWrite(e.h, buf.Bytes()))
}

// Drain copies the encoded bytes waiting in the host to w, through buf (a
// scratch buffer; nil means a new 256 KiB one), and returns how many.
func (e *Encoder) Drain(w io.Writer, buf []byte) (int64, error) {
	if len(buf) == 0 {
		buf = make([]byte, 256<<10)
	}
	var total int64
	for {
		n, err := hostCount(codecRead(e.h, buf))
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return total, err
		}
		total += n
	}
}

// Finish ends the content (Parquet footer, compression trailer); Drain
// then copies its last bytes.
func (e *Encoder) Finish() error {
	_, err := hostCount(codecFinish(e.h))
	return err
}

// Close releases the encoder, finished or not: an unfinished one is dropped.
func (e *Encoder) Close() error {
	_, err := hostCount(codecClose(e.h))
	return err
}

// CodecDecode decodes a whole file, data, written with fileSchema in format
// f, and returns its rows as record batches of schema (nil: fileSchema): a
// column the file lacks is all nulls, types are converted. The caller
// releases them. Meant for reading back, not bulk export.
func CodecDecode(f abi.CodecFormat, fileSchema, schema *arrow.Schema, data []byte) ([]arrow.RecordBatch, error) {
	req := abi.CodecDecodeRequest{CodecFormat: f}
	var err error
	if req.FileSchema, err = schemaIPC(fileSchema); err != nil {
		return nil, err
	}
	if schema != nil {
		if req.Schema, err = schemaIPC(schema); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := codecDecode(b, data)
	if err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decoded rows: %w", err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		for _, rec := range recs {
			rec.Release()
		}
		return nil, fmt.Errorf("decoded rows: %w", err)
	}
	return recs, nil
}

// schemaIPC is schema as an Arrow IPC stream without records.
func schemaIPC(schema *arrow.Schema) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}
