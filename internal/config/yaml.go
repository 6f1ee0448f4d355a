package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// CloudQuery names.
const (
	cqRegistry        = "cloudquery"
	cqPathPostgres    = "cloudquery/postgresql"
	cqPathFile        = "cloudquery/file"
	kindSource        = "source"
	kindDestination   = "destination"
	keyKind           = "kind"
	maxYAMLDepth      = 1000
	maxYAMLValues     = 1 << 17 // bounds alias expansion
	yamlDocPathPrefix = "#"
)

// cqPlugins maps the CloudQuery plugins wasmdest ships to builtin guests.
var cqPlugins = map[string]string{
	cqPathPostgres: BuiltinPostgres,
	cqPathFile:     BuiltinFile,
	cqPathSQLite:   BuiltinSQLite,
	cqPathMySQL:    BuiltinMySQL,
	cqPathDuckDB:   BuiltinDuckDB,
}

// cqPluginList lists the CloudQuery paths wasmdest ships and their guests,
// for error messages.
func cqPluginList() string {
	var out []string
	for _, g := range builtinGuests {
		for p, pg := range cqPlugins {
			if pg == g {
				out = append(out, fmt.Sprintf("%s (the builtin %s guest)", p, g))
			}
		}
	}
	return strings.Join(out, ", ")
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError converts an error of the YAML library.
func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Err: fmt.Errorf("invalid YAML: %s", msg[len(m[0]):])}
	}
	return &Error{File: file, Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))}
}

// parseYAML parses a CloudQuery spec file.
func parseYAML(file string, data []byte) (*File, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		n := new(yaml.Node)
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(file, err)
		}
		docs = append(docs, n)
	}

	p := newParser(file, data, true)
	w := &yamlWalker{idx: p.pos}
	for i, doc := range docs {
		w.walk(doc, []string{yamlDocPathPrefix + strconv.Itoa(i)}, 0)
	}
	w.finish()

	conv := &yamlConv{active: map[*yaml.Node]bool{}}
	var raws []rawDest
	for i, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // an empty document
		}
		docPath := []string{yamlDocPathPrefix + strconv.Itoa(i)}
		if root.Kind != yaml.MappingNode {
			p.errorf(root.Line, "document %d must be a mapping with the keys kind and spec", i+1)
			continue
		}
		kind, spec, ok := p.yamlDocument(root, i+1)
		if !ok {
			continue
		}
		switch kind {
		case kindSource:
			name := ""
			if spec != nil {
				name = yamlScalarValue(spec, keyName)
			}
			if name != "" {
				name = fmt.Sprintf(" (name %q)", name)
			}
			p.warnf(root.Line, "skipped the kind: source document%s: wasmdest reads only destinations", name)
			continue
		case kindDestination:
		default:
			p.errorf(yamlKeyLine(root, keyKind), "kind %q is not supported; wasmdest reads kind: %s documents and skips kind: %s documents", kind, kindDestination, kindSource)
			continue
		}
		if spec == nil {
			p.errorf(root.Line, "document %d: kind: destination needs a spec", i+1)
			continue
		}
		specPath := child(docPath, keySpec)
		v, err := conv.value(spec, 0)
		if err != nil {
			p.errs = append(p.errs, &Error{File: file, Line: err.line, Err: fmt.Errorf("document %d: %s", i+1, err.msg)})
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			p.errorf(yamlKeyLine(root, keySpec), "document %d: spec must be a mapping, not %s", i+1, p.typeName(v))
			continue
		}
		raws = append(raws, rawDest{index: len(raws) + 1, line: root.Line, path: specPath, entries: p.entriesOf(m, specPath)})
	}
	if len(raws) == 0 && len(p.errs) == 0 {
		p.errorf(0, "no destinations: the file has no kind: destination document")
	}

	f := &File{Path: file}
	for _, raw := range raws {
		if d := p.yamlDestination(raw); d != nil {
			f.Destinations = append(f.Destinations, *d)
		}
	}
	return p.result(f)
}

// yamlDocument reads the top-level keys of a document.
func (p *parser) yamlDocument(root *yaml.Node, n int) (kind string, spec *yaml.Node, ok bool) {
	ok = true
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolveAlias(root.Content[i]), resolveAlias(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, "document %d: keys must be strings", n)
			ok = false
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.errorf(k.Line, "document %d: key %q is defined twice (first at line %d)", n, k.Value, prev)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case keyKind:
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
				p.errorf(k.Line, "document %d: kind must be a string (%s or %s)", n, kindDestination, kindSource)
				ok = false
				continue
			}
			kind = v.Value
		case keySpec:
			if !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
				spec = v
			}
		default:
			p.errorf(k.Line, "document %d: unknown top-level key %q; allowed keys: %s, %s", n, k.Value, keyKind, keySpec)
			ok = false
		}
	}
	if _, has := seen[keyKind]; !has && ok {
		p.errorf(root.Line, "document %d: kind is required (%s or %s)", n, kindDestination, kindSource)
		ok = false
	}
	return kind, spec, ok
}

func (p *parser) yamlDestination(raw rawDest) *Destination {
	s, strs := p.decodeCommon(raw)
	d := s.d
	registry, ok := strs[keyRegistry]
	if _, present := s.lines[keyRegistry]; !present {
		registry, ok = cqRegistry, true // CloudQuery's default
	}
	path, hasPath := strs[keyPath]
	switch {
	case !ok:
		// The registry's type or expansion was wrong; already reported.
	case registry == cqRegistry:
		d.Registry = RegistryBuiltin
		if hasPath {
			if g, ok := cqPlugins[path]; ok {
				d.Path = g
				switch path {
				case cqPathSQLite, cqPathMySQL, cqPathDuckDB:
					s.cqSQLSpec(path)
				}
			} else {
				s.errorf(s.keyLine(keyPath), "path %q is not a plugin wasmdest ships; with registry %s the supported paths are %s",
					path, cqRegistry, cqPluginList())
			}
		}
		if v := strs[keyVersion]; v != "" && d.Path != "" {
			s.warnf(s.keyLine(keyVersion), "version %q is ignored: %s runs as wasmdest's builtin %s guest", v, path, d.Path)
		}
		delete(strs, keyVersion)
	case registry == RegistryLocal:
		d.Registry = RegistryLocal
		if hasPath {
			s.localPath(path)
		}
	default:
		s.errorf(s.keyLine(keyRegistry), "registry %q is not supported; supported registries: %s (with path %s, %s, %s, %s or %s) and %s (path of a .wasm file)",
			registry, cqRegistry, cqPathPostgres, cqPathFile, cqPathSQLite, cqPathMySQL, cqPathDuckDB, RegistryLocal)
	}
	return s.finish(strs)
}

// resolveAlias follows an alias node to its anchor.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// yamlKeyLine returns the line of key in mapping m, or m's line.
func yamlKeyLine(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// yamlScalarValue returns the scalar value of key in mapping m, or "".
func yamlScalarValue(m *yaml.Node, key string) string {
	if m.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// yamlWalker records the positions of the nodes of YAML documents.
type yamlWalker struct {
	idx     *posIndex
	lines   []int // lines where nodes start
	pending []pendingVal
}

type pendingVal struct {
	key  string
	line int
}

func (w *yamlWalker) walk(n *yaml.Node, path []string, depth int) {
	if n == nil || depth > maxYAMLDepth {
		return
	}
	if n.Line > 0 {
		w.lines = append(w.lines, n.Line)
		w.idx.setKey(path, n.Line, true)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, path, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			cp := child(path, k.Value)
			w.lines = append(w.lines, k.Line)
			w.idx.setKey(cp, k.Line, false)
			w.walk(v, cp, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			cp := child(path, indexSeg(i))
			w.walk(c, cp, depth+1)
		}
	case yaml.ScalarNode:
		w.pending = append(w.pending, pendingVal{pathKey(path), n.Line})
	}
}

// finish sets the extent of each scalar value: from the start of its line
// to the start of the next line where another node starts.
func (w *yamlWalker) finish() {
	sort.Ints(w.lines)
	src, starts := w.idx.src, w.idx.lineStarts
	for _, pv := range w.pending {
		if pv.line < 1 || pv.line > len(starts) {
			continue
		}
		end := len(src)
		j := sort.SearchInts(w.lines, pv.line+1)
		if j < len(w.lines) && w.lines[j]-1 < len(starts) {
			end = starts[w.lines[j]-1]
		}
		if start := starts[pv.line-1]; start <= end {
			w.idx.vals[pv.key] = span{start, end}
		}
	}
}

// yamlConv converts YAML nodes to values.
type yamlConv struct {
	active map[*yaml.Node]bool // anchors being converted, to refuse cycles
	count  int
}

type convError struct {
	line int
	msg  string
}

func (c *yamlConv) fail(n *yaml.Node, format string, args ...any) *convError {
	return &convError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

func (c *yamlConv) value(n *yaml.Node, depth int) (any, *convError) {
	c.count++
	if c.count > maxYAMLValues {
		return nil, c.fail(n, "too many values (%d); are aliases expanding too much?", maxYAMLValues)
	}
	if depth > maxYAMLDepth {
		return nil, c.fail(n, "values nested more than %d deep", maxYAMLDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.fail(n, "unknown alias *%s", n.Value)
		}
		if c.active[n.Alias] {
			return nil, c.fail(n, "alias *%s refers to a value that contains it", n.Value)
		}
		c.active[n.Alias] = true
		defer delete(c.active, n.Alias)
		return c.value(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return nil, c.fail(n, "unsupported YAML node")
}

func (c *yamlConv) mapping(n *yaml.Node, depth int) (any, *convError) {
	out := map[string]any{}
	lines := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := resolveAlias(kn)
		if k.Kind != yaml.ScalarNode {
			return nil, c.fail(kn, "mapping keys must be scalars")
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if prev, dup := lines[k.Value]; dup {
			return nil, c.fail(kn, "key %q is defined twice (first at line %d)", k.Value, prev)
		}
		lines[k.Value] = kn.Line
		v, err := c.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		out[k.Value] = v
	}
	// Merged keys (<<: *anchor) never override explicit ones; of several
	// merged mappings the first wins.
	for _, mn := range merges {
		srcs := []*yaml.Node{mn}
		if r := resolveAlias(mn); r.Kind == yaml.SequenceNode {
			srcs = r.Content
		}
		for _, sn := range srcs {
			v, err := c.value(sn, depth+1)
			if err != nil {
				return nil, err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, c.fail(sn, "<< must merge a mapping or a sequence of mappings")
			}
			for k, v := range m {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	return out, nil
}

func (c *yamlConv) scalar(n *yaml.Node) (any, *convError) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		return n.Value, nil // timestamps keep their text
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float", "!!binary":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, c.fail(n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		switch v := v.(type) {
		case int:
			return int64(v), nil
		case int64, uint64, float64, bool, string:
			return v, nil
		case uint:
			return uint64(v), nil
		}
		return n.Value, nil
	}
	return n.Value, nil // other tags keep their text
}
