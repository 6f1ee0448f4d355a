package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// encoded is the dataset as PostgreSQL's binary COPY format, made by the
// server itself (COPY TO of the rows pgx loaded): the ceiling of the append,
// with no client encoding at all. rows holds the rows of the whole stream
// (no header or trailer); batches slice it into genBatch rows.
type encoded struct {
	rows    []byte
	batches [][]byte
	// file is the whole stream in a file the server can read, for a
	// server-side COPY FROM; "" when the server is not ours.
	file string
	cols string // the column list of the COPY
}

// copyHeader starts a binary COPY stream; copyTrailer ends it.
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// encodeDataset loads the dataset into the (empty) table with pgx, reads it
// back as binary COPY data, splits it into batches and, for our own server,
// writes it to a file in dir. It leaves the table empty.
func (b *bench) encodeDataset(dir string) (*encoded, error) {
	ctx := b.ctx
	if _, err := b.pg.conn.CopyFrom(ctx, pgx.Identifier{table}, b.ds.cols, pgx.CopyFromRows(b.ds.values)); err != nil {
		return nil, err
	}
	var list []string
	for _, c := range b.ds.cols {
		list = append(list, pgx.Identifier{c}.Sanitize())
	}
	e := &encoded{cols: strings.Join(list, ", ")}
	var out bytes.Buffer
	if _, err := b.pg.conn.PgConn().CopyTo(ctx, &out, fmt.Sprintf("COPY %s (%s) TO STDOUT (FORMAT binary)", table, e.cols)); err != nil {
		return nil, err
	}
	if err := b.truncate(); err != nil {
		return nil, err
	}
	all := out.Bytes()
	if !bytes.HasPrefix(all, copyHeader) || !bytes.HasSuffix(all, copyTrailer) {
		return nil, fmt.Errorf("COPY TO: not a binary COPY stream")
	}
	e.rows = all[len(copyHeader) : len(all)-len(copyTrailer)]
	var err error
	if e.batches, err = splitRows(e.rows, genBatch); err != nil {
		return nil, err
	}
	if b.serverPID != 0 {
		// The server runs as another user: a directory and file it may read.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		e.file = filepath.Join(dir, "bench.pgcopy")
		if err := os.WriteFile(e.file, all, 0o644); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// splitRows cuts binary COPY rows (field count, then each field's length
// and bytes) into slices of n rows.
func splitRows(rows []byte, n int) ([][]byte, error) {
	var out [][]byte
	start, count := 0, 0
	for at := 0; at < len(rows); {
		if at+2 > len(rows) {
			return nil, fmt.Errorf("binary COPY: row cut short at byte %d", at)
		}
		fields := int(binary.BigEndian.Uint16(rows[at:]))
		at += 2
		for range fields {
			if at+4 > len(rows) {
				return nil, fmt.Errorf("binary COPY: field cut short at byte %d", at)
			}
			l := int32(binary.BigEndian.Uint32(rows[at:]))
			at += 4
			if l > 0 {
				at += int(l)
			}
		}
		if at > len(rows) {
			return nil, fmt.Errorf("binary COPY: value cut short at the end")
		}
		if count++; count == n || at >= len(rows) {
			out = append(out, rows[start:at])
			start, count = at, 0
		}
	}
	return out, nil
}

// stream is a binary COPY stream of rows: header, rows, trailer.
func stream(rows []byte) io.Reader {
	return io.MultiReader(bytes.NewReader(copyHeader), bytes.NewReader(rows), bytes.NewReader(copyTrailer))
}

// rawCopy sends the pre-encoded batches, one COPY each, over conns
// connections (batches handed out in order as connections get free).
func (b *bench) rawCopy(e *encoded, conns int) error {
	ctx := b.ctx
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, e.cols)
	cs := make([]*pgconn.PgConn, conns)
	for i := range cs {
		c, err := pgconn.Connect(ctx, b.pg.url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		cs[i] = c
	}
	work := make(chan []byte)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rows := range work {
				if _, err := c.CopyFrom(ctx, stream(rows), sql); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, rows := range e.batches {
		work <- rows
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// oneCopy sends every row in one COPY.
func (b *bench) oneCopy(e *encoded) error {
	c, err := pgconn.Connect(b.ctx, b.pg.url)
	if err != nil {
		return err
	}
	defer c.Close(b.ctx)
	_, err = c.CopyFrom(b.ctx, stream(e.rows), fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, e.cols))
	return err
}

// serverCopy has the server read every row from the file itself.
func (b *bench) serverCopy(e *encoded) error {
	c, err := pgconn.Connect(b.ctx, b.pg.url)
	if err != nil {
		return err
	}
	defer c.Close(b.ctx)
	_, err = c.Exec(b.ctx, fmt.Sprintf("COPY %s (%s) FROM '%s' (FORMAT binary)", table, e.cols, strings.ReplaceAll(e.file, "'", "''"))).ReadAll()
	return err
}

// emptyInput writes an Arrow IPC file of the dataset's schema and no rows:
// a sync of it plans and migrates the table, writes nothing, and deletes
// the stale rows in write mode overwrite-delete-stale.
func emptyInput(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sourceSchema()))
	if err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
