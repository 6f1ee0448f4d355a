package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

type windowError struct {
	window uint64
	max    int64
}

func (e *windowError) Error() string {
	return fmt.Sprintf("zstd frame declares a window of %d bytes, more than the %d it may use (its decoder would allocate that much)", e.window, e.max)
}

// zstdMinWindow is the window every compressed buffer may use whatever its
// size: what common encoders pick by default (libzstd up to level 19 and
// klauspost/compress use at most 8 MiB).
const zstdMinWindow = 8 << 20

// checkCompressed checks the compressed buffers of a message body before
// arrow-go decompresses them. Each buffer is an int64 uncompressed length (-1
// for a buffer stored as it is) followed by one LZ4 or zstd stream. The
// length must be within the decoding budget, and a zstd frame must not
// declare a window bigger than the budget or than what the buffer needs:
// arrow-go's zstd decoder allocates the declared window (about twice over)
// before decoding a byte, so 9 hostile bytes could make it allocate a GiB.
func checkCompressed(info msgInfo, body []byte, budget int64) error {
	if info.codec == codecNone {
		return nil
	}
	for i, b := range info.bufs {
		if b.len == 0 {
			continue
		}
		if b.len < 8 {
			return fmt.Errorf("compressed buffer %d is %d bytes, shorter than its length prefix", i, b.len)
		}
		buf := body[b.off : b.off+b.len]
		n := int64(binary.LittleEndian.Uint64(buf))
		if n == -1 {
			continue
		}
		if n < 0 || n > budget {
			return fmt.Errorf("%w: compressed buffer %d claims %d bytes uncompressed, the limit is %d (MaxBodyBytes)", ErrTooLarge, i, n, budget)
		}
		if info.codec == codecZstd {
			if err := checkZstd(buf[8:], min(budget, max(zstdMinWindow, n))); err != nil {
				var we *windowError
				if errors.As(err, &we) {
					return fmt.Errorf("%w: compressed buffer %d: %v", ErrTooLarge, i, err)
				}
				return fmt.Errorf("compressed buffer %d: %v", i, err)
			}
		}
	}
	return nil
}

// checkZstd walks the zstd frames of b (RFC 8878) without decompressing
// them, checking their headers and block structure and that no frame's
// window is over maxWindow.
func checkZstd(b []byte, maxWindow int64) error {
	short := fmt.Errorf("zstd data is cut short")
	for len(b) > 0 {
		if len(b) < 4 {
			return short
		}
		magic := binary.LittleEndian.Uint32(b)
		if magic&0xFFFFFFF0 == 0x184D2A50 { // skippable frame
			if len(b) < 8 {
				return short
			}
			size := int64(binary.LittleEndian.Uint32(b[4:]))
			if size > int64(len(b)-8) {
				return short
			}
			b = b[8+size:]
			continue
		}
		if magic != 0xFD2FB528 {
			return fmt.Errorf("not a zstd frame (magic %08x)", magic)
		}
		p := 4
		if len(b) < p+1 {
			return short
		}
		fhd := b[p]
		p++
		fcsFlag, single, checksum, dictFlag := fhd>>6, fhd>>5&1 == 1, fhd>>2&1 == 1, fhd&3
		if fhd&0x08 != 0 {
			return fmt.Errorf("zstd frame header has its reserved bit set")
		}
		if dictFlag != 0 {
			return fmt.Errorf("zstd frames with a dictionary are not supported")
		}
		var window int64
		if !single {
			if len(b) < p+1 {
				return short
			}
			wd := b[p]
			p++
			base := int64(1) << (10 + wd>>3)
			window = base + base/8*int64(wd&7)
		}
		fcsSize := [4]int{0, 2, 4, 8}[fcsFlag]
		if fcsFlag == 0 && single {
			fcsSize = 1
		}
		if len(b) < p+fcsSize {
			return short
		}
		var fcs int64
		switch fcsSize {
		case 1:
			fcs = int64(b[p])
		case 2:
			fcs = int64(binary.LittleEndian.Uint16(b[p:])) + 256
		case 4:
			fcs = int64(binary.LittleEndian.Uint32(b[p:]))
		case 8:
			fcs = int64(binary.LittleEndian.Uint64(b[p:]))
		}
		p += fcsSize
		if single {
			window = fcs
		}
		if window < 0 || window > maxWindow {
			return &windowError{window: uint64(window), max: maxWindow}
		}
		for last := false; !last; {
			if len(b) < p+3 {
				return short
			}
			bh := int(b[p]) | int(b[p+1])<<8 | int(b[p+2])<<16
			p += 3
			last = bh&1 == 1
			size := bh >> 3
			switch bh >> 1 & 3 {
			case 1: // RLE: one byte repeated size times
				size = 1
			case 3:
				return fmt.Errorf("zstd block of reserved type")
			}
			if len(b) < p+size {
				return short
			}
			p += size
		}
		if checksum {
			p += 4
			if len(b) < p {
				return short
			}
		}
		b = b[p:]
	}
	return nil
}
