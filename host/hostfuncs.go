package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdest/wasmdest/abi"
)

// hostFunc is one host function of the ABI.
type hostFunc struct {
	name string
	sig  signature
	// capability is "" for functions every guest may call.
	capability abi.Capability
	fn         func(ctx context.Context, st *callState, mem api.Memory, stack []uint64)
}

// hostFuncs lists every host function of this ABI version. Functions of a
// capability are looked up in capabilityFuncs too.
var hostFuncs = []hostFunc{
	{abi.ImportLog, signature{[]api.ValueType{i32, i32, i32}, nil}, "", hostLog},
	{abi.ImportSetError, signature{[]api.ValueType{i32, i32}, nil}, "", hostSetError},
	{abi.ImportInputRead, signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, "", hostInputRead},
	{abi.ImportOutput, signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, "", hostOutput},
	{abi.ImportResultRead, signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, "", hostResultRead},
	{abi.ImportExpand, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, "", hostExpand},
	// The postgres capability (postgres.go).
	{abi.ImportPgExec, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, abi.CapPostgres, hostPgExec},
	{abi.ImportPgQuery, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, abi.CapPostgres, hostPgQuery},
	{abi.ImportPgBegin, signature{nil, []api.ValueType{i64}}, abi.CapPostgres, hostPgBegin},
	{abi.ImportPgCommit, signature{[]api.ValueType{i64}, []api.ValueType{i64}}, abi.CapPostgres, hostPgCommit},
	{abi.ImportPgRollback, signature{[]api.ValueType{i64}, []api.ValueType{i64}}, abi.CapPostgres, hostPgRollback},
	{abi.ImportPgCopyFrom, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, abi.CapPostgres, hostPgCopyFrom},
	{abi.ImportPgCopyData, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, abi.CapPostgres, hostPgCopyData},
	{abi.ImportPgCopyEnd, signature{nil, []api.ValueType{i64}}, abi.CapPostgres, hostPgCopyEnd},
	{abi.ImportPgCopyTo, signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}, abi.CapPostgres, hostPgCopyTo},
}

func lookupHostFunc(name string) (hostFunc, bool) {
	for _, f := range hostFuncs {
		if f.name == name {
			return f, true
		}
	}
	return hostFunc{}, false
}

// stateKey is the context key of the *callState of a running call.
type stateKey struct{}

// callState is what host functions know about the operation running in an
// instance. It lives in the context passed to the guest's export.
type callState struct {
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
	// pg holds the transactions and COPY of the postgres host functions.
	pg *pgState
}

// guestMemory returns the bytes at ptr..ptr+n of the guest's memory as a
// view valid until the host function returns. Out-of-range arguments are a
// guest bug: the panic becomes a trap and the instance is discarded.
func guestMemory(mem api.Memory, ptr, n uint32, fn string) []byte {
	b, ok := mem.Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("host function %s: guest passed memory %d..%d outside its %d bytes", fn, ptr, uint64(ptr)+uint64(n), mem.Size()))
	}
	return b
}

func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range hostFuncs {
		f := f
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
				st, _ := ctx.Value(stateKey{}).(*callState)
				if st == nil {
					// Called outside an operation, e.g. from the guest's
					// initialisers: only logging makes sense there.
					if f.name == abi.ImportLog {
						hostLog(ctx, nil, m.Memory(), stack)
						return
					}
					panic(fmt.Errorf("host function %s called outside an operation", f.name))
				}
				if f.capability != "" && !st.inst.granted(f.capability) {
					setResultError(st, fmt.Errorf("host function %s needs capability %q, which this guest was not granted", f.name, f.capability))
					stack[0] = api.EncodeI64(-int64(len(st.result)))
					return
				}
				f.fn(ctx, st, m.Memory(), stack)
			}), f.sig.params, f.sig.results).
			Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func hostLog(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	level, ptr, n := abi.Level(int32(stack[0])), uint32(stack[1]), uint32(stack[2])
	msg := string(guestMemory(mem, ptr, n, abi.ImportLog))
	if st == nil {
		if in, ok := ctx.Value(instanceKey{}).(*Instance); ok {
			in.logLine(level, msg)
		}
		return
	}
	st.inst.logLine(level, msg)
}

func hostSetError(_ context.Context, st *callState, mem api.Memory, stack []uint64) {
	st.errMsg = string(guestMemory(mem, uint32(stack[0]), uint32(stack[1]), abi.ImportSetError))
}

func hostInputRead(_ context.Context, st *callState, mem api.Memory, stack []uint64) {
	ptr, capacity := uint32(stack[0]), uint32(stack[1])
	if st.body == nil || capacity == 0 {
		stack[0] = 0
		return
	}
	// Read straight into guest memory: the view stays valid because the
	// guest cannot grow its memory while the host function runs.
	buf := guestMemory(mem, ptr, capacity, abi.ImportInputRead)
	for {
		n, err := st.body.Read(buf)
		if n > 0 {
			stack[0] = uint64(uint32(n))
			return
		}
		if err == io.EOF {
			stack[0] = 0
			return
		}
		if err != nil {
			setResultError(st, fmt.Errorf("read request body: %w", err))
			stack[0] = api.EncodeI32(-1)
			return
		}
	}
}

func hostOutput(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	b := guestMemory(mem, uint32(stack[0]), uint32(stack[1]), abi.ImportOutput)
	if st.outErr == nil && ctx.Err() != nil {
		st.outErr = ctx.Err()
	}
	if st.outErr == nil {
		if st.out == nil {
			st.outErr = errors.New("guest wrote output to an operation that has none")
		} else if _, err := st.out.Write(b); err != nil {
			st.outErr = err
		}
	}
	if st.outErr != nil {
		stack[0] = 1 // ask the guest to stop
		return
	}
	stack[0] = 0
}

func hostResultRead(_ context.Context, st *callState, mem api.Memory, stack []uint64) {
	buf := guestMemory(mem, uint32(stack[0]), uint32(stack[1]), abi.ImportResultRead)
	n := copy(buf, st.result)
	st.result = st.result[n:]
	stack[0] = uint64(uint32(n))
}

func hostExpand(ctx context.Context, st *callState, mem api.Memory, stack []uint64) {
	var req abi.ExpandRequest
	if err := json.Unmarshal(guestMemory(mem, uint32(stack[0]), uint32(stack[1]), abi.ImportExpand), &req); err != nil {
		returnError(st, stack, fmt.Errorf("expand: bad request: %w", err))
		return
	}
	expand := st.inst.pool.cfg.Expand
	if expand == nil {
		returnError(st, stack, errors.New("expand: this host has no placeholder values for the guest"))
		return
	}
	s, err := expand(req)
	if err != nil {
		returnError(st, stack, err)
		return
	}
	returnResult(st, stack, []byte(s))
}

// returnResult puts data in the result slot and its length on the stack.
func returnResult(st *callState, stack []uint64, data []byte) {
	st.result = data
	stack[0] = api.EncodeI64(int64(len(data)))
}

// returnError puts err as a HostError in the result slot and minus its length
// on the stack, and remembers err for the call's error.
func returnError(st *callState, stack []uint64, err error) {
	setResultError(st, err)
	stack[0] = api.EncodeI64(-int64(len(st.result)))
}

func setResultError(st *callState, err error) {
	st.hostErr = err
	he := hostErrorOf(err)
	b, _ := json.Marshal(he)
	st.result = b
}

// hostErrorOf converts err to its ABI form. Errors that know their ABI form
// (database errors) implement abiError.
func hostErrorOf(err error) *abi.HostError {
	var ae interface{ HostError() *abi.HostError }
	if errors.As(err, &ae) {
		he := ae.HostError()
		he.Message = err.Error()
		return he
	}
	return &abi.HostError{Message: err.Error()}
}
