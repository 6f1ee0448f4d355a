package sqldb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/host"
)

type capability struct{}

// Capability returns the sql capability.
func Capability() host.Capability { return capability{} }

func (capability) Name() abi.Capability { return abi.CapSQL }

func (capability) Functions() []host.Function {
	return []host.Function{
		{Name: abi.ImportSQLExec, Fn: sqlExec},
		{Name: abi.ImportSQLQuery, Fn: sqlQuery},
		{Name: abi.ImportSQLBegin, Fn: sqlBegin},
		{Name: abi.ImportSQLCommit, Fn: sqlCommit},
		{Name: abi.ImportSQLRollback, Fn: sqlRollback},
		{Name: abi.ImportSQLLoad, Fn: sqlLoad},
		{Name: abi.ImportSQLLoadData, Fn: sqlLoadData},
		{Name: abi.ImportSQLLoadEnd, Fn: sqlLoadEnd},
	}
}

func (capability) SecretKeys() []string { return []string{SpecDSN} }

func (capability) Describe() string {
	return "sql_* host functions on a database/sql pool the host opens from the spec's driver (" + strings.Join(Drivers(), ", ") +
		" in this build) and dsn (secret) or path (inside the destination's directory); results as Arrow IPC; bulk loads by each driver's fastest path; open transactions and loads are rolled back when an operation ends"
}

// Open opens the destination's database: the spec's driver (default: the
// first of the manifest's sql_drivers, which must list it), and its dsn or
// its path inside the destination's directory.
func (capability) Open(ctx context.Context, req host.OpenRequest) (host.Grant, error) {
	where := fmt.Sprintf("destination %q: sql", req.Destination)
	str := func(key string) (string, error) {
		v, ok := req.Spec[key]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s: spec key %s must be a string, not %T", where, key, v)
		}
		return s, nil
	}
	driver, err := str(SpecDriver)
	if err != nil {
		return nil, err
	}
	var speaks []string
	if req.Manifest != nil {
		speaks = req.Manifest.SQLDrivers
	}
	switch {
	case driver == "" && len(speaks) == 0:
		return nil, fmt.Errorf("%s: the spec has no %s and the guest's manifest lists no sql_drivers: set %s (%s)", where, SpecDriver, SpecDriver, strings.Join(Drivers(), ", "))
	case driver == "":
		driver = speaks[0]
	case len(speaks) > 0 && !slices.Contains(speaks, driver):
		return nil, fmt.Errorf("%s: %s %q: the guest speaks the SQL of %s only", where, SpecDriver, driver, strings.Join(speaks, ", "))
	}
	dsn, err := str(SpecDSN)
	if err != nil {
		return nil, err
	}
	path, err := str(SpecPath)
	if err != nil {
		return nil, err
	}
	db, err := Open(ctx, Options{Destination: req.Destination, Driver: driver, DSN: dsn, Path: path, Dir: req.Directory})
	if err != nil {
		return nil, err
	}
	return &grant{db: db, owned: true}, nil
}

// Grant grants the sql capability on db, which stays the caller's: closing
// the grant does not close it.
func Grant(db *DB) host.Grant { return &grant{db: db} }

type grant struct {
	db    *DB
	owned bool
}

func (g *grant) Capability() host.Capability { return capability{} }

func (g *grant) ConfigureInstance(mc wazero.ModuleConfig, _ hclog.Logger) wazero.ModuleConfig {
	return mc
}

func (g *grant) Begin(c *host.Call) host.Session { return NewSession(g.db, c.Logger()) }

// Close closes the database the grant opened.
func (g *grant) Close() error {
	if g.owned {
		return g.db.Close()
	}
	return nil
}

func sessionOf(c *host.Call) *Session { return c.Session().(*Session) }

func request(c *host.Call, stack []uint64) (abi.SQLRequest, error) {
	return DecodeRequest(c.Memory(uint32(stack[0]), uint32(stack[1])))
}

func sqlExec(ctx context.Context, c *host.Call, stack []uint64) {
	s := sessionOf(c)
	req, err := request(c, stack)
	if err != nil {
		c.ReturnError(stack, s.fail(ctx, abi.ImportSQLExec, err))
		return
	}
	n, err := s.Exec(ctx, req)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnResult(stack, fmt.Appendf(nil, `{"rows_affected":%d}`, n))
}

func sqlQuery(ctx context.Context, c *host.Call, stack []uint64) {
	s := sessionOf(c)
	req, err := request(c, stack)
	if err != nil {
		c.ReturnError(stack, s.fail(ctx, abi.ImportSQLQuery, err))
		return
	}
	out, err := s.Query(ctx, req)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnResult(stack, out)
}

func sqlBegin(ctx context.Context, c *host.Call, stack []uint64) {
	h, err := sessionOf(c).Begin(ctx)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, h)
}

func sqlCommit(ctx context.Context, c *host.Call, stack []uint64) {
	if err := sessionOf(c).Commit(ctx, int64(stack[0])); err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func sqlRollback(ctx context.Context, c *host.Call, stack []uint64) {
	if err := sessionOf(c).Rollback(ctx, int64(stack[0])); err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func sqlLoad(ctx context.Context, c *host.Call, stack []uint64) {
	s := sessionOf(c)
	req, err := DecodeLoadRequest(c.Memory(uint32(stack[0]), uint32(stack[1])))
	switch {
	case err == nil && req.Batch:
		// The running write's records, by reference: they never went
		// through the guest.
		schema, recs, ok := c.Records()
		if !ok {
			err = s.LoadBegin(ctx, req) // refuses it, saying why
			break
		}
		err = s.LoadRecords(ctx, req, schema, recs)
	case err == nil:
		err = s.LoadBegin(ctx, req)
	default:
		err = s.fail(ctx, abi.ImportSQLLoad, err)
	}
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func sqlLoadData(ctx context.Context, c *host.Call, stack []uint64) {
	// LoadData returns once the load has read all of p: the view of guest
	// memory is not kept.
	if err := sessionOf(c).LoadData(ctx, c.Memory(uint32(stack[0]), uint32(stack[1]))); err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, 0)
}

func sqlLoadEnd(ctx context.Context, c *host.Call, stack []uint64) {
	n, err := sessionOf(c).LoadEnd(ctx)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnValue(stack, n)
}
