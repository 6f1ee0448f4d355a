package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/host"
)

// GrantPool returns the connection pool of a grant of the capability.
func GrantPool(g host.Grant) *pgxpool.Pool { return g.(*grant).pool }

// CopyQueueHighWater is the most bytes a COPY's queue has held since the
// last ResetCopyQueueHighWater.
func CopyQueueHighWater() int64 { return copyQueueHigh.Load() }

// ResetCopyQueueHighWater resets CopyQueueHighWater.
func ResetCopyQueueHighWater() { copyQueueHigh.Store(0) }

// SetHeldCopyIdle sets how long a held COPY waits before the host commits
// it, and returns a function that restores it.
func SetHeldCopyIdle(d time.Duration) (restore func()) {
	old := heldCopyIdle
	heldCopyIdle = d
	return func() { heldCopyIdle = old }
}
