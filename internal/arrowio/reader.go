package arrowio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	_ "github.com/apache/arrow-go/v18/arrow/extensions" // registers arrow.uuid and arrow.json
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// Reader reads the record batches of one Arrow IPC input. It is not safe for
// concurrent use (records it returned may be released from any goroutine).
//
// Records returned by Next belong to the caller, who must Release each one.
// Their buffers point into the message body they were decoded from, which
// lives as long as any of them does.
//
// When arrow-go panics on a corrupt message, the reader turns the panic into
// an error, but arrow-go may not have released the buffers it allocated
// before the panic. With the default (Go) allocator the garbage collector
// reclaims them.
type Reader struct {
	name   string // for errors
	lim    Limits
	mem    memory.Allocator // message bodies
	budget *budgetAllocator // decoding
	table  Table

	// stream format
	mr *msgReader
	sr *ipc.Reader

	// file format
	fr      *ipc.FileReader
	ra      io.ReaderAt
	records []block
	ndicts  int
	next    int

	closers []func() error
	err     error // sticky
	closed  bool
}

// Open opens the Arrow IPC file or stream at path; "-" reads stdin.
func Open(path string, lim Limits) (*Reader, error) {
	if path == "-" {
		return NewReader("-", os.Stdin, lim)
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("cannot open: %w", pe.Err)
		}
		return nil, &Error{Input: path, Message: -1, Err: err}
	}
	r, err := newReader(path, f, lim, memory.DefaultAllocator)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f.Close)
	return r, nil
}

// NewReader reads Arrow IPC from r. name names the input in errors and, when
// the schema has no cq:table_name, gives the table name (its base name
// without extensions); "-" or "" mean stdin or an unnamed input, which then
// need cq:table_name. If r is seekable (an io.ReaderAt and io.Seeker, such as
// a regular *os.File or a *bytes.Reader), the file format is read in place
// from r's current position. Close does not close r.
func NewReader(name string, r io.Reader, lim Limits) (*Reader, error) {
	return newReader(name, r, lim, memory.DefaultAllocator)
}

// ReadAll reads the whole Arrow IPC stream or file in r with every check
// Reader makes, and returns its schema and its records, which the caller
// releases. Unlike NewReader it needs no table name: it is for Arrow IPC
// that is not an input, such as what a guest returns for OpRead. name names
// r in errors.
func ReadAll(ctx context.Context, name string, r io.Reader, lim Limits) (*arrow.Schema, []arrow.RecordBatch, error) {
	rd, err := openReader(name, r, lim, memory.DefaultAllocator, false)
	if err != nil {
		return nil, nil, err
	}
	defer rd.Close()
	var recs []arrow.RecordBatch
	for {
		rec, err := rd.Next(ctx)
		if err == io.EOF {
			return rd.table.Schema, recs, nil
		}
		if err != nil {
			for _, r := range recs {
				r.Release()
			}
			return nil, nil, err
		}
		recs = append(recs, rec)
	}
}

func newReader(name string, src io.Reader, lim Limits, mem memory.Allocator) (*Reader, error) {
	return openReader(name, src, lim, mem, true)
}

// openReader is NewReader; without needTable a schema that names no table
// is accepted (Table().Name is then "").
func openReader(name string, src io.Reader, lim Limits, mem memory.Allocator, needTable bool) (rd *Reader, err error) {
	arrowtypes.Register()
	r := &Reader{name: displayName(name), lim: lim.withDefaults(), mem: mem, budget: &budgetAllocator{mem: mem}}
	defer func() {
		if err != nil {
			r.Close()
			rd = nil
		}
	}()
	var schema *arrow.Schema
	if sec, size, ok := seekable(src); ok {
		head := make([]byte, min(size, 16))
		if _, err := sec.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, &Error{Input: r.name, Message: -1, Err: fmt.Errorf("reading: %w", err)}
		}
		switch sniff(head, r.lim) {
		case formatFile:
			schema, err = r.openFile(sec, size)
		case formatStream:
			schema, err = r.openStream(bufio.NewReaderSize(io.NewSectionReader(sec, 0, size), 64<<10))
		default:
			return nil, &Error{Input: r.name, Message: 0, Err: fmt.Errorf("%w: %s", ErrNotArrow, describe(head))}
		}
	} else {
		br := bufio.NewReaderSize(src, 64<<10)
		head, perr := br.Peek(16)
		if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) {
			return nil, &Error{Input: r.name, Message: -1, Err: fmt.Errorf("reading: %w", perr)}
		}
		switch sniff(head, r.lim) {
		case formatFile:
			schema, err = r.spoolFile(br)
		case formatStream:
			schema, err = r.openStream(br)
		default:
			return nil, &Error{Input: r.name, Message: 0, Err: fmt.Errorf("%w: %s", ErrNotArrow, describe(head))}
		}
	}
	if err != nil {
		return nil, err
	}
	if r.table, err = makeTable(name, schema); err != nil && needTable {
		return nil, &Error{Input: r.name, Message: 0, Err: err}
	}
	r.table.Schema = schema
	return r, nil
}

// seekable returns src as a section from its current position to its end,
// when src supports random access.
func seekable(src io.Reader) (*io.SectionReader, int64, bool) {
	rs, ok := src.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return nil, 0, false
	}
	if f, ok := src.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil, 0, false // pipes, terminals, devices
		}
	}
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, false
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil || end < cur {
		return nil, 0, false
	}
	return io.NewSectionReader(rs, cur, end-cur), end - cur, true
}

// Table returns the table the input holds.
func (r *Reader) Table() Table { return r.table }

// wrap turns an error from arrow-go about message idx into an *Error.
func (r *Reader) wrap(err error, idx int) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var be *budgetError
	msg := err.Error()
	recovered := errors.Is(err, errPanicked) || errors.As(err, &be) ||
		strings.Contains(msg, "unknown error while reading") || strings.Contains(msg, "error reading record batch")
	switch {
	case errors.As(err, &be):
		err = fmt.Errorf("%w: %v", ErrTooLarge, be)
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrSchemaMismatch), errors.Is(err, ErrTooLarge), errors.Is(err, ErrTruncated):
	default:
		err = fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &Error{Input: r.name, Message: idx, Err: err, recovered: recovered}
}

var errPanicked = errors.New("arrow-go panicked")

// protect runs fn, turning a panic into an error.
func protect(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if pe, ok := p.(error); ok {
				err = fmt.Errorf("%w: %w", errPanicked, pe)
			} else {
				err = fmt.Errorf("%w: %v", errPanicked, p)
			}
		}
	}()
	return fn()
}

func (r *Reader) openStream(src io.Reader) (*arrow.Schema, error) {
	r.mr = newMsgReader(r, src)
	r.mr.Retain() // one reference for r, one for the ipc.Reader
	r.budget.reset(r.lim.MaxBodyBytes)
	err := protect(func() (err error) {
		r.sr, err = ipc.NewReaderFromMessageReader(r.mr, ipc.WithAllocator(r.budget))
		return err
	})
	if err != nil {
		return nil, r.wrap(err, 0)
	}
	r.mr.schema = r.sr.Schema()
	return r.sr.Schema(), nil
}

// spoolFile copies a non-seekable input in the file format to a temporary
// file, removed by Close, and opens that.
func (r *Reader) spoolFile(src io.Reader) (*arrow.Schema, error) {
	tmp, err := os.CreateTemp("", "wasmdest-arrowio-*.arrow")
	if err != nil {
		return nil, &Error{Input: r.name, Message: -1, Err: fmt.Errorf("the input is in the Arrow IPC file format, which needs random access, and a temporary file to copy it to cannot be created: %w", err)}
	}
	r.closers = append(r.closers, func() error { return os.Remove(tmp.Name()) }, tmp.Close)
	size, err := io.Copy(tmp, src)
	if err != nil {
		return nil, &Error{Input: r.name, Message: -1, Err: fmt.Errorf("copying the input (Arrow IPC file format) to %s: %w", tmp.Name(), err)}
	}
	return r.openFile(tmp, size)
}

func (r *Reader) readAt(idx int, off, n int64, what string) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.ra.ReadAt(buf, off)
	if int64(got) == n {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, &Error{Input: r.name, Message: idx, Err: fmt.Errorf("%w: %s needs %d bytes at offset %d, the input has %d", ErrTruncated, what, n, off, got)}
	}
	return nil, &Error{Input: r.name, Message: idx, Err: fmt.Errorf("reading %s: %w", what, err)}
}

func (r *Reader) openFile(ra io.ReaderAt, size int64) (*arrow.Schema, error) {
	r.ra = ra
	fail := func(err error) (*arrow.Schema, error) { return nil, &Error{Input: r.name, Message: 0, Err: err} }
	const trailer = 10 // int32 footer length + "ARROW1"
	if size < 8+trailer+8 {
		return fail(fmt.Errorf("%w: %d bytes are too few for an Arrow IPC file (it starts with ARROW1)", ErrTruncated, size))
	}
	tail, err := r.readAt(0, size-trailer, trailer, "the file trailer")
	if err != nil {
		return nil, err
	}
	if string(tail[4:]) != string(fileMagic) {
		return fail(fmt.Errorf("%w: the input starts like an Arrow IPC file (ARROW1) but does not end like one: it was cut short or is still being written", ErrTruncated))
	}
	flen := int64(int32(binary.LittleEndian.Uint32(tail)))
	if flen > r.lim.MaxMetadataBytes {
		return fail(fmt.Errorf("%w: file footer of %d bytes, the limit is %d (MaxMetadataBytes)", ErrTooLarge, flen, r.lim.MaxMetadataBytes))
	}
	if flen < 8 || flen > size-8-trailer {
		return fail(fmt.Errorf("%w: file footer length %d does not fit a %d-byte file", ErrInvalid, flen, size))
	}
	footerStart := size - trailer - flen
	fb, err := r.readAt(0, footerStart, flen, "the file footer")
	if err != nil {
		return nil, err
	}
	ft, err := verifyFooter(fb)
	if err != nil {
		return fail(fmt.Errorf("%w: corrupt file footer: %v", ErrInvalid, err))
	}
	r.ndicts, r.records = len(ft.dicts), ft.records
	for i, b := range append(append([]block(nil), ft.dicts...), ft.records...) {
		if err := r.checkBlock(1+i, b, footerStart); err != nil {
			return nil, err
		}
	}

	// The schema message at the start of the file must agree with the footer.
	hmr := newMsgReader(r, bufio.NewReaderSize(io.NewSectionReader(ra, 8, footerStart-8), 64<<10))
	var header *arrow.Schema
	r.budget.reset(r.lim.MaxBodyBytes)
	err = protect(func() error {
		hr, err := ipc.NewReaderFromMessageReader(hmr, ipc.WithAllocator(r.budget))
		if err != nil {
			return err
		}
		header = hr.Schema()
		hr.Release()
		return nil
	})
	if err != nil {
		return nil, r.wrap(err, 0)
	}

	for i, b := range ft.dicts {
		if _, err := r.blockInfo(1+i, b, headerDictionary, nil); err != nil {
			return nil, err
		}
	}
	r.budget.reset(r.lim.MaxMetadataBytes + 2*r.lim.MaxBodyBytes)
	err = protect(func() (err error) {
		r.fr, err = ipc.NewFileReader(io.NewSectionReader(ra, 0, size), ipc.WithAllocator(r.budget),
			ipc.WithMetadataSizeLimit(r.lim.MaxMetadataBytes), ipc.WithBodySizeLimit(r.lim.MaxBodyBytes))
		return err
	})
	if err != nil {
		return nil, r.wrap(err, 0)
	}
	footer := r.fr.Schema()
	if !footer.Equal(header) || !footer.Metadata().Equal(header.Metadata()) {
		return fail(fmt.Errorf("%w: the file footer's schema differs from the schema message at the start of the file:\nfooter: %s\nheader: %s", ErrSchemaMismatch, footer, header))
	}
	return footer, nil
}

// checkBlock checks a footer block's place and sizes.
func (r *Reader) checkBlock(idx int, b block, footerStart int64) error {
	var err error
	switch {
	case b.meta > r.lim.MaxMetadataBytes:
		err = fmt.Errorf("%w: metadata of %d bytes, the limit is %d (MaxMetadataBytes)", ErrTooLarge, b.meta, r.lim.MaxMetadataBytes)
	case b.body > r.lim.MaxBodyBytes:
		err = fmt.Errorf("%w: body of %d bytes, the limit is %d (MaxBodyBytes)", ErrTooLarge, b.body, r.lim.MaxBodyBytes)
	case b.offset < 8 || b.offset%8 != 0 || b.meta < 8 || b.meta%8 != 0 || b.body < 0 || b.body%8 != 0:
		err = fmt.Errorf("%w: footer block (offset %d, metadata %d, body %d bytes) is malformed", ErrInvalid, b.offset, b.meta, b.body)
	case b.offset > footerStart || b.meta+b.body > footerStart-b.offset:
		err = fmt.Errorf("%w: footer block (offset %d, %d bytes) runs past the data, which ends at %d", ErrInvalid, b.offset, b.meta+b.body, footerStart)
	}
	if err != nil {
		return &Error{Input: r.name, Message: idx, Err: err}
	}
	return nil
}

// blockInfo reads and checks the metadata of the message in block b.
func (r *Reader) blockInfo(idx int, b block, want int, schema *arrow.Schema) (msgInfo, error) {
	raw, err := r.readAt(idx, b.offset, b.meta, "the message metadata")
	if err != nil {
		return msgInfo{}, err
	}
	fail := func(err error) (msgInfo, error) { return msgInfo{}, &Error{Input: r.name, Message: idx, Err: err} }
	fb, err := splitPrefix(raw)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	info, err := verifyMessage(fb, r.lim.maxLen())
	if err != nil {
		return fail(fmt.Errorf("%w: corrupt message metadata: %v", ErrInvalid, err))
	}
	if info.header != want {
		return fail(fmt.Errorf("%w: the footer lists a %s where a %s should be", ErrInvalid, headerName(info.header), headerName(want)))
	}
	if info.bodyLen != b.body {
		return fail(fmt.Errorf("%w: the message body is %d bytes, the footer says %d", ErrInvalid, info.bodyLen, b.body))
	}
	if schema != nil {
		if err := checkNodes(schema, info); err != nil {
			return fail(err)
		}
	}
	if info.codec != codecNone {
		body, err := r.readAt(idx, b.offset+b.meta, b.body, "the message body")
		if err != nil {
			return msgInfo{}, err
		}
		if err := checkCompressed(info, body, r.lim.MaxBodyBytes); err != nil {
			return fail(compressionErr(err))
		}
	}
	return info, nil
}

// Next returns the next record batch, or io.EOF after the last one. The
// caller owns the record and must Release it. After an error, Next keeps
// returning that error.
func (r *Reader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if r.closed {
		return nil, &Error{Input: r.name, Message: -1, Err: errors.New("reader is closed")}
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Input: r.name, Message: -1, Err: err}
	}
	var (
		rec arrow.RecordBatch
		idx int
		err error
	)
	if r.fr != nil {
		rec, idx, err = r.nextFromFile()
	} else {
		rec, idx, err = r.nextFromStream()
	}
	if err == nil {
		err = r.validate(rec, idx)
	}
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return nil, err
	}
	return rec, nil
}

func (r *Reader) nextFromStream() (arrow.RecordBatch, int, error) {
	var rec arrow.RecordBatch
	err := protect(func() (err error) {
		rec, err = r.sr.Read()
		return err
	})
	idx := r.mr.index
	if err == io.EOF {
		return nil, idx, io.EOF
	}
	if err != nil {
		return nil, idx, r.wrap(err, idx)
	}
	rec.Retain() // ipc.Reader releases its reference on the next Read
	return rec, idx, nil
}

func (r *Reader) nextFromFile() (arrow.RecordBatch, int, error) {
	if r.next >= len(r.records) {
		return nil, 0, io.EOF
	}
	i := r.next
	idx := 1 + r.ndicts + i
	r.next++
	if _, err := r.blockInfo(idx, r.records[i], headerRecord, r.fr.Schema()); err != nil {
		return nil, idx, err
	}
	r.budget.reset(r.lim.MaxMetadataBytes + 2*r.lim.MaxBodyBytes)
	var rec arrow.RecordBatch
	err := protect(func() (err error) {
		rec, err = r.fr.RecordBatchAt(i)
		return err
	})
	if err != nil {
		return nil, idx, r.wrap(err, idx)
	}
	return rec, idx, nil
}

// validate checks a decoded record so that reading its values cannot panic;
// it releases rec when it fails.
func (r *Reader) validate(rec arrow.RecordBatch, idx int) error {
	err := protect(func() error {
		if rec.NumRows() > r.lim.maxLen() {
			return fmt.Errorf("%d rows", rec.NumRows())
		}
		return array.ValidateRecordFull(rec)
	})
	if err != nil {
		rec.Release()
		// array.ValidateRecordFull recovers panics of its own ("failed to
		// construct child array"), after which it may not have released
		// what it retained.
		recovered := errors.Is(err, errPanicked) || strings.Contains(err.Error(), "failed to construct")
		return &Error{Input: r.name, Message: idx, Err: fmt.Errorf("%w: record batch fails validation: %v", ErrInvalid, err), recovered: recovered}
	}
	return nil
}

// Close releases the reader's memory, closes the file Open opened and
// removes any temporary file. It does not close an io.Reader given to
// NewReader. Records returned by Next stay valid until released.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.sr != nil {
		r.sr.Release()
		r.sr = nil
	}
	if r.mr != nil {
		r.mr.Release()
		r.mr = nil
	}
	if r.fr != nil {
		r.fr.Close()
		r.fr = nil
	}
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	r.closers = nil
	return errors.Join(errs...)
}
