//go:build !wasip1

package pgtest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host/capability/postgres"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// lockedBuffer is a log output tests read while the pool may still write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestUpsertResyncLogsNoError: re-syncing rows whose keys all exist (the
// normal case of write_mode overwrite), some of which exist, and none, with
// the default pgx_log_level: neither wasmdest's log nor PostgreSQL's shows an
// error, and the rows are the last written. (The guest used to try a plain
// INSERT first and fall back on its duplicate key error, 23505, which both
// logs reported with the statement: issue 13.)
func TestUpsertResyncLogsNoError(t *testing.T) {
	const tbl = "upsert_quiet_logs"
	e := newEnv(t, envConfig{opts: optsFor(abi.WriteModeOverwrite)})
	var logged lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "wasmdest", Level: hclog.Info, Output: &logged})
	db, err := postgres.OpenPool(e.ctx, postgres.PoolOptions{ConnString: e.url, Logger: log}) // no LogLevel: the default pgx_log_level
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e.db = db
	e.pool = e.newPool("{}", 1)
	before, ownLog := testenv.PostgresLog(t)

	s := nameSchema(tbl)
	batch := func(from, to int, value int64) arrow.RecordBatch {
		var names []string
		var vals []int64
		for i := from; i < to; i++ {
			names, vals = append(names, fmt.Sprintf("key-%04d", i)), append(vals, value+int64(i))
		}
		return withInternal(t, nameRecord(s, names, vals), e.opts)
	}
	first := batch(0, 100, 0)
	e.mustMigrate(first.Schema(), abi.MigrateModeSafe)
	e.mustWrite(first)                // none exist
	e.mustWrite(batch(0, 100, 1000))  // all exist
	e.mustWrite(batch(50, 150, 2000)) // half exist
	e.mustWrite(batch(0, 150, 3000))  // all exist, over two earlier batches

	if n := e.count(tbl); n != 150 {
		t.Fatalf("%d rows, want 150", n)
	}
	if got := e.query(`SELECT count(*) FROM ` + tbl + ` WHERE value <> 3000 + substr(name, 5)::int`); got[0][0].(int64) != 0 {
		t.Fatalf("%d rows do not hold the last written value", got[0][0])
	}
	for _, line := range strings.Split(logged.String(), "\n") {
		if strings.Contains(line, "[ERROR]") || strings.Contains(line, "[WARN]") {
			t.Errorf("wasmdest's log: %s", line)
		}
	}
	if ownLog {
		after, _ := testenv.PostgresLog(t)
		for _, line := range strings.Split(after[len(before):], "\n") {
			if strings.Contains(line, tbl) {
				t.Errorf("PostgreSQL's log: %s", line)
			}
		}
	}
}
