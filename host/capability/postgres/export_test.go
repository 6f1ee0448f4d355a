package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmdest/wasmdest/host"
)

// GrantPool returns the connection pool of a grant of the capability.
func GrantPool(g host.Grant) *pgxpool.Pool { return g.(*grant).pool }
