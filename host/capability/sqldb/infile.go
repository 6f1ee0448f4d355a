package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/wasmdest/wasmdest/abi"
)

// infileChunk is how much LOAD DATA text is encoded before it is handed
// to the driver.
const infileChunk = 256 << 10

// loadInfile runs query, a LOAD DATA LOCAL INFILE statement, with the rows
// as its file, encoded as they arrive (nothing buffers the whole load).
// LOCAL turns the server's data errors into warnings, so a load with any
// warning fails (and is rolled back with its transaction).
func loadInfile(ctx context.Context, conn *sql.Conn, query string, rdr recordSource) (int64, error) {
	name := fmt.Sprintf("wasmdest-%d", handles.Add(1))
	pr, pw := io.Pipe()
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)
	var n int64
	encoded := make(chan error, 1)
	go func() {
		var err error
		n, err = encodeInfile(pw, rdr)
		pw.CloseWithError(err)
		encoded <- err
	}()
	_, err := conn.ExecContext(ctx, strings.ReplaceAll(query, abi.SQLLoadSource, "'Reader::"+name+"'"))
	pr.CloseWithError(io.ErrClosedPipe) // the encoder stops if the server stopped reading
	if eerr := <-encoded; eerr != nil && eerr != io.ErrClosedPipe {
		return n, eerr
	}
	if err != nil {
		return n, err
	}
	return n, warnings(ctx, conn)
}

// encodeInfile writes the rows of rdr to w in LOAD DATA's default format.
func encodeInfile(w io.Writer, rdr recordSource) (int64, error) {
	var n int64
	buf := make([]byte, 0, infileChunk+4096)
	for rdr.Next() {
		rec := rdr.RecordBatch()
		enc := make([]func([]byte, int) []byte, rec.NumCols())
		for j, col := range rec.Columns() {
			var err error
			if enc[j], err = textAppender(col); err != nil {
				return n, fmt.Errorf("column %q: %w", rec.ColumnName(j), err)
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			for j, e := range enc {
				if j > 0 {
					buf = append(buf, '\t')
				}
				buf = e(buf, i)
			}
			buf = append(buf, '\n')
			n++
			if len(buf) >= infileChunk {
				if _, err := w.Write(buf); err != nil {
					return n, err
				}
				buf = buf[:0]
			}
		}
	}
	if err := rdr.Err(); err != nil {
		return n, err
	}
	_, err := w.Write(buf)
	return n, err
}

// warnings turns the warnings of the last statement on conn into an error.
func warnings(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SHOW WARNINGS LIMIT 5")
	if err != nil {
		return err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if err := rows.Scan(&level, &code, &msg); err != nil {
			return err
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fmt.Errorf("LOAD DATA reported what it changed or dropped (LOCAL makes errors warnings), so the load is refused: %s", strings.Join(msgs, "; "))
	}
	return nil
}
