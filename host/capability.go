package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdest/wasmdest/abi"
)

// Capability is a plug-in of the host: a resource a guest asks for by name
// in its manifest (a database, a directory) and the host functions that
// reach it. The core (Runtime, Pool, Instance, host-function dispatch) knows
// no capability by name; packages under host/capability implement them.
//
// A capability's host functions are the rows of abi.Imports whose
// Capability is its Name, with the signatures given there: a new capability
// adds rows to that table (and to ABI.md), a minor ABI version.
//
// Implementations must be safe for concurrent use.
type Capability interface {
	// Name is the capability's name as manifests spell it.
	Name() abi.Capability
	// Functions implements the capability's host functions.
	Functions() []Function
	// Open opens the capability for one destination from its
	// configuration. The Grant owns what Open opened (a connection pool);
	// the caller closes it after the Pools it was given to. Errors must not
	// contain secrets.
	Open(ctx context.Context, req OpenRequest) (Grant, error)
	// SecretKeys are the keys of the destination's spec that Open reads
	// and that the guest never sees, whatever its manifest says.
	SecretKeys() []string
	// Describe says in one line what a guest gets and what the destination
	// configures, for `wasmdest inspect`.
	Describe() string
}

// OpenRequest is what Capability.Open opens a grant from.
type OpenRequest struct {
	// Destination is the destination's name.
	Destination string
	// Spec is the destination's whole spec, secrets included.
	Spec map[string]any
	// Directory is the destination's directory setting; "" means the
	// working directory.
	Directory string
	// Logger receives the capability's own logs.
	Logger hclog.Logger
	// Manifest is the guest's manifest (a capability may read its own
	// fields of it, such as SQLDrivers); nil when unknown.
	Manifest *abi.Manifest
}

// Grant is a capability opened for one destination: PoolConfig.Grants
// gives it to a Pool's instances.
type Grant interface {
	// Capability is what was opened.
	Capability() Capability
	// ConfigureInstance contributes to the configuration of every new
	// instance of a guest that asks for the capability (a filesystem
	// mount); most return mc unchanged. log is the instance's logger.
	ConfigureInstance(mc wazero.ModuleConfig, log hclog.Logger) wazero.ModuleConfig
	// Begin starts the state of one operation, on the first call of one of
	// the capability's host functions in it; nil when there is none.
	Begin(c *Call) Session
	// Close releases what the grant owns.
	Close() error
}

// HostErrorNoter is implemented by a Grant whose instances may meet host
// errors the guest can only be told of vaguely: the filesystem's ENOSPC,
// which WASI has no errno for and turns into EIO ("I/O error"). The host
// calls ConfigureInstanceNoting instead of ConfigureInstance; take returns
// (and forgets) the instance's last such error, which the host puts in the
// error of the operation that failed.
type HostErrorNoter interface {
	ConfigureInstanceNoting(mc wazero.ModuleConfig, log hclog.Logger) (_ wazero.ModuleConfig, take func() error)
}

// Session is a capability's state during one operation.
type Session interface {
	// End runs when the operation ends, however it ends (it returned,
	// trapped, panicked or was stopped): it rolls back and releases what
	// the guest left open. ctx may be done already.
	End(ctx context.Context)
}

// InstanceState is a capability's state kept across the operations of one
// instance (an encoder of a file that spans write calls): Call.InstanceState
// makes it, and the host closes it when the instance is closed or discarded.
type InstanceState interface {
	// Close releases what the state holds.
	Close()
}

// Function is one host function of a capability. Its name and signature
// are an abi.Imports row.
type Function struct {
	Name string
	// Fn runs the function. stack holds the parameters and receives the
	// results, as in wazero's api.GoModuleFunc. A panic traps the guest
	// and discards its instance: panic only for guest bugs (Call.Memory
	// does for bad pointers).
	Fn func(ctx context.Context, c *Call, stack []uint64)
}

// Call is one operation running in an instance, as its host functions see
// it. It is used by one goroutine at a time and is only valid while its
// host function runs.
type Call struct {
	inst *Instance
	body io.Reader
	out  io.Writer
	// errMsg is what the guest passed to set_error.
	errMsg string
	// result is the result slot read with result_read.
	result []byte
	// outErr is the first error the output writer returned.
	outErr error
	// hostErr is the last error a host function returned to the guest; it
	// is wrapped into the call's error so callers see, e.g., a *pgconn.PgError.
	hostErr error
	// sessions are the capabilities' states begun in this operation.
	sessions []session
	// mem and fn are the memory and name of the running host function,
	// grant the grant of its capability (nil for the core functions).
	mem   api.Memory
	fn    string
	grant Grant
}

type session struct {
	grant Grant
	s     Session
}

// Memory returns the bytes at ptr..ptr+n of the guest's memory as a view
// valid until the host function returns. Out-of-range arguments are a guest
// bug: it panics, which traps the guest and discards the instance. Never
// keep the view (nor hand it to a goroutine that outlives the function):
// the guest may overwrite it, and the memory lives outside the Go heap and
// is unmapped when the instance closes, so touching a kept view then
// crashes the process (RATIONALE.md, "Guest memory outside the Go heap").
func (c *Call) Memory(ptr, n uint32) []byte {
	b, ok := c.mem.Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("host function %s: guest passed memory %d..%d outside its %d bytes", c.fn, ptr, uint64(ptr)+uint64(n), c.mem.Size()))
	}
	return b
}

// ReturnResult puts data in the result slot and its length in stack[0]
// (an i64 result, abi/ABI.md "result slot").
func (c *Call) ReturnResult(stack []uint64, data []byte) {
	c.result = data
	stack[0] = api.EncodeI64(int64(len(data)))
}

// ReturnValue empties the result slot and returns v (>= 0: a handle or a
// count) in stack[0].
func (c *Call) ReturnValue(stack []uint64, v int64) {
	c.result = nil
	stack[0] = api.EncodeI64(v)
}

// ReturnError puts err as a HostError in the result slot and minus its
// length in stack[0], and keeps err as the cause of the operation's error
// (CallError.Err), reachable with errors.As. An error with a method
// HostError() *abi.HostError fills the HostError's fields; its Message is
// always err.Error().
func (c *Call) ReturnError(stack []uint64, err error) {
	c.setResultError(err)
	stack[0] = api.EncodeI64(-int64(len(c.result)))
}

// Session returns the state of the running function's capability in this
// operation, begun with Grant.Begin on first use.
func (c *Call) Session() Session {
	if c.grant == nil {
		return nil
	}
	for _, s := range c.sessions {
		if s.grant == c.grant {
			return s.s
		}
	}
	s := c.grant.Begin(c)
	c.sessions = append(c.sessions, session{c.grant, s})
	return s
}

// InstanceState returns the running capability's state on this instance,
// made with newState on first use; the host closes it when the instance ends.
func (c *Call) InstanceState(newState func() InstanceState) InstanceState {
	in := c.inst
	if st, ok := in.states[c.grant]; ok {
		return st
	}
	if in.states == nil {
		in.states = map[Grant]InstanceState{}
	}
	st := newState()
	in.states[c.grant] = st
	return st
}

// Records returns the records of the running operation's body when the
// host produced it from decoded records (RecordBody: a write's batch), so
// a capability can use them by reference instead of the guest sending them
// back; ok is false for other bodies. They are valid while the host
// function runs.
func (c *Call) Records() (schema *arrow.Schema, recs []arrow.RecordBatch, ok bool) {
	b, ok := c.body.(*recordBody)
	if !ok {
		return nil, nil, false
	}
	return b.schema, b.recs, true
}

// Logger returns the instance's logger.
func (c *Call) Logger() hclog.Logger { return c.inst.log }

// end ends every capability session of the operation.
func (c *Call) end(ctx context.Context) {
	for i := len(c.sessions) - 1; i >= 0; i-- {
		if s := c.sessions[i].s; s != nil {
			s.End(ctx)
		}
	}
	c.sessions = nil
}

func (c *Call) setResultError(err error) {
	c.hostErr = err
	b, _ := json.Marshal(hostErrorOf(err))
	c.result = b
}
