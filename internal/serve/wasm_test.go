package serve_test

import (
	"bytes"
)

// A tiny WebAssembly encoder for the hostile uploads: just what it takes to
// make a module that has the ABI's exports and misbehaves in one way.

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb32(v int32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func vec(items ...[]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

// Wasm opcodes used below.
const (
	opUnreachable = 0x00
	opLoop        = 0x03
	opBlock       = 0x02
	opBr          = 0x0c
	opEnd         = 0x0b
	opDrop        = 0x1a
	opI32Const    = 0x41
	opMemoryGrow  = 0x40
	opBlockEmpty  = 0x40
)

// guestModule describes a module with the ABI's five exports.
type guestModule struct {
	version     uint32 // what wasmdest_abi_version returns
	initialize  []byte // _initialize's body, without the final end
	call        []byte // wasmdest_call's body, leaving an i32; default i32.const 0
	memMin      uint32 // memory pages
	tableMin    uint32 // a funcref table of this many elements, if > 0
	extra       [][]byte
	bigFuncBody []byte // a sixth function's body, if set
}

func (m guestModule) bytes() []byte {
	// Types: 0 ()->(), 1 ()->i32, 2 (i32)->i32, 3 (i32)->(), 4 (i32,i32,i32)->i32
	const i32 = 0x7f
	types := vec(
		[]byte{0x60, 0, 0},
		[]byte{0x60, 0, 1, i32},
		[]byte{0x60, 1, i32, 1, i32},
		[]byte{0x60, 1, i32, 0},
		[]byte{0x60, 3, i32, i32, i32, 1, i32},
	)
	funcs := [][]byte{{0}, {1}, {2}, {3}, {4}}
	if m.bigFuncBody != nil {
		funcs = append(funcs, []byte{0})
	}
	memMin := m.memMin
	if memMin == 0 {
		memMin = 1
	}
	var out bytes.Buffer
	out.Write([]byte("\x00asm\x01\x00\x00\x00"))
	out.Write(section(1, types))
	out.Write(section(3, vec(funcs...)))
	if m.tableMin > 0 {
		out.Write(section(4, vec(append([]byte{0x70, 0}, uleb(uint64(m.tableMin))...))))
	}
	out.Write(section(5, vec(append([]byte{0}, uleb(uint64(memMin))...))))
	exp := func(n string, kind byte, idx uint32) []byte {
		return append(append(name(n), kind), uleb(uint64(idx))...)
	}
	out.Write(section(7, vec(exp("memory", 2, 0), exp("_initialize", 0, 0), exp("wasmdest_abi_version", 0, 1),
		exp("wasmdest_alloc", 0, 2), exp("wasmdest_free", 0, 3), exp("wasmdest_call", 0, 4))))
	body := func(code []byte) []byte {
		b := append([]byte{0}, code...) // no locals
		b = append(b, opEnd)
		return append(uleb(uint64(len(b))), b...)
	}
	call := m.call
	if call == nil {
		call = []byte{opI32Const, 0}
	}
	bodies := [][]byte{
		body(m.initialize),
		body(append([]byte{opI32Const}, sleb32(int32(m.version))...)),
		body([]byte{opI32Const, 0}),
		body(nil),
		body(call),
	}
	if m.bigFuncBody != nil {
		bodies = append(bodies, body(m.bigFuncBody))
	}
	out.Write(section(10, vec(bodies...)))
	for _, e := range m.extra {
		out.Write(e)
	}
	return out.Bytes()
}
