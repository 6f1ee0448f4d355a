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

// coreFuncs implements the host functions every guest may call: the rows of
// abi.Imports without a capability. Capabilities implement the others.
var coreFuncs = map[string]func(ctx context.Context, c *Call, stack []uint64){
	abi.ImportLog:        hostLog,
	abi.ImportSetError:   hostSetError,
	abi.ImportInputRead:  hostInputRead,
	abi.ImportOutput:     hostOutput,
	abi.ImportResultRead: hostResultRead,
	abi.ImportExpand:     hostExpand,
}

// stateKey is the context key of the *Call of a running operation.
type stateKey struct{}

func apiTypes(ts []abi.ValueType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

// instantiateHostModule exports every host function of abi.Imports. A
// function of a capability runs the implementation of the capability
// granted to the instance's pool, or fails.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, imp := range abi.Imports() {
		core := coreFuncs[imp.Name]
		if imp.Capability == "" && core == nil {
			return fmt.Errorf("host function %s of the ABI has no implementation", imp.Name)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
				c, _ := ctx.Value(stateKey{}).(*Call)
				if c == nil {
					// Called outside an operation, e.g. from the guest's
					// initialisers: only logging makes sense there.
					if imp.Name == abi.ImportLog {
						logOutside(ctx, m.Memory(), stack)
						return
					}
					panic(fmt.Errorf("host function %s called outside an operation", imp.Name))
				}
				c.mem, c.fn, c.grant = m.Memory(), imp.Name, nil
				if core != nil {
					core(ctx, c, stack)
					return
				}
				g, fn := c.inst.capabilityFunc(imp)
				if fn == nil {
					msg := fmt.Errorf("host function %s needs capability %q, which this guest was not granted", imp.Name, imp.Capability)
					if g != nil {
						msg = fmt.Errorf("host function %s: capability %q of this host does not implement it", imp.Name, imp.Capability)
					}
					c.ReturnError(stack, msg)
					return
				}
				c.grant = g
				fn(ctx, c, stack)
			}), apiTypes(imp.ParamTypes()), apiTypes(imp.Results)).
			Export(imp.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func logOutside(ctx context.Context, mem api.Memory, stack []uint64) {
	c := &Call{mem: mem, fn: abi.ImportLog}
	level, ptr, n := abi.Level(int32(stack[0])), uint32(stack[1]), uint32(stack[2])
	msg := string(c.Memory(ptr, n))
	if in, ok := ctx.Value(instanceKey{}).(*Instance); ok {
		in.logLine(level, msg)
	}
}

func hostLog(_ context.Context, c *Call, stack []uint64) {
	level, ptr, n := abi.Level(int32(stack[0])), uint32(stack[1]), uint32(stack[2])
	c.inst.logLine(level, string(c.Memory(ptr, n)))
}

func hostSetError(_ context.Context, c *Call, stack []uint64) {
	c.errMsg = string(c.Memory(uint32(stack[0]), uint32(stack[1])))
}

func hostInputRead(_ context.Context, c *Call, stack []uint64) {
	ptr, capacity := uint32(stack[0]), uint32(stack[1])
	if c.body == nil || capacity == 0 {
		stack[0] = 0
		return
	}
	// Read straight into guest memory: the view stays valid because the
	// guest cannot grow its memory while the host function runs.
	buf := c.Memory(ptr, capacity)
	for {
		n, err := c.body.Read(buf)
		if n > 0 {
			stack[0] = uint64(uint32(n))
			return
		}
		if err == io.EOF {
			stack[0] = 0
			return
		}
		if err != nil {
			c.setResultError(fmt.Errorf("read request body: %w", err))
			stack[0] = api.EncodeI32(-1)
			return
		}
	}
}

func hostOutput(ctx context.Context, c *Call, stack []uint64) {
	b := c.Memory(uint32(stack[0]), uint32(stack[1]))
	if c.outErr == nil && ctx.Err() != nil {
		c.outErr = ctx.Err()
	}
	if c.outErr == nil {
		if c.out == nil {
			c.outErr = errors.New("guest wrote output to an operation that has none")
		} else if _, err := c.out.Write(b); err != nil {
			c.outErr = err
		}
	}
	if c.outErr != nil {
		stack[0] = 1 // ask the guest to stop
		return
	}
	stack[0] = 0
}

func hostResultRead(_ context.Context, c *Call, stack []uint64) {
	buf := c.Memory(uint32(stack[0]), uint32(stack[1]))
	n := copy(buf, c.result)
	c.result = c.result[n:]
	stack[0] = uint64(uint32(n))
}

func hostExpand(_ context.Context, c *Call, stack []uint64) {
	var req abi.ExpandRequest
	if err := json.Unmarshal(c.Memory(uint32(stack[0]), uint32(stack[1])), &req); err != nil {
		c.ReturnError(stack, fmt.Errorf("expand: bad request: %w", err))
		return
	}
	expand := c.inst.pool.cfg.Expand
	if expand == nil {
		c.ReturnError(stack, errors.New("expand: this host has no placeholder values for the guest"))
		return
	}
	s, err := expand(req)
	if err != nil {
		c.ReturnError(stack, err)
		return
	}
	c.ReturnResult(stack, []byte(s))
}

// hostErrorOf converts err to its ABI form. Errors that know their ABI form
// (database errors) have a method HostError.
func hostErrorOf(err error) *abi.HostError {
	var ae interface{ HostError() *abi.HostError }
	if errors.As(err, &ae) {
		he := ae.HostError()
		he.Message = err.Error()
		return he
	}
	return &abi.HostError{Message: err.Error()}
}
