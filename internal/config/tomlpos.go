package config

import (
	"bytes"
	"strconv"
)

// scanTOML records in idx the lines of the keys, tables and array elements of
// src, and the extents of its string values. The TOML library does not
// report positions, so this scanner reads the source a second time; it runs
// only on source the library accepted, and stops quietly at anything it does
// not understand (positions are then missing and messages fall back to the
// nearest known line). It reports whether it read all of src.
func scanTOML(src []byte, idx *posIndex) bool {
	s := &tomlScanner{src: src, idx: idx, arrays: map[string]int{}}
	for !s.failed && s.i < len(s.src) {
		before := s.i
		s.statement()
		if s.i <= before {
			return false
		}
	}
	return !s.failed
}

type tomlScanner struct {
	src    []byte
	i      int
	idx    *posIndex
	table  []string       // the current table's path
	arrays map[string]int // path key of each array of tables → its length
	failed bool
}

func (s *tomlScanner) fail() { s.failed = true }

func (s *tomlScanner) eof() bool { return s.i >= len(s.src) }

func (s *tomlScanner) line(off int) int { return s.idx.lineAt(off) }

// skipSpace skips blanks on the current line.
func (s *tomlScanner) skipSpace() {
	for !s.eof() && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.i++
	}
}

// skipAll skips blanks, newlines and comments.
func (s *tomlScanner) skipAll() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *tomlScanner) statement() {
	s.skipAll()
	if s.eof() {
		return
	}
	if s.src[s.i] == '[' {
		s.header()
		return
	}
	start := s.i
	segs := s.keyPath()
	if s.failed {
		return
	}
	full := child(s.table, segs...)
	s.recordKey(full, len(s.table), s.line(start))
	s.skipSpace()
	if s.eof() || s.src[s.i] != '=' {
		s.fail()
		return
	}
	s.i++
	s.skipSpace()
	s.value(full)
}

// recordKey records line for path and for its parents from index from on
// that have no line yet (dotted keys define them implicitly).
func (s *tomlScanner) recordKey(path []string, from, line int) {
	for n := from + 1; n < len(path); n++ {
		s.idx.setKey(path[:n], line, true)
	}
	s.idx.setKey(path, line, false)
}

// header reads a [table] or [[array.of.tables]] header.
func (s *tomlScanner) header() {
	start := s.i
	array := bytes.HasPrefix(s.src[s.i:], []byte("[["))
	if array {
		s.i += 2
	} else {
		s.i++
	}
	s.skipSpace()
	segs := s.keyPath()
	if s.failed {
		return
	}
	s.skipSpace()
	closing := "]"
	if array {
		closing = "]]"
	}
	if !bytes.HasPrefix(s.src[s.i:], []byte(closing)) {
		s.fail()
		return
	}
	s.i += len(closing)
	line := s.line(start)

	// Resolve the header against the arrays of tables seen so far: a
	// segment naming one refers to its last element.
	var cur []string
	for j, seg := range segs {
		cur = append(cur, seg)
		s.idx.setKey(cur, line, true)
		if j == len(segs)-1 {
			break
		}
		if n, ok := s.arrays[pathKey(cur)]; ok && n > 0 {
			cur = append(cur, indexSeg(n-1))
		}
	}
	if array {
		k := pathKey(cur)
		n := s.arrays[k]
		s.arrays[k] = n + 1
		cur = append(cur, indexSeg(n))
		s.idx.setKey(cur, line, false)
	} else {
		s.idx.setKey(cur, line, false)
	}
	s.table = cur
}

// keyPath reads a dotted key.
func (s *tomlScanner) keyPath() []string {
	var segs []string
	for {
		s.skipSpace()
		seg, ok := s.keyPart()
		if !ok {
			s.fail()
			return nil
		}
		segs = append(segs, seg)
		s.skipSpace()
		if s.eof() || s.src[s.i] != '.' {
			return segs
		}
		s.i++
	}
}

// keyPart reads one part of a key: bare, "basic" or 'literal'.
func (s *tomlScanner) keyPart() (string, bool) {
	if s.eof() {
		return "", false
	}
	start := s.i
	switch s.src[s.i] {
	case '"':
		end, ok := s.basicEnd(s.i)
		if !ok {
			return "", false
		}
		s.i = end
		raw := string(s.src[start:end])
		if v, err := strconv.Unquote(raw); err == nil {
			return v, true
		}
		return raw[1 : len(raw)-1], true
	case '\'':
		j := bytes.IndexByte(s.src[s.i+1:], '\'')
		if j < 0 {
			return "", false
		}
		s.i += j + 2
		return string(s.src[start+1 : s.i-1]), true
	}
	for !s.eof() && isBareKeyByte(s.src[s.i]) {
		s.i++
	}
	if s.i == start {
		return "", false
	}
	return string(s.src[start:s.i]), true
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= 0x80
}

// basicEnd returns the offset just after the single-line basic string that
// starts at the quote at off.
func (s *tomlScanner) basicEnd(off int) (int, bool) {
	for j := off + 1; j < len(s.src); j++ {
		switch s.src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		case '\n':
			return 0, false
		}
	}
	return 0, false
}

// multiEnd returns the offset just after the multi-line string that starts
// at the three quote characters q at off.
func (s *tomlScanner) multiEnd(off int, q byte) (int, bool) {
	delim := []byte{q, q, q}
	for j := off + 3; j < len(s.src); j++ {
		if q == '"' && s.src[j] == '\\' {
			j++
			continue
		}
		if bytes.HasPrefix(s.src[j:], delim) {
			j += 3
			// Up to two more quotes belong to the content: """a""""" is a"".
			for k := 0; k < 2 && j < len(s.src) && s.src[j] == q; k++ {
				j++
			}
			return j, true
		}
	}
	return 0, false
}

// value reads the value of the key at path.
func (s *tomlScanner) value(path []string) {
	if s.eof() {
		s.fail()
		return
	}
	start := s.i
	s.idx.setKey(path, s.line(start), true)
	rest := s.src[s.i:]
	switch {
	case bytes.HasPrefix(rest, []byte(`"""`)), bytes.HasPrefix(rest, []byte(`'''`)):
		end, ok := s.multiEnd(s.i, rest[0])
		if !ok {
			s.fail()
			return
		}
		s.i = end
		s.idx.vals[pathKey(path)] = span{start, end}
	case rest[0] == '"':
		end, ok := s.basicEnd(s.i)
		if !ok {
			s.fail()
			return
		}
		s.i = end
		s.idx.vals[pathKey(path)] = span{start, end}
	case rest[0] == '\'':
		j := bytes.IndexAny(rest[1:], "'\n")
		if j < 0 || rest[1+j] != '\'' {
			s.fail()
			return
		}
		s.i += j + 2
		s.idx.vals[pathKey(path)] = span{start, s.i}
	case rest[0] == '[':
		s.i++
		for n := 0; ; n++ {
			s.skipAll()
			if s.eof() {
				s.fail()
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			s.value(child(path, indexSeg(n)))
			if s.failed {
				return
			}
			s.skipAll()
			if s.eof() {
				s.fail()
				return
			}
			switch s.src[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return
			default:
				s.fail()
				return
			}
		}
	case rest[0] == '{':
		s.i++
		for {
			s.skipAll()
			if s.eof() {
				s.fail()
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			keyStart := s.i
			segs := s.keyPath()
			if s.failed {
				return
			}
			full := child(path, segs...)
			s.recordKey(full, len(path), s.line(keyStart))
			s.skipSpace()
			if s.eof() || s.src[s.i] != '=' {
				s.fail()
				return
			}
			s.i++
			s.skipSpace()
			s.value(full)
			if s.failed {
				return
			}
			s.skipAll()
			if s.eof() {
				s.fail()
				return
			}
			switch s.src[s.i] {
			case ',':
				s.i++
			case '}':
				s.i++
				return
			default:
				s.fail()
				return
			}
		}
	default:
		// A number, boolean or date: up to the next delimiter.
		for !s.eof() && bytes.IndexByte([]byte(",]}#\r\n"), s.src[s.i]) < 0 {
			s.i++
		}
		if s.i == start {
			s.fail()
		}
	}
}
