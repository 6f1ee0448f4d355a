package sdk

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// The codec capability (abi.CapCodec): the host encodes record batches as
// CSV, JSON Lines or Parquet natively and hands the bytes back, and the
// guest writes them where its policy says. A guest using it lists
// abi.CapCodec in its manifest. The host never opens a file for the guest.

// Encoder is one file's content being encoded by the host: a core.Encoder
// (WriteBatch, Drain, Finish, Close), with WriteRecords. It belongs to the
// instance and lives across operations until Close; it is not safe for
// concurrent use (a guest has one thread anyway).
type Encoder struct{ *core.Encoder }

// CodecOpen opens an encoder of format f for records of schema; a nil schema
// means the schema of the running write operation's batch. createdBy is the
// "created by" of Parquet files ("" for the host's default).
func CodecOpen(f abi.CodecFormat, schema *arrow.Schema, createdBy string) (*Encoder, error) {
	var s core.IPCSchema
	if schema != nil {
		var err error
		if s, err = schemaIPC(schema); err != nil {
			return nil, err
		}
	}
	e, err := core.CodecOpenStream(f, s, createdBy)
	if err != nil {
		return nil, err
	}
	return &Encoder{e}, nil
}

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
	return e.WriteStream(buf.Bytes())
}

// CodecDecode decodes a whole file, data, written with fileSchema in format
// f, and returns its rows as record batches of schema (nil: fileSchema): a
// column the file lacks is all nulls, types are converted. The caller
// releases them. Meant for reading back, not bulk export.
func CodecDecode(f abi.CodecFormat, fileSchema, schema *arrow.Schema, data []byte) ([]arrow.RecordBatch, error) {
	fs, err := schemaIPC(fileSchema)
	if err != nil {
		return nil, err
	}
	var s core.IPCSchema
	if schema != nil {
		if s, err = schemaIPC(schema); err != nil {
			return nil, err
		}
	}
	out, err := core.CodecDecodeStream(f, fs, s, data)
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
