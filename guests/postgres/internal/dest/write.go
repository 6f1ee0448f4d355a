package dest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// Write writes one batch: a binary COPY into the table (inserts), or, when
// the schema has a primary key, in one transaction a COPY into a staging
// table and one INSERT ... SELECT of its rows ON CONFLICT DO UPDATE (upserts,
// the last of duplicate keys winning; see pgwire.Upsert).
//
// Inserts go into the COPY the instance holds across writes (Holder),
// unless the spec's copy_transaction_bytes is 0: the WriteResult then says
// which rows are held, and which held rows this call made durable or lost.
func (d *Destination) Write(table string, records array.RecordReader) (abi.WriteResult, error) {
	var res abi.WriteResult
	schema := records.Schema()
	existing, err := d.existingTypes(table, schema)
	if err != nil {
		return res, err
	}
	cols, err := columns(table, schema, d.mapping, existing)
	if err != nil {
		return res, err
	}
	sch, err := d.Schema()
	if err != nil {
		return res, err
	}
	qt := pgwire.Qualified(sch, table)
	if h, ok := d.db.(Holder); ok && !hasPK(cols) && d.holdBytes() > 0 {
		return res, d.copyHeld(h, table, qt, cols, &res)
	}
	if err := d.endHeld(&res); err != nil {
		return res, err
	}
	if !hasPK(cols) {
		_, _, err := d.copy(0, table, qt, cols, records, "")
		return res, err
	}
	stage, ordinal := pgwire.StageTable(sch, table, cols)
	return res, d.inTx(func(tx int64) error {
		if _, err := d.db.Exec(tx, pgwire.CreateStage(stage, ordinal, cols)); err != nil {
			return fmt.Errorf("table %q: staging table: %w", table, err)
		}
		n, dups, err := d.copy(tx, table, pgwire.Ident(stage), cols, records, ordinal)
		if err != nil || n == 0 {
			return err
		}
		if _, err := d.db.Exec(tx, pgwire.Upsert(qt, stage, ordinal, cols, dups)); err != nil {
			return fmt.Errorf("table %q: upsert: %w", table, err)
		}
		return nil
	})
}

// holdBytes is the spec's copy_transaction_bytes.
func (d *Destination) holdBytes() int64 {
	if d.spec.CopyTransactionBytes == nil {
		return DefaultCopyTransactionBytes
	}
	return *d.spec.CopyTransactionBytes
}

// copyHeld inserts the batch into target through the held COPY: it ends a
// COPY held for another table first, continues (or begins) the table's,
// and commits it once it holds holdBytes of COPY data. res says what is
// held, made durable or lost.
func (d *Destination) copyHeld(h Holder, table, target string, cols []pgwire.Column, res *abi.WriteResult) error {
	if d.held != nil && d.held.table != table {
		if err := d.endHeld(res); err != nil {
			return err
		}
	}
	r, err := h.CopyHold(abi.PgRequest{SQL: pgwire.CopyFrom(target, cols), Columns: copyColumns(cols)})
	if d.held != nil && (err != nil || r.Committed > 0) {
		// The held COPY ended: the host committed it after it was idle
		// (this batch began a new one), or the error aborted it.
		if err != nil {
			addRows(&res.Lost, d.held.table, d.held.rows)
		} else {
			addRows(&res.Durable, d.held.table, r.Committed)
		}
		d.held = nil
	}
	if err != nil {
		return heldCopyError(table, cols, err)
	}
	d.held = &heldCopy{table: table, rows: r.HeldRows}
	if r.HeldBytes < d.holdBytes() {
		res.HeldRows = r.Rows
		return nil
	}
	// Full: commit it, this batch with the earlier ones.
	earlier := r.HeldRows - r.Rows
	d.held = nil
	if _, err := h.CopyEnd(); err != nil {
		addRows(&res.Lost, table, earlier)
		return heldCopyError(table, cols, err)
	}
	addRows(&res.Durable, table, earlier)
	return nil
}

// copyColumns are a batch COPY's columns: the record's, in order, each
// with the PostgreSQL type the guest chose.
func copyColumns(cols []pgwire.Column) []abi.PgCopyColumn {
	out := make([]abi.PgCopyColumn, len(cols))
	for i, c := range cols {
		out[i] = abi.PgCopyColumn{Field: i, Type: c.Type.PG}
	}
	return out
}

// addRows adds n rows of table to *m, making the map if needed.
func addRows(m *map[string]int64, table string, n int64) {
	if n <= 0 {
		return
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[table] += n
}

// EndHeld commits the COPY the instance holds, if any: at close, and
// before any operation that must see its rows or might wait for its lock
// (migrate, read, delete-stale, delete_record). Its rows stay held for the
// host until close, which counts them.
func (d *Destination) EndHeld() error {
	var res abi.WriteResult
	return d.endHeld(&res)
}

// endHeld commits the held COPY and says so in res.
func (d *Destination) endHeld(res *abi.WriteResult) error {
	if d.held == nil {
		return nil
	}
	held := d.held
	d.held = nil
	if _, err := d.db.(Holder).CopyEnd(); err != nil {
		addRows(&res.Lost, held.table, held.rows)
		return fmt.Errorf("table %q: commit the COPY that held %d rows of earlier batches (all lost): %w", held.table, held.rows, err)
	}
	addRows(&res.Durable, held.table, held.rows)
	return nil
}

// copy runs a binary COPY of the batch into target and returns the rows
// copied. The host encodes the batch natively (abi.PgRequest.Batch): the
// guest names each column's PostgreSQL type, its policy (type_mapping), and
// the rows never go through it. With ordinal, every row also gets its index
// in that column, and dups says whether two rows may have the same primary
// key.
func (d *Destination) copy(tx int64, table, target string, cols []pgwire.Column, records array.RecordReader, ordinal string) (n int64, dups bool, err error) {
	req := abi.PgRequest{Tx: tx, Ordinal: ordinal != "", Columns: copyColumns(cols)}
	for i, c := range cols {
		if c.PK {
			req.Keys = append(req.Keys, i)
		}
	}
	var extra []string
	if ordinal != "" {
		extra = append(extra, ordinal)
	} else {
		req.Keys = nil // an append needs no duplicate check
	}
	req.SQL = pgwire.CopyFrom(target, cols, extra...)
	res, err := d.db.CopyBatch(req, records)
	if err != nil {
		// An unfinished COPY is aborted by the host when the operation
		// returns, so nothing of the batch is written.
		return 0, false, copyError(table, cols, err)
	}
	return res.Rows, res.DuplicateKeys, nil
}

// copyWhere is the context PostgreSQL gives a value a COPY refused: the row
// ("line", counting from 1) and the column.
var copyWhere = regexp.MustCompile(`(?m)^COPY [^\n]*, line (\d+), column ([^:\n]+)`)

// copyError describes an error of a COPY: about one value (which the server
// checks: JSON syntax, for one) as a RowError naming the table, the column
// (as the schema names it) and the row of the batch; else naming the table.
func copyError(table string, cols []pgwire.Column, err error) error {
	var he *abi.HostError
	var m []string
	// Only data exceptions (class 22) and integrity violations (23) are
	// about the value: a server shutting down names the COPY's line too.
	if errors.As(err, &he) && (strings.HasPrefix(he.SQLState, "22") || strings.HasPrefix(he.SQLState, "23")) {
		m = copyWhere.FindStringSubmatch(he.Where)
	}
	if m == nil {
		if errors.As(err, &he) && he.Column != "" && he.SQLState == "" {
			// A value the host could not encode: its message names the
			// column, the row and its key.
			return &valueError{msg: fmt.Sprintf("table %q, %s", table, strings.TrimPrefix(he.Message, abi.ImportPgCopyFrom+": ")), err: err}
		}
		return fmt.Errorf("table %q: copy: %w", table, err)
	}
	row, _ := strconv.ParseInt(m[1], 10, 64)
	column := strings.Trim(m[2], `"`)
	for _, c := range cols {
		if c.Stored == column {
			column = c.Name
		}
	}
	return &pgbinary.RowError{Table: table, Column: column, Row: row - 1, Err: err}
}

// heldCopyError describes an error of a held COPY: the server's line
// numbers count the rows of every batch in it, so only a value the host
// could not encode (which names the row of this batch) is a row's error.
func heldCopyError(table string, cols []pgwire.Column, err error) error {
	var he *abi.HostError
	if errors.As(err, &he) && he.Column != "" && he.SQLState == "" {
		return copyError(table, cols, err)
	}
	return fmt.Errorf("table %q: copy: %w", table, err)
}

// valueError is an error about a value the host could not encode, in the
// form of pgbinary.RowError with the table's name: `table "t", column "c",
// row 2 of the batch (id="7"): ...`.
type valueError struct {
	msg string
	err error
}

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return e.err }

// DeleteStale deletes the rows of an earlier sync of the same source.
func (d *Destination) DeleteStale(req abi.DeleteStaleRequest) error {
	if err := d.EndHeld(); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, req.SyncTime)
	if err != nil {
		return fmt.Errorf("table %q: delete stale: sync_time %q: %w", req.Table, req.SyncTime, err)
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	if d.spec.CreatePerformanceIndexes && !d.indexed[req.Table] {
		cur, err := d.current(0, req.Table)
		if err != nil {
			return err
		}
		var cols []pgwire.Column
		for _, c := range cur.cols {
			cols = append(cols, pgwire.Column{Name: c.Name})
		}
		if err := d.performanceIndex(0, req.Table, cols); err != nil {
			return err
		}
	}
	// _cq_sync_time holds UTC wall time (timestamp without time zone). The
	// parameters are typed in the statement, as a prepared statement's
	// would be: the plan does not depend on what the server infers.
	_, err = d.db.Exec(0, fmt.Sprintf("DELETE FROM %s WHERE %s = $1::text AND %s < $2::timestamp", pgwire.Qualified(sch, req.Table),
		pgwire.Ident(abi.ColSourceName), pgwire.Ident(abi.ColSyncTime)),
		req.SourceName, t.UTC().Format("2006-01-02 15:04:05.999999"))
	if err != nil {
		return fmt.Errorf("table %q: delete stale: %w", req.Table, err)
	}
	return nil
}
