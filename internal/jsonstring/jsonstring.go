// Package jsonstring appends Go strings to byte slices as JSON strings, for
// the guests' hand-written JSON encoders (the file guest's JSON Lines, the
// postgres guest's jsonb text), which must not go through encoding/json's
// reflection for every value.
package jsonstring

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// Append appends s to dst as a JSON string, escaped as encoding/json escapes
// without HTML escaping: quote, backslash and control characters, U+2028
// and U+2029; each byte of invalid UTF-8 becomes U+FFFD.
func Append(dst []byte, s string) []byte {
	dst, _ = appendString(dst, s, false)
	return dst
}

// AppendStrict appends s to dst as a JSON string for a store that keeps the
// text exactly, as PostgreSQL's jsonb does: NUL characters are left out
// (jsonb cannot hold them), and invalid UTF-8 is not replaced: AppendStrict
// stops at its first byte and returns that byte's offset in s. It returns
// -1 when s was appended whole.
func AppendStrict(dst []byte, s string) ([]byte, int) { return appendString(dst, s, true) }

func appendString(dst []byte, s string, strict bool) ([]byte, int) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case 0:
				if strict {
					break
				}
				dst = append(dst, '\\', 'u', '0', '0', '0', '0')
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1 && strict:
			return dst, i
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case (r == '\u2028' || r == '\u2029') && !strict:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), -1
}
