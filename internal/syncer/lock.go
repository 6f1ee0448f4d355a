package syncer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/abi"
)

// DefaultLockWait is how long a sync waits for another sync of the same
// source and table to finish when Env.LockWait is 0.
const DefaultLockWait = 10 * time.Minute

// Concurrent syncs of one table. Two syncs in write_mode
// overwrite-delete-stale of one source into one table must not interleave:
// the earlier sync could overwrite keys after the later one wrote them
// (giving them its older _cq_sync_time), and the later one's delete-stale
// would then delete them. So such a sync holds a PostgreSQL advisory lock
// keyed on the source name and the table, in the destination's database,
// from before it plans the table until after its delete-stale. Another sync
// of the same source and table waits for it (Env.LockWait), then runs; the
// result is that of the two syncs run one after the other.

// tableLock is a session-level advisory lock held on its own connection,
// taken out of the destination's pool for the duration of the sync.
type tableLock struct {
	conn *pgx.Conn
	keys []int64
}

// lockKey is the advisory lock key of a source's table: the first 8 bytes
// of FNV-1a 64 of "wasmdest", source and table, NUL separated. Two pairs
// that collide only wait for each other needlessly.
func lockKey(source, table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("wasmdest\x00" + source + "\x00" + table))
	return int64(h.Sum64())
}

// lockRequest is one table to lock.
type lockRequest struct {
	db      *pgxpool.Pool
	dest    string
	source  string
	table   string
	lockKey int64
}

// lockTables takes the locks of reqs in the order of their keys (so that two
// syncs locking several tables cannot deadlock), each destination database
// on one connection of its own. wait bounds each wait; a negative wait
// refuses at once when another sync holds a lock. Release the returned locks
// with unlockAll, also after an error.
func lockTables(ctx context.Context, reqs []lockRequest, wait time.Duration) ([]*tableLock, error) {
	reqs = slices.Clone(reqs)
	slices.SortFunc(reqs, func(a, b lockRequest) int { return cmp.Compare(a.lockKey, b.lockKey) })
	held := map[*pgxpool.Pool]*tableLock{}
	var locks []*tableLock
	for _, r := range reqs {
		l := held[r.db]
		if l == nil {
			c, err := r.db.Acquire(ctx)
			if err != nil {
				return locks, fmt.Errorf("destination %q: table %q: connect to take the sync lock: %w", r.dest, r.table, err)
			}
			// The connection leaves the pool: closing it releases its locks
			// whatever happens, and the guests keep every connection of the
			// pool.
			l = &tableLock{conn: c.Hijack()}
			held[r.db] = l
			locks = append(locks, l)
		}
		if slices.Contains(l.keys, r.lockKey) {
			continue
		}
		if err := l.lock(ctx, r, wait); err != nil {
			return locks, err
		}
		l.keys = append(l.keys, r.lockKey)
	}
	return locks, nil
}

func (l *tableLock) lock(ctx context.Context, r lockRequest, wait time.Duration) error {
	busy := func(waited string) error {
		return fmt.Errorf("destination %q: table %q: another sync of source %q into this table is running%s; "+
			"concurrent syncs of one source and table run one after the other (advisory lock %d): run this one again when it is done, or wait longer (lock wait)",
			r.dest, r.table, r.source, waited, r.lockKey)
	}
	if wait < 0 {
		var ok bool
		if err := l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", r.lockKey).Scan(&ok); err != nil {
			return fmt.Errorf("destination %q: table %q: take the sync lock: %w", r.dest, r.table, err)
		}
		if !ok {
			return busy("")
		}
		return nil
	}
	if _, err := l.conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", max(1, wait.Milliseconds()))); err != nil {
		return fmt.Errorf("destination %q: table %q: take the sync lock: %w", r.dest, r.table, err)
	}
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", r.lockKey)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available: lock_timeout expired
		return busy(fmt.Sprintf(" (waited %s)", wait))
	}
	if err != nil {
		return fmt.Errorf("destination %q: table %q: take the sync lock: %w", r.dest, r.table, err)
	}
	return nil
}

// unlockAll releases locks by closing their connections.
func unlockAll(locks []*tableLock) {
	for _, l := range locks {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// Closing ends the session, which releases its advisory locks.
		l.conn.Close(ctx)
		cancel()
	}
}

// lockRequests returns the locks a sync of tables needs: one per table and
// destination in write_mode overwrite-delete-stale with a database.
func (s *Sync) lockRequests(tables []string) []lockRequest {
	var out []lockRequest
	for _, d := range s.dests {
		if d.lockDB == nil || d.Config.WriteMode != abi.WriteModeOverwriteDeleteStale {
			continue
		}
		for _, t := range tables {
			out = append(out, lockRequest{db: d.lockDB, dest: d.Name, source: s.env.SourceName, table: t, lockKey: lockKey(s.env.SourceName, t)})
		}
	}
	return out
}

// lockWait is Env.LockWait with its default.
func (s *Sync) lockWait() time.Duration {
	if s.env.LockWait == 0 {
		return DefaultLockWait
	}
	return s.env.LockWait
}
