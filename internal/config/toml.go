package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

const keyDestination = "destination"

// parseTOML parses a wasmdest TOML file.
func parseTOML(file string, data []byte) (*File, error) {
	var top map[string]any
	if _, err := toml.Decode(string(data), &top); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Err: fmt.Errorf("invalid TOML: %s", pe.Message)}
		}
		return nil, &Error{File: file, Err: fmt.Errorf("invalid TOML: %w", err)}
	}
	p := newParser(file, data, false)
	scanTOML(data, p.pos)

	var raws []rawDest
	for _, e := range p.entriesOf(top, nil) {
		if e.key != keyDestination {
			p.errorf(e.line, "unknown top-level key %q; allowed keys: %s (written as [[%s]] tables)", e.key, keyDestination, keyDestination)
			continue
		}
		var elems []any
		switch v := e.val.(type) {
		case []map[string]any:
			for _, m := range v {
				elems = append(elems, m)
			}
		case []any:
			elems = v
		case map[string]any:
			p.errorf(e.line, "destination must be an array of tables: write [[destination]], not [destination]")
			continue
		default:
			p.errorf(e.line, "destination must be an array of tables ([[destination]]), not %s", p.typeName(e.val))
			continue
		}
		for i, el := range elems {
			path := []string{keyDestination, indexSeg(i)}
			m, ok := el.(map[string]any)
			if !ok {
				p.errorf(p.pos.line(path), "destination #%d must be a table, not %s", i+1, p.typeName(el))
				continue
			}
			raws = append(raws, rawDest{index: i + 1, line: p.pos.line(path), path: path, entries: p.entriesOf(m, path)})
		}
	}
	if len(raws) == 0 && len(p.errs) == 0 {
		p.errorf(0, "no destinations: add a [[destination]] table")
	}

	f := &File{Path: file}
	for _, raw := range raws {
		if d := p.tomlDestination(raw); d != nil {
			f.Destinations = append(f.Destinations, *d)
		}
	}
	return p.result(f)
}

func (p *parser) tomlDestination(raw rawDest) *Destination {
	s, strs := p.decodeCommon(raw)
	d := s.d
	registry, ok := strs[keyRegistry]
	if _, present := s.lines[keyRegistry]; !present {
		registry, ok = RegistryBuiltin, true
	}
	path, hasPath := strs[keyPath]
	switch {
	case !ok:
		// The registry's type or expansion was wrong; already reported.
	case registry == RegistryBuiltin:
		d.Registry = registry
		if hasPath {
			s.builtinPath(path)
		}
	case registry == RegistryLocal:
		d.Registry = registry
		if hasPath {
			s.localPath(path)
		}
	case registry == RegistryDeployed:
		d.Registry = registry
		if hasPath {
			if strings.ContainsAny(path, "/\\") || path == "" {
				s.errorf(s.keyLine(keyPath), "path %q of a deployed guest must be the guest's name", path)
			} else {
				s.d.Path = path
			}
		}
	default:
		s.errorf(s.keyLine(keyRegistry), "registry %q is not one of %s, %s, %s", registry, RegistryBuiltin, RegistryLocal, RegistryDeployed)
	}
	return s.finish(strs)
}

// builtinPath checks and sets the path of a builtin guest.
func (s *destState) builtinPath(path string) {
	for _, g := range builtinGuests {
		if path == g {
			s.d.Path = path
			return
		}
	}
	hint := ""
	if strings.HasSuffix(strings.ToLower(path), ".wasm") {
		hint = fmt.Sprintf(` (for a .wasm file set registry = %q)`, RegistryLocal)
	}
	s.errorf(s.keyLine(keyPath), "path %q is not a builtin guest; builtin guests: %s%s", path, strings.Join(builtinGuests, ", "), hint)
}

// localPath checks and sets the path of a local guest.
func (s *destState) localPath(path string) {
	if !strings.HasSuffix(strings.ToLower(path), ".wasm") {
		s.errorf(s.keyLine(keyPath), "path %q of a local guest must name a .wasm file", path)
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.p.dir, path)
	}
	s.d.Path = path
}
