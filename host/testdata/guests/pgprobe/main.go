//go:build wasip1

// Command pgprobe is a test guest for the postgres host functions: each
// write runs the scenario its table names, checks what the host returns, and
// fails with a message saying what differed. Scenarios that leave
// transactions or COPYs open check the host's clean-up.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

func init() {
	sdk.Register(abi.Manifest{
		Name: "pgprobe", Version: "v0.0.1",
		Capabilities: []abi.Capability{abi.CapPostgres},
		SpecSchema:   json.RawMessage(`{"type":"object"}`),
	}, &probe{})
}

func main() {}

type probe struct {
	// kept is a transaction handle kept past its operation, by mistake.
	kept sdk.PgTx
	// wantHeld and wantCommitted are what a hold scenario expects.
	wantHeld, wantCommitted int64
}

func (p *probe) Init(context.Context, abi.InitRequest) error { return nil }
func (p *probe) Close(context.Context) error                 { return nil }

func expect(what string, got, want any) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

// hostError returns err's HostError fields as "sqlstate=... table=...".
func hostError(err error) string {
	var he *abi.HostError
	if !errors.As(err, &he) {
		return "not a HostError: " + err.Error()
	}
	return fmt.Sprintf("sqlstate=%s table=%s column=%s constraint=%s detail=%q message=%q",
		he.SQLState, he.Table, he.Column, he.Constraint, he.Detail, he.Message)
}

// copyChunks is how many chunks the COPY scenarios send.
const copyChunks = 64

// whereOf returns err's HostError.Where.
func whereOf(err error) string {
	var he *abi.HostError
	if errors.As(err, &he) {
		return he.Where
	}
	return ""
}

// holdRequest is a held batch COPY of the records (i int32, s utf8).
func holdRequest(sql string) abi.PgRequest {
	return abi.PgRequest{SQL: sql, Columns: []abi.PgCopyColumn{{Field: 0, Type: "integer"}, {Field: 1, Type: "text"}}}
}

func (p *probe) Write(_ context.Context, scenario string, records array.RecordReader) error {
	// "name key=value ...": hold scenarios take what they expect.
	if name, args, ok := strings.Cut(scenario, " "); ok {
		scenario = name
		for _, kv := range strings.Fields(args) {
			k, v, _ := strings.Cut(kv, "=")
			var n int64
			fmt.Sscan(v, &n)
			switch k {
			case "held":
				p.wantHeld = n
			case "committed":
				p.wantCommitted = n
			}
		}
	}
	switch scenario {
	case "setup":
		_, err := sdk.PgExec(0, `CREATE TABLE t (i int PRIMARY KEY, n numeric, s text, b boolean, ts timestamptz, j jsonb);
			CREATE TABLE c (i int, s text);
			CREATE TABLE hc (i int CHECK (i < 1000000), s text)`)
		return err
	case "args":
		n, err := sdk.PgExec(0, `INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6), ($7, NULL, $8, NULL, NULL, NULL)`,
			1, json.Number("12345678901234567890.123"), "text 'quoted' ☃", true, "2026-01-02T03:04:05.123456+02:00", `{"a": [1, null]}`,
			2, nil)
		if err != nil {
			return err
		}
		if err := expect("rows affected", n, 2); err != nil {
			return err
		}
		res, err := sdk.PgQuery(0, `SELECT i, n, s, b, ts, j, NULL::text AS nothing FROM t WHERE i = $1 OR s IS NULL ORDER BY i`, "1")
		if err != nil {
			return err
		}
		if err := expect("columns", strings.Join(res.Columns, ","), "i,n,s,b,ts,j,nothing"); err != nil {
			return err
		}
		var got []string
		for _, r := range res.Rows {
			for _, v := range r {
				if v == nil {
					got = append(got, "NULL")
				} else {
					got = append(got, *v)
				}
			}
		}
		return expect("rows", strings.Join(got, "|"),
			`1|12345678901234567890.123|text 'quoted' ☃|t|2026-01-02 01:04:05.123456+00|{"a": [1, null]}|NULL|2|NULL|NULL|NULL|NULL|NULL|NULL`)
	case "multi-statement":
		n, err := sdk.PgExec(0, `INSERT INTO c VALUES (1, 'a'); INSERT INTO c VALUES (2, 'b'), (3, 'c'); DELETE FROM c`)
		if err != nil {
			return err
		}
		return expect("rows affected by three statements", n, 6)
	case "unique-violation":
		_, err := sdk.PgExec(0, `INSERT INTO t (i) VALUES (1)`)
		if err == nil {
			return errors.New("duplicate key inserted")
		}
		return errors.New(hostError(err))
	case "leave-tx-open":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		_, err = sdk.PgExec(tx, `INSERT INTO c VALUES (100, 'left open')`)
		return err
	case "leave-copy-open":
		if err := sdk.PgCopyFrom(0, `COPY c FROM STDIN`); err != nil {
			return err
		}
		return sdk.PgCopyData([]byte("101\tunfinished\n102\tunfinished\n"))
	case "leave-copy-open-in-tx":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		if err := sdk.PgCopyFrom(tx, `COPY c FROM STDIN`); err != nil {
			return err
		}
		return sdk.PgCopyData([]byte("103\tunfinished\n"))
	case "copy":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		if err := sdk.PgCopyFrom(tx, `COPY c FROM STDIN`); err != nil {
			return err
		}
		for i := 0; i < 1000; i++ {
			if err := sdk.PgCopyData([]byte(fmt.Sprintf("%d\trow %d\n", i, i))); err != nil {
				return err
			}
		}
		n, err := sdk.PgCopyEnd()
		if err != nil {
			return err
		}
		if err := expect("rows copied", n, 1000); err != nil {
			return err
		}
		out, err := sdk.PgCopyTo(tx, `COPY (SELECT i, s FROM c WHERE i < 3 ORDER BY i) TO STDOUT`)
		if err != nil {
			return err
		}
		if err := expect("copy to", string(out), "0\trow 0\n1\trow 1\n2\trow 2\n"); err != nil {
			return err
		}
		return sdk.PgCommit(tx)
	case "copy-batch":
		// The body's records (i int32, s utf8) into c by a batch COPY,
		// with i as the key: the host's row count and duplicate report
		// must match what the guest sees in the body.
		rows, dup := 0, false
		seen := map[int32]bool{}
		for records.Next() {
			col := records.RecordBatch().Column(0).(*array.Int32)
			for i := 0; i < col.Len(); i++ {
				dup = dup || seen[col.Value(i)]
				seen[col.Value(i)] = true
				rows++
			}
		}
		res, err := sdk.PgCopyBatch(abi.PgRequest{SQL: `COPY c (i, s) FROM STDIN (FORMAT binary)`,
			Columns: []abi.PgCopyColumn{{Field: 0, Type: "integer"}, {Field: 1, Type: "text"}}, Keys: []int{0}})
		if err != nil {
			return fmt.Errorf("%w: %s where=%q", err, hostError(err), whereOf(err))
		}
		if err := expect("rows copied", res.Rows, rows); err != nil {
			return err
		}
		return expect("duplicate keys", res.DuplicateKeys, dup)
	case "copy-batch-reordered":
		// Columns picked out of order, with an ordinal: c2 (s, i, n).
		if _, err := sdk.PgExec(0, `CREATE TABLE IF NOT EXISTS c2 (s text, i int, n bigint)`); err != nil {
			return err
		}
		res, err := sdk.PgCopyBatch(abi.PgRequest{SQL: `COPY c2 (s, i, n) FROM STDIN (FORMAT binary)`,
			Columns: []abi.PgCopyColumn{{Field: 1, Type: "text"}, {Field: 0, Type: "integer"}}, Ordinal: true})
		if err != nil {
			return fmt.Errorf("%w: %s where=%q", err, hostError(err), whereOf(err))
		}
		return expect("duplicate keys without keys", res.DuplicateKeys, false)
	case "copy-batch-bad-type":
		_, err := sdk.PgCopyBatch(abi.PgRequest{SQL: `COPY c (i, s) FROM STDIN (FORMAT binary)`,
			Columns: []abi.PgCopyColumn{{Field: 0, Type: "integer"}, {Field: 1, Type: "jsonb"}}})
		if err == nil {
			return errors.New("utf8 as jsonb accepted")
		}
		return errors.New(hostError(err))
	case "copy-bad-data":
		if err := sdk.PgCopyFrom(0, `COPY c FROM STDIN`); err != nil {
			return err
		}
		err := sdk.PgCopyData([]byte("not a number\tx\n"))
		if err == nil {
			_, err = sdk.PgCopyEnd()
		}
		if err == nil {
			return errors.New("bad COPY data accepted")
		}
		return errors.New(hostError(err))
	case "copy-many-chunks":
		// copyChunks chunks of about 256 KiB, far more than the host's
		// queue holds; the test holds a lock on c meanwhile.
		if err := sdk.PgCopyFrom(0, `COPY c FROM STDIN`); err != nil {
			return err
		}
		rows := 0
		for i := 0; i < copyChunks; i++ {
			var b []byte
			for len(b) < 256<<10 {
				b = fmt.Appendf(b, "%d\t%s\n", 200000+rows, strings.Repeat("x", 100))
				rows++
			}
			if err := sdk.PgCopyData(b); err != nil {
				return fmt.Errorf("chunk %d: %w", i, err)
			}
		}
		n, err := sdk.PgCopyEnd()
		if err != nil {
			return err
		}
		return expect("rows copied", n, rows)
	case "copy-bad-mid":
		// A bad value in the third chunk of copyChunks: the error comes
		// back from a later pg_copy_data or from pg_copy_end, with the
		// server's fields.
		if err := sdk.PgCopyFrom(0, `COPY c FROM STDIN`); err != nil {
			return err
		}
		rows, bad := 0, false
		for i := 0; i < copyChunks; i++ {
			var b []byte
			for len(b) < 256<<10 {
				if i == 2 && !bad && len(b) > 128<<10 {
					b = append(b, "not a number\tbad\n"...)
					bad = true
				} else {
					b = fmt.Appendf(b, "%d\t%s\n", 300000+rows, strings.Repeat("y", 100))
				}
				rows++
			}
			if err := sdk.PgCopyData(b); err != nil {
				return fmt.Errorf("pg_copy_data %s where=%q", hostError(err), whereOf(err))
			}
		}
		_, err := sdk.PgCopyEnd()
		if err == nil {
			return errors.New("bad COPY data accepted")
		}
		return fmt.Errorf("pg_copy_end %s where=%q", hostError(err), whereOf(err))
	case "copy-busy":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		if err := sdk.PgCopyFrom(tx, `COPY c FROM STDIN`); err != nil {
			return err
		}
		var msgs []string
		if _, err := sdk.PgExec(tx, `SELECT 1`); err != nil {
			msgs = append(msgs, err.Error())
		}
		if err := sdk.PgCommit(tx); err != nil {
			msgs = append(msgs, err.Error())
		}
		if err := sdk.PgCopyFrom(0, `COPY c FROM STDIN`); err != nil {
			msgs = append(msgs, err.Error())
		}
		// Rolling back ends the COPY too.
		if err := sdk.PgRollback(tx); err != nil {
			return fmt.Errorf("rollback during a COPY: %w", err)
		}
		if _, err := sdk.PgCopyEnd(); err != nil {
			msgs = append(msgs, err.Error())
		}
		return errors.New(strings.Join(msgs, "; "))
	case "not-copy":
		var msgs []string
		if err := sdk.PgCopyFrom(0, `SELECT 1`); err != nil {
			msgs = append(msgs, err.Error())
		}
		if _, err := sdk.PgCopyTo(0, `SELECT 1`); err != nil {
			msgs = append(msgs, err.Error())
		}
		if err := sdk.PgCopyData([]byte("x")); err != nil {
			msgs = append(msgs, err.Error())
		}
		return errors.New(strings.Join(msgs, "; "))
	case "commit-failed":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		if _, err := sdk.PgExec(tx, `INSERT INTO c VALUES (5000, 'in a failed tx')`); err != nil {
			return err
		}
		if _, err := sdk.PgExec(tx, `SELECT 1/0`); err == nil {
			return errors.New("division by zero succeeded")
		}
		return sdk.PgCommit(tx)
	case "too-many-tx":
		for i := 0; i < 1000; i++ {
			if _, err := sdk.PgBegin(); err != nil {
				return fmt.Errorf("begin %d: %w", i+1, err)
			}
		}
		return errors.New("1000 transactions at once")
	case "keep-handle":
		tx, err := sdk.PgBegin()
		p.kept = tx
		return err
	case "use-kept-handle":
		_, err := sdk.PgExec(p.kept, `SELECT 1`)
		return err
	case "hold", "hold-then-panic":
		// A held COPY of the body's records (i int32, s utf8) into hc;
		// the expected held_rows and committed follow the name.
		rows := 0
		for records.Next() {
			rows += int(records.RecordBatch().NumRows())
		}
		res, err := sdk.PgCopyHold(holdRequest(`COPY hc (i, s) FROM STDIN (FORMAT binary)`))
		if err != nil {
			return fmt.Errorf("%w: %s", err, hostError(err))
		}
		if scenario == "hold-then-panic" {
			panic("pgprobe: crash while holding a COPY")
		}
		if err := expect("rows", res.Rows, rows); err != nil {
			return err
		}
		if err := expect("held rows", res.HeldRows, p.wantHeld); err != nil {
			return err
		}
		if res.HeldBytes <= 0 {
			return fmt.Errorf("held bytes %d", res.HeldBytes)
		}
		return expect("committed", res.Committed, p.wantCommitted)
	case "hold-fail":
		// A value the server refuses: its error comes with this batch,
		// or, when the server read it after pg_copy_from returned, from
		// pg_copy_end.
		_, err := sdk.PgCopyHold(holdRequest(`COPY hc (i, s) FROM STDIN (FORMAT binary)`))
		if err == nil {
			_, err = sdk.PgCopyEnd()
		}
		if err == nil {
			return errors.New("no error")
		}
		return errors.New(hostError(err))
	case "hold-other":
		_, err := sdk.PgCopyHold(holdRequest(`COPY c (i, s) FROM STDIN (FORMAT binary)`))
		if err == nil || !strings.Contains(err.Error(), "holds a COPY of other sql") {
			return fmt.Errorf("a held COPY of other sql: got %v", err)
		}
		_, err = sdk.PgCopyBatch(abi.PgRequest{SQL: `COPY c (i, s) FROM STDIN (FORMAT binary)`,
			Columns: []abi.PgCopyColumn{{Field: 0, Type: "integer"}, {Field: 1, Type: "text"}}})
		if err == nil || !strings.Contains(err.Error(), "end it with pg_copy_end before another COPY") {
			return fmt.Errorf("another COPY while one is held: got %v", err)
		}
		req := holdRequest(`COPY hc (i, s) FROM STDIN (FORMAT binary)`)
		req.Keys = []int{0}
		if _, err = sdk.PgCopyHold(req); err == nil || !strings.Contains(err.Error(), "no ordinal and no keys") {
			return fmt.Errorf("a held COPY with keys: got %v", err)
		}
		return nil
	case "hold-end":
		n, err := sdk.PgCopyEnd()
		if err != nil {
			return fmt.Errorf("%w: %s", err, hostError(err))
		}
		return expect("rows committed", n, p.wantHeld)
	case "panic-in-tx", "exit-in-tx":
		tx, err := sdk.PgBegin()
		if err != nil {
			return err
		}
		if _, err := sdk.PgExec(tx, `INSERT INTO c VALUES (300, 'crashed')`); err != nil {
			return err
		}
		if err := sdk.PgCopyFrom(tx, `COPY c FROM STDIN`); err != nil {
			return err
		}
		if err := sdk.PgCopyData([]byte("301\tcrashed\n")); err != nil {
			return err
		}
		if scenario == "exit-in-tx" {
			os.Exit(3)
		}
		panic("pgprobe: crash in a transaction")
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}
