package host

import (
	"errors"
	"fmt"
)

// MaxLocals bounds the locals one function declares. wazero reserves room
// for every declared local before it reads the function's code; V8 and
// SpiderMonkey refuse more than 50000 too.
const MaxLocals = 50000

// MaxTableElements bounds a table's initial size: wazero allocates a table
// whole at instantiation, outside the memory limit (8 bytes an element).
const MaxTableElements = 1 << 20

// CheckBinary checks a module's structure before wazero decodes it: every
// size, count and length it declares must fit in the bytes that follow.
// wazero allocates what a module declares before reading it, so a module of
// 15 bytes that declares 2^32 functions makes it ask for 16 GiB (measured;
// the Go runtime then ends the whole process, it cannot be recovered), and
// one declaring a 4 GiB custom section makes it allocate 4 GiB. Every
// element of these vectors takes at least one byte, so a count within the
// remaining bytes bounds what wazero allocates to a small multiple of the
// module's size. Instructions inside function bodies are not decoded here.
func CheckBinary(wasm []byte) error {
	r := &binReader{b: wasm}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly module: it does not begin with \\0asm")
	}
	if string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return fmt.Errorf("WebAssembly binary version %x is not 1", wasm[4:8])
	}
	r.off = 8
	for r.off < len(r.b) {
		start := r.off
		id := r.byte()
		size := r.count("section size")
		if r.err != nil {
			return fmt.Errorf("section %d at byte %d: %w", id, start, r.err)
		}
		body := &binReader{b: r.b[r.off : r.off+int(size)], base: r.off}
		r.off += int(size)
		if err := checkSection(id, body); err != nil {
			return fmt.Errorf("section %d at byte %d (%d bytes): %w", id, start, size, err)
		}
	}
	return nil
}

func checkSection(id byte, r *binReader) error {
	switch id {
	case 0: // custom
		r.name()
	case 1: // type
		for n := r.count("types"); n > 0 && r.err == nil; n-- {
			r.byte()
			r.skip(r.count("parameters"))
			r.skip(r.count("results"))
		}
	case 2: // import
		for n := r.count("imports"); n > 0 && r.err == nil; n-- {
			r.name()
			r.name()
			switch r.byte() {
			case 0, 4:
				r.u32()
			case 1:
				r.byte()
				r.tableLimits()
			case 2:
				r.limits()
			case 3:
				r.byte()
				r.byte()
			}
		}
	case 3: // function
		for n := r.count("functions"); n > 0 && r.err == nil; n-- {
			r.u32()
		}
	case 4: // table
		for n := r.count("tables"); n > 0 && r.err == nil; n-- {
			r.byte()
			r.tableLimits()
		}
	case 5: // memory
		for n := r.count("memories"); n > 0 && r.err == nil; n-- {
			r.limits()
		}
	case 6: // global
		for n := r.count("globals"); n > 0 && r.err == nil; n-- {
			r.byte()
			r.byte()
			r.expr()
		}
	case 7: // export
		for n := r.count("exports"); n > 0 && r.err == nil; n-- {
			r.name()
			r.byte()
			r.u32()
		}
	case 9: // element
		for n := r.count("element segments"); n > 0 && r.err == nil; n-- {
			flags := r.u32()
			if flags&2 != 0 && flags&1 == 0 {
				r.u32() // table index
			}
			if flags&1 == 0 {
				r.expr() // offset
			}
			if flags&3 != 0 {
				r.byte() // element kind or reference type
			}
			for m := r.count("elements"); m > 0 && r.err == nil; m-- {
				if flags&4 != 0 {
					r.expr()
				} else {
					r.u32()
				}
			}
		}
	case 10: // code
		for n := r.count("function bodies"); n > 0 && r.err == nil; n-- {
			size := r.count("function body size")
			if r.err != nil {
				break
			}
			f := &binReader{b: r.b[r.off : r.off+int(size)], base: r.base + r.off}
			r.off += int(size)
			var locals uint64
			for m := f.count("local declarations"); m > 0 && f.err == nil; m-- {
				locals += uint64(f.u32())
				f.byte()
			}
			if f.err != nil {
				return fmt.Errorf("function body at byte %d: %w", f.base, f.err)
			}
			if locals > MaxLocals {
				return fmt.Errorf("function body at byte %d declares %d locals, over the %d allowed", f.base, locals, MaxLocals)
			}
		}
	case 11: // data
		for n := r.count("data segments"); n > 0 && r.err == nil; n-- {
			switch r.u32() {
			case 0:
				r.expr()
			case 2:
				r.u32()
				r.expr()
			}
			r.skip(r.count("data bytes"))
		}
	case 13: // tag
		r.count("tags")
	}
	return r.err
}

// binReader reads a module's bytes; the first error sticks.
type binReader struct {
	b    []byte
	off  int
	base int
	err  error
}

func (r *binReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *binReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("truncated at byte %d", r.base+r.off)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *binReader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.fail("integer at byte %d is over 32 bits", r.base+r.off)
			}
			return uint32(v)
		}
	}
	r.fail("integer at byte %d is over 5 bytes", r.base+r.off)
	return 0
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (r *binReader) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	r.fail("integer at byte %d is too long", r.base+r.off)
}

// count reads a count or size and checks that it fits in what remains.
func (r *binReader) count(what string) uint32 {
	at := r.base + r.off
	n := r.u32()
	if r.err == nil && int64(n) > int64(len(r.b)-r.off) {
		r.fail("declares %d %s at byte %d, but only %d bytes follow: truncated or crafted", n, what, at, len(r.b)-r.off)
		return 0
	}
	return n
}

func (r *binReader) skip(n uint32) {
	if r.err == nil {
		r.off += int(n) // count checked it fits
	}
}

func (r *binReader) name() { r.skip(r.count("name bytes")) }

func (r *binReader) limits() uint32 {
	flags := r.byte()
	min := r.u32()
	if flags&1 != 0 {
		r.u32()
	}
	return min
}

func (r *binReader) tableLimits() {
	if n := r.limits(); n > MaxTableElements {
		r.fail("a table of %d elements at start, over the %d allowed", n, MaxTableElements)
	}
}

// expr skips a constant expression up to its end.
func (r *binReader) expr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.sleb(5)
		case 0x42: // i64.const
			r.sleb(10)
		case 0x43: // f32.const
			r.skip(min(4, uint32(len(r.b)-r.off)))
		case 0x44: // f64.const
			r.skip(min(8, uint32(len(r.b)-r.off)))
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			r.u32()
			r.skip(min(16, uint32(len(r.b)-r.off)))
		default:
			r.fail("opcode 0x%02x at byte %d in a constant expression", op, r.base+r.off-1)
		}
	}
}
