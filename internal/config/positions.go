package config

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// posIndex locates keys and string values in a configuration file's source.
//
// A position path is a list of segments: map keys as they are, and array
// elements as "[N]". A TOML destination is at ["destination", "[0]"], its
// nested spec at ["destination", "[0]", "spec"]; the spec of the third YAML
// document is at ["#2", "spec"].
type posIndex struct {
	src        []byte
	lineStarts []int
	keys       map[string]int  // path → line of the key (or element)
	vals       map[string]span // path → extent of a string value in src
}

// span is the byte range [start, end) of src in which a value stands.
type span struct{ start, end int }

func newPosIndex(src []byte) *posIndex {
	p := &posIndex{src: src, lineStarts: []int{0}, keys: map[string]int{}, vals: map[string]span{}}
	for i, c := range src {
		if c == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	return p
}

// pathKey is the map key of a position path.
func pathKey(path []string) string { return strings.Join(path, "\x00") }

// child returns a new path: path followed by segs.
func child(path []string, segs ...string) []string {
	c := make([]string, 0, len(path)+len(segs))
	return append(append(c, path...), segs...)
}

// indexSeg is the path segment of array element i.
func indexSeg(i int) string { return "[" + strconv.Itoa(i) + "]" }

// displayPath formats a relative path for messages: "spec.tables[0].name".
func displayPath(path []string) string {
	var b strings.Builder
	for i, s := range path {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// lineAt returns the 1-based line of byte offset off.
func (p *posIndex) lineAt(off int) int {
	return sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > off })
}

// setKey records line for path, unless keep and path already has a line.
func (p *posIndex) setKey(path []string, line int, keep bool) {
	k := pathKey(path)
	if _, ok := p.keys[k]; ok && keep {
		return
	}
	p.keys[k] = line
}

// line returns the line of path, or of its nearest ancestor with a known
// line, or 0.
func (p *posIndex) line(path []string) int {
	if p == nil {
		return 0
	}
	for n := len(path); n > 0; n-- {
		if l, ok := p.keys[pathKey(path[:n])]; ok {
			return l
		}
	}
	return 0
}

// placeholderLine returns the line where the text ph (a placeholder such as
// "${VAR}") stands in the string value at path, falling back to the line of
// path when the source text of the value does not hold ph literally (for
// example when it was written with escapes).
func (p *posIndex) placeholderLine(path []string, ph string) int {
	if p == nil {
		return 0
	}
	if sp, ok := p.vals[pathKey(path)]; ok && 0 <= sp.start && sp.start <= sp.end && sp.end <= len(p.src) {
		if j := bytes.Index(p.src[sp.start:sp.end], []byte(ph)); j >= 0 {
			return p.lineAt(sp.start + j)
		}
	}
	return p.line(path)
}
