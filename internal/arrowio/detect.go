package arrowio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

type format int

const (
	formatNotArrow format = iota
	formatStream
	formatFile
)

var fileMagic = []byte("ARROW1")

const continuation = 0xFFFFFFFF

// sniff tells the format from the first bytes of the input.
func sniff(head []byte, lim Limits) format {
	if bytes.HasPrefix(head, fileMagic) {
		return formatFile
	}
	if len(head) < 4 {
		return formatNotArrow
	}
	v := binary.LittleEndian.Uint32(head)
	if v == continuation {
		return formatStream
	}
	// Streams written before Arrow 0.15 start with the metadata length,
	// padded to 8 bytes, without the continuation marker.
	if n := int64(int32(v)); n >= 8 && n%8 == 0 && n <= lim.MaxMetadataBytes {
		return formatStream
	}
	return formatNotArrow
}

// describe says what the first bytes of a non-Arrow input look like.
func describe(head []byte) string {
	if len(head) == 0 {
		return "the input is empty"
	}
	shown := head[:min(len(head), 16)]
	var kind string
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(head, []byte("PAR1")):
		kind = "Parquet"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		kind = "gzip-compressed data: decompress it first"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		kind = "zstd-compressed data: decompress it first"
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		kind = "an LZ4 frame: decompress it first"
	case bytes.HasPrefix(head, []byte("BZh")):
		kind = "bzip2-compressed data: decompress it first"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		kind = "a ZIP archive"
	case bytes.HasPrefix(head, []byte("ORC")):
		kind = "ORC"
	case bytes.HasPrefix(head, []byte("Obj\x01")):
		kind = "Avro"
	case len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['):
		kind = "JSON"
	case isText(head):
		kind = "text (CSV?)"
	}
	s := fmt.Sprintf("the input starts with % x (%q)", shown, shown)
	if len(head) < 4 {
		s = fmt.Sprintf("the input has only %d bytes: % x", len(head), head)
	}
	if kind != "" {
		s += ", which looks like " + kind
	}
	return s + "; Arrow IPC starts with ff ff ff ff (stream) or \"ARROW1\" (file)"
}

func isText(b []byte) bool {
	if !utf8.Valid(b[:max(0, len(b)-utf8.UTFMax)]) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
