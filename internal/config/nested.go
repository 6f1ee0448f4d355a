package config

import (
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"
)

// ParseTOMLNested decodes the destinations of a TOML file that nests them in
// another array of tables: the [[PARENT.destination]] tables of each
// [[PARENT]] element, such as the tenants of `wasmdest serve`
// ([[tenant]] with [[tenant.destination]]). It returns one slice per PARENT
// element, in file order, each decoded and checked as Parse decodes
// [[destination]] tables (${...} expansion, defaults, strict keys, local
// paths and directories joined to the file's directory); names must be unique
// within one PARENT element. The other keys of PARENT are the caller's to
// decode and are not looked at here. Errors are joined as Parse joins them.
func ParseTOMLNested(path string, data []byte, parent string) ([][]Destination, error) {
	var top map[string]any
	if _, err := toml.Decode(string(data), &top); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: path, Line: pe.Position.Line, Err: fmt.Errorf("invalid TOML: %s", pe.Message)}
		}
		return nil, &Error{File: path, Err: fmt.Errorf("invalid TOML: %w", err)}
	}
	p := newParser(path, data, false)
	scanTOML(data, p.pos)
	var parents []map[string]any
	switch v := top[parent].(type) {
	case nil:
	case []map[string]any:
		parents = v
	case []any:
		for i, el := range v {
			m, ok := el.(map[string]any)
			if !ok {
				p.errorf(p.pos.line([]string{parent, indexSeg(i)}), "%s #%d must be a table, not %s", parent, i+1, p.typeName(el))
				m = map[string]any{}
			}
			parents = append(parents, m)
		}
	default:
		p.errorf(p.pos.line([]string{parent}), "%s must be an array of tables ([[%s]]), not %s", parent, parent, p.typeName(v))
	}
	out := make([][]Destination, len(parents))
	for i, m := range parents {
		p.names = map[string]int{} // names are unique within one parent
		base := []string{parent, indexSeg(i), keyDestination}
		var elems []any
		switch v := m[keyDestination].(type) {
		case nil:
			p.errorf(p.pos.line([]string{parent, indexSeg(i)}), "%s #%d has no destinations: add a [[%s.%s]] table", parent, i+1, parent, keyDestination)
		case []map[string]any:
			for _, d := range v {
				elems = append(elems, d)
			}
		case []any:
			elems = v
		default:
			p.errorf(p.pos.line(base), "%s.%s must be an array of tables ([[%s.%s]]), not %s", parent, keyDestination, parent, keyDestination, p.typeName(v))
		}
		for j, el := range elems {
			dpath := child(base, indexSeg(j))
			dm, ok := el.(map[string]any)
			if !ok {
				p.errorf(p.pos.line(dpath), "destination #%d must be a table, not %s", j+1, p.typeName(el))
				continue
			}
			raw := rawDest{index: j + 1, line: p.pos.line(dpath), path: dpath, entries: p.entriesOf(dm, dpath)}
			if d := p.tomlDestination(raw); d != nil {
				out[i] = append(out[i], *d)
			}
		}
	}
	if _, err := p.result(&File{Path: path}); err != nil {
		return nil, err
	}
	return out, nil
}
