// Package dest is the PostgreSQL destination: Describe, Migrate, Write,
// DeleteStale and Read over an abstract database connection (DB), which the
// guest implements with the host's pg_* functions and tests implement with
// pgx directly.
package dest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

// DB is the postgres capability as the guest sees it (abi/ABI.md section 3):
// tx 0 means no transaction; args are strings, numbers, booleans or nil.
type DB interface {
	Exec(tx int64, sql string, args ...any) (int64, error)
	Query(tx int64, sql string, args ...any) (*abi.PgQueryResult, error)
	Begin() (int64, error)
	Commit(tx int64) error
	Rollback(tx int64) error
	// CopyBatch runs req, a batch COPY (abi.PgRequest.Batch: the host
	// encodes records, the running write's batch, by reference), and
	// returns the rows copied and whether keys repeated.
	CopyBatch(req abi.PgRequest, records array.RecordReader) (abi.PgCopyBatchResult, error)
	CopyTo(tx int64, sql string) ([]byte, error)
}

// Holder is a DB that can hold a batch COPY open across writes (ABI 1.7,
// abi.PgRequest.Hold): the guest's, on the host's pg_* functions.
type Holder interface {
	// CopyHold runs req, a batch COPY, holding it open: it begins the
	// held COPY or continues it (same SQL and columns).
	CopyHold(req abi.PgRequest) (abi.PgCopyBatchResult, error)
	// CopyEnd commits the held COPY and returns its rows.
	CopyEnd() (int64, error)
}

// DefaultCopyTransactionBytes is the spec's copy_transaction_bytes when
// it is missing: how much COPY data of back-to-back inserts one COPY
// statement holds.
const DefaultCopyTransactionBytes = 256 << 20

// Spec is the nested spec the guest receives (connection_string, a secret,
// stays with the host; batching settings are the host's).
type Spec struct {
	// Schema is the PostgreSQL schema of the tables; "" means the
	// connection's current_schema() (its search_path). It is created, if
	// missing, when the first table is created.
	Schema string `json:"schema"`
	// CreatePerformanceIndexes adds an index on (_cq_source_name,
	// _cq_sync_time) to the tables, for delete-stale.
	CreatePerformanceIndexes bool `json:"create_performance_indexes"`
	// TypeMapping chooses the types of new columns where the CloudQuery
	// destination and the richer types differ: "cloudquery" (default:
	// text for durations, intervals, float16, structs and maps) or "rich"
	// (interval, real, jsonb). Existing columns of either keep theirs.
	TypeMapping string `json:"type_mapping"`
	// CopyTransactionBytes bounds the COPY data of the inserts that one
	// held COPY gathers (abi.PgRequest.Hold); 0: a COPY per batch. nil:
	// DefaultCopyTransactionBytes.
	CopyTransactionBytes *int64 `json:"copy_transaction_bytes"`
}

// ReadBatchRows is the most rows of one record Read emits.
const ReadBatchRows = 10000

// Destination is the PostgreSQL destination of one guest instance.
type Destination struct {
	db     DB
	spec   Spec
	schema string // resolved on first use
	// indexed remembers tables whose performance index exists.
	indexed map[string]bool
	// mapping is the spec's type_mapping.
	mapping pgbinary.Mapping
	// stored caches the column types of tables (stored name to
	// format_type; nil: no such table), for columns existing with the
	// other mapping's type. Migrate forgets a table's.
	stored map[string]map[string]string
	// held is the COPY this instance holds across writes, nil when none.
	held *heldCopy
}

// heldCopy is what a Destination knows of its held COPY: its table and
// the rows it holds.
type heldCopy struct {
	table string
	rows  int64
}

// New returns a destination on db.
func New(db DB) *Destination {
	return &Destination{db: db, indexed: map[string]bool{}, stored: map[string]map[string]string{}}
}

// Init reads the spec.
func (d *Destination) Init(req abi.InitRequest) error {
	if len(req.Spec) > 0 {
		if err := json.Unmarshal(req.Spec, &d.spec); err != nil {
			return fmt.Errorf("spec: %w", err)
		}
	}
	m, err := pgbinary.ParseMapping(d.spec.TypeMapping)
	if err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	d.mapping = m
	if d.spec.Schema != "" {
		if err := pgwire.CheckName("spec: schema", d.spec.Schema); err != nil {
			return err
		}
	}
	return nil
}

// Schema returns the schema the tables live in.
func (d *Destination) Schema() (string, error) {
	if d.schema != "" {
		return d.schema, nil
	}
	if d.spec.Schema != "" {
		d.schema = pgwire.Truncate(d.spec.Schema)
		return d.schema, nil
	}
	res, err := d.db.Query(0, "SELECT current_schema()")
	if err != nil {
		return "", fmt.Errorf("find the current schema: %w", err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] == nil {
		return "", errors.New("the connection has no current schema: its search_path names no schema that exists; fix search_path in the connection string, create the schema, or set the spec's schema")
	}
	d.schema = *res.Rows[0][0]
	return d.schema, nil
}

// inTx runs fn in a transaction, committed when fn succeeds and rolled back
// otherwise.
func (d *Destination) inTx(fn func(tx int64) error) error {
	tx, err := d.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		d.db.Rollback(tx)
		return err
	}
	return d.db.Commit(tx)
}
