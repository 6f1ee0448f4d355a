package postgres

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
)

// Spec keys the capability reads from a destination's spec.
const (
	// SpecConnectionString is the connection string (PoolOptions.ConnString),
	// a secret.
	SpecConnectionString = "connection_string"
	// SpecLogLevel is pgx_log_level (PoolOptions.LogLevel).
	SpecLogLevel = "pgx_log_level"
)

type capability struct{}

// Capability returns the postgres capability.
func Capability() host.Capability { return capability{} }

func (capability) Name() abi.Capability { return abi.CapPostgres }

func (capability) Functions() []host.Function {
	return []host.Function{
		{Name: abi.ImportPgExec, Fn: pgExec},
		{Name: abi.ImportPgQuery, Fn: pgQuery},
		{Name: abi.ImportPgBegin, Fn: pgBegin},
		{Name: abi.ImportPgCommit, Fn: pgCommit},
		{Name: abi.ImportPgRollback, Fn: pgRollback},
		{Name: abi.ImportPgCopyFrom, Fn: pgCopyFrom},
		{Name: abi.ImportPgCopyData, Fn: pgCopyData},
		{Name: abi.ImportPgCopyEnd, Fn: pgCopyEnd},
		{Name: abi.ImportPgCopyTo, Fn: pgCopyTo},
	}
}

func (capability) SecretKeys() []string { return []string{SpecConnectionString} }

func (capability) Describe() string {
	return "pg_* host functions on a connection pool the host opens from the spec's connection_string (secret), in UTC; open transactions and COPYs are rolled back when an operation ends"
}

// Open opens the destination's connection pool from its spec's
// connection_string and pgx_log_level; its sessions' application_name is
// "wasmdest/" and the destination's name unless the connection string sets
// one. pgx logs to req.Logger named "pgx". The grant owns the pool.
func (capability) Open(ctx context.Context, req host.OpenRequest) (host.Grant, error) {
	cs, _ := req.Spec[SpecConnectionString].(string)
	if cs == "" {
		return nil, errors.New("postgres: the spec has no connection_string, which the postgres capability opens its connection pool from")
	}
	level, _ := req.Spec[SpecLogLevel].(string)
	log := req.Logger
	if log == nil {
		log = hclog.Default()
	}
	pool, err := OpenPool(ctx, PoolOptions{ConnString: cs, LogLevel: level, Logger: log.Named("pgx"), ApplicationName: "wasmdest/" + req.Destination})
	if err != nil {
		return nil, err
	}
	return &grant{pool: pool, owned: true}, nil
}

// Grant grants the postgres capability on pool, which stays the caller's:
// closing the grant does not close it.
func Grant(pool *pgxpool.Pool) host.Grant { return &grant{pool: pool} }

type grant struct {
	pool  *pgxpool.Pool
	owned bool
}

// PoolOf returns the connection pool of a postgres grant, nil for another
// grant. The host takes its own locks there (a sync's table locks).
func PoolOf(g host.Grant) *pgxpool.Pool {
	if pg, ok := g.(*grant); ok {
		return pg.pool
	}
	return nil
}

func (g *grant) Capability() host.Capability { return capability{} }

func (g *grant) ConfigureInstance(mc wazero.ModuleConfig, _ hclog.Logger) wazero.ModuleConfig {
	return mc
}

func (g *grant) Begin(c *host.Call) host.Session {
	return &session{pool: g.pool, log: c.Logger(), txs: map[int64]pgx.Tx{}}
}

// Close closes the pool the grant opened.
func (g *grant) Close() error {
	if g.owned {
		g.pool.Close()
	}
	return nil
}
