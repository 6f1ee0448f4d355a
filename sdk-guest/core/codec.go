package core

import (
	"encoding/json"
	"io"

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

// CodecOpenStream opens an encoder of format f for records of schema, an
// Arrow IPC stream holding the schema (package sdk's CodecOpen takes an
// *arrow.Schema); nil means the schema of the running write operation's
// batch. createdBy is the "created by" of Parquet files ("" for the host's
// default).
func CodecOpenStream(f abi.CodecFormat, schema IPCSchema, createdBy string) (*Encoder, error) {
	req := abi.CodecOpenRequest{CodecFormat: f, CreatedBy: createdBy, Schema: schema}
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

// WriteStream encodes the records of the Arrow IPC stream ipc, which have
// the encoder's schema, and returns how many rows they hold.
func (e *Encoder) WriteStream(ipc []byte) (int64, error) {
	if len(ipc) == 0 {
		return 0, nil
	}
	return hostCount(codecWrite(e.h, ipc))
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

// CodecDecodeStream decodes a whole file, data, written with fileSchema
// (an Arrow IPC stream holding the schema) in format f, and returns its rows
// as an Arrow IPC stream of schema (nil: fileSchema): a column the file
// lacks is all nulls, types are converted. A StreamReader can hand it to
// StreamWriter.WriteStream; package sdk's CodecDecode decodes it. Meant for
// reading back, not bulk export.
func CodecDecodeStream(f abi.CodecFormat, fileSchema, schema IPCSchema, data []byte) ([]byte, error) {
	req := abi.CodecDecodeRequest{CodecFormat: f, FileSchema: fileSchema, Schema: schema}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return codecDecode(b, data)
}
