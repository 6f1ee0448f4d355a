package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wasmdest/wasmdest/abi"
)

// Keys of a destination, in the order messages list them.
const (
	keyName            = "name"
	keyRegistry        = "registry"
	keyPath            = "path"
	keyVersion         = "version"
	keyWriteMode       = "write_mode"
	keyMigrateMode     = "migrate_mode"
	keyPKMode          = "pk_mode"
	keySyncGroupID     = "sync_group_id"
	keySendSyncSummary = "send_sync_summary"
	keyDirectory       = "directory"
	keySpec            = "spec"
)

var destinationKeys = []string{
	keyName, keyRegistry, keyPath, keyVersion, keyWriteMode, keyMigrateMode,
	keyPKMode, keySyncGroupID, keySendSyncSummary, keyDirectory, keySpec,
}

// maxFileBytes bounds what a ${file:...} placeholder reads.
const maxFileBytes = 1 << 20

// parser holds what parsing one file needs and collects its problems.
type parser struct {
	file     string
	dir      string
	yaml     bool
	pos      *posIndex
	errs     []error
	warnings []string
	names    map[string]int // destination name → line of its name key
}

func newParser(file string, src []byte, yaml bool) *parser {
	return &parser{
		file:  file,
		dir:   filepath.Dir(file),
		yaml:  yaml,
		pos:   newPosIndex(src),
		names: map[string]int{},
	}
}

// errorf records a problem at line.
func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Err: fmt.Errorf(format, args...)})
}

// warnf records a warning at line.
func (p *parser) warnf(line int, format string, args ...any) {
	w := &Error{File: p.file, Line: line, Err: fmt.Errorf(format, args...)}
	p.warnings = append(p.warnings, w.Error())
}

// result returns f, or the collected errors.
func (p *parser) result(f *File) (*File, error) {
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return errLine(p.errs[i]) < errLine(p.errs[j]) })
		return nil, errors.Join(p.errs...)
	}
	f.Warnings = p.warnings
	return f, nil
}

func errLine(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// rawDest is one destination as read from the file, before decoding.
type rawDest struct {
	index   int      // 1-based among the file's destinations
	line    int      // where it is declared
	path    []string // its position path
	entries []entry  // its keys, in source order
}

// entry is a key of a destination with its value.
type entry struct {
	key  string
	val  any
	line int
}

// entriesOf returns the entries of m, ordered by line and then key.
func (p *parser) entriesOf(m map[string]any, path []string) []entry {
	es := make([]entry, 0, len(m))
	for k, v := range m {
		es = append(es, entry{key: k, val: v, line: p.pos.line(child(path, k))})
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].line != es[j].line {
			return es[i].line < es[j].line
		}
		return es[i].key < es[j].key
	})
	return es
}

// destState is the state of decoding one destination.
type destState struct {
	p     *parser
	raw   rawDest
	label string
	d     *Destination
	lines map[string]int // key → line, for the keys present
	nerrs int            // len(p.errs) before this destination
}

func (s *destState) errorf(line int, format string, args ...any) {
	s.p.errorf(line, "%s: "+format, append([]any{s.label}, args...)...)
}

func (s *destState) warnf(line int, format string, args ...any) {
	s.p.warnf(line, "%s: "+format, append([]any{s.label}, args...)...)
}

// failed reports whether this destination has errors.
func (s *destState) failed() bool { return len(s.p.errs) > s.nerrs }

// keyLine returns the line of key, or of the destination when absent.
func (s *destState) keyLine(key string) int {
	if l, ok := s.lines[key]; ok && l > 0 {
		return l
	}
	return s.raw.line
}

// decodeCommon decodes the keys both formats share. The caller then sets
// Registry and Path from the raw "registry" and "path" values, which the
// formats interpret differently, and calls finish.
func (p *parser) decodeCommon(raw rawDest) (*destState, map[string]string) {
	s := &destState{
		p:     p,
		raw:   raw,
		label: label("", raw.index),
		lines: map[string]int{},
		nerrs: len(p.errs),
		d: &Destination{
			WriteMode:   abi.DefaultWriteMode,
			MigrateMode: abi.DefaultMigrateMode,
			PKMode:      abi.DefaultPKMode,
			Spec:        map[string]any{},
			File:        p.file,
			Line:        raw.line,
			pos:         p.pos,
			index:       raw.index,
			specPath:    child(raw.path, keySpec),
		},
	}
	values := map[string]any{}
	for _, e := range raw.entries {
		s.lines[e.key] = e.line
		values[e.key] = e.val
	}

	// The name first, so that later messages can use it.
	strs := map[string]string{}
	if v, ok := values[keyName]; ok {
		if name, ok := s.stringValue(keyName, v); ok {
			s.checkName(name)
			strs[keyName] = name
		}
	} else {
		s.errorf(raw.line, "name is required")
	}

	for _, e := range raw.entries {
		switch e.key {
		case keyName:
		case keyRegistry, keyPath, keyVersion, keyWriteMode, keyMigrateMode, keyPKMode, keySyncGroupID, keyDirectory:
			if v, ok := s.stringValue(e.key, e.val); ok {
				strs[e.key] = v
			}
		case keySendSyncSummary:
			if b, ok := e.val.(bool); ok {
				s.d.SendSyncSummary = b
			} else {
				s.errorf(s.keyLine(e.key), "%s must be a boolean (true or false), not %s", e.key, p.typeName(e.val))
			}
		case keySpec:
			s.spec(e)
		default:
			s.unknownKey(e)
		}
	}
	if _, ok := values[keyPath]; !ok {
		s.errorf(raw.line, "path is required")
	}
	return s, strs
}

func (s *destState) unknownKey(e entry) {
	hint := ""
	switch e.key {
	case "batch_size", "batch_size_bytes", "batch_timeout":
		hint = fmt.Sprintf(" (%s belongs in the nested spec)", e.key)
	}
	s.errorf(s.keyLine(e.key), "unknown key %q%s; allowed keys: %s", e.key, hint, strings.Join(destinationKeys, ", "))
}

// stringValue checks that the value of key is a string and expands it.
func (s *destState) stringValue(key string, v any) (string, bool) {
	str, ok := v.(string)
	if !ok {
		s.errorf(s.keyLine(key), "%s must be a string, not %s", key, s.p.typeName(v))
		return "", false
	}
	return s.expand(str, child(s.raw.path, key), key)
}

func (s *destState) checkName(name string) {
	line := s.keyLine(keyName)
	switch {
	case strings.TrimSpace(name) == "":
		s.errorf(line, "name must not be empty")
		return
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		s.errorf(line, "name %q must not contain control characters", name)
		return
	}
	s.label = label(name, s.raw.index)
	if prev, ok := s.p.names[name]; ok {
		s.errorf(line, "name %q is already used by the destination at line %d; names must be unique", name, prev)
		return
	}
	s.p.names[name] = line
	s.d.Name = name
}

// spec decodes the nested spec.
func (s *destState) spec(e entry) {
	path := child(s.raw.path, keySpec)
	var m map[string]any
	switch v := e.val.(type) {
	case nil:
		return // YAML "spec:" with no value
	case map[string]any:
		m = v
	default:
		s.errorf(s.keyLine(e.key), "spec must be a %s, not %s", s.p.mapName(), s.p.typeName(e.val))
		return
	}
	// On failure the partial spec is kept so that finish can check the batch
	// keys too; the destination is dropped anyway.
	n, _ := s.normalize(m, path)
	s.d.Spec = n.(map[string]any)
}

// normalize converts v, found at path, to JSON types, expanding strings.
func (s *destState) normalize(v any, path []string) (any, bool) {
	rel := func() string { return displayPath(path[len(s.raw.path):]) }
	switch v := v.(type) {
	case nil, bool, int64, uint64:
		return v, true
	case string:
		return s.expand(v, path, rel())
	case int:
		return int64(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			s.errorf(s.p.pos.line(path), "%s: %v cannot be given to a guest: JSON has no NaN or infinite numbers", rel(), v)
			return nil, false
		}
		return v, true
	case time.Time:
		return formatTime(v), true
	case map[string]any:
		out := make(map[string]any, len(v))
		ok := true
		for _, k := range sortedKeys(v) {
			n, good := s.normalize(v[k], child(path, k))
			out[k] = n
			ok = ok && good
		}
		return out, ok
	case []map[string]any:
		out := make([]any, len(v))
		ok := true
		for i, e := range v {
			n, good := s.normalize(e, child(path, indexSeg(i)))
			out[i] = n
			ok = ok && good
		}
		return out, ok
	case []any:
		out := make([]any, len(v))
		ok := true
		for i, e := range v {
			n, good := s.normalize(e, child(path, indexSeg(i)))
			out[i] = n
			ok = ok && good
		}
		return out, ok
	default:
		s.errorf(s.p.pos.line(path), "%s: unsupported value of type %T", rel(), v)
		return nil, false
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// formatTime formats a TOML date or time as the TOML text would write it.
func formatTime(t time.Time) string {
	switch t.Location().String() {
	case "datetime-local":
		return t.Format("2006-01-02T15:04:05.999999999")
	case "date-local":
		return t.Format("2006-01-02")
	case "time-local":
		return t.Format("15:04:05.999999999")
	}
	return t.Format(time.RFC3339Nano)
}

// expand replaces the ${...} placeholders of v, the string at path, which
// messages call what.
func (s *destState) expand(v string, path []string, what string) (string, bool) {
	if !strings.Contains(v, "${") {
		return v, true
	}
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			break
		}
		j := strings.IndexByte(v[i+2:], '}')
		if j < 0 {
			b.WriteString(v) // no closing brace: not a placeholder
			break
		}
		b.WriteString(v[:i])
		ref := v[i+2 : i+2+j]
		ph := v[i : i+3+j]
		v = v[i+3+j:]
		if ref == "" {
			b.WriteString(ph)
			continue
		}
		val, err := s.p.resolve(ref)
		if err != nil {
			s.placeholderError(s.p.pos.placeholderLine(path, ph), what, ph, err)
			ok = false
			continue
		}
		b.WriteString(val)
	}
	return b.String(), ok
}

// placeholderError records that placeholder ph of what, at line, failed.
func (s *destState) placeholderError(line int, what, ph string, err error) {
	s.p.errs = append(s.p.errs, &Error{File: s.p.file, Line: line, Err: fmt.Errorf("%s: %s: placeholder %s: %w", s.label, what, ph, err)})
}

// resolve returns the value of the placeholder ${ref}.
func (p *parser) resolve(ref string) (string, error) {
	if name, ok := strings.CutPrefix(ref, "file:"); ok {
		return p.readFile(name)
	}
	if strings.HasPrefix(ref, "time:") {
		return "", errors.New("${time:...} placeholders are not supported")
	}
	v, ok := os.LookupEnv(ref)
	if !ok {
		return "", fmt.Errorf("environment variable %q is not set", ref)
	}
	return v, nil
}

// readFile returns the content of the file name, relative to the
// configuration file's directory, without trailing newlines.
func (p *parser) readFile(name string) (string, error) {
	if name == "" {
		return "", errors.New("no file name after file:")
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cannot read file %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("cannot read file %q: %s is not a regular file", name, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read file %q: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("cannot read file %q: %w", name, err)
	}
	if len(data) > maxFileBytes {
		return "", fmt.Errorf("file %q is larger than %d bytes", name, maxFileBytes)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// finish checks the values decoded into strs and completes d. registry and
// path have already been set by the caller when valid.
func (s *destState) finish(strs map[string]string) *Destination {
	d := s.d
	if v, ok := strs[keyVersion]; ok && d.Version == "" && v != "" {
		if !strings.HasPrefix(v, "v") || !abi.ValidSemver(v) {
			s.errorf(s.keyLine(keyVersion), "version %q is not a semantic version such as v1.2.3", v)
		} else {
			d.Version = v
		}
	}
	mode(s, strs, keyWriteMode, &d.WriteMode)
	mode(s, strs, keyMigrateMode, &d.MigrateMode)
	mode(s, strs, keyPKMode, &d.PKMode)
	d.SyncGroupID = strs[keySyncGroupID]
	if dir, ok := strs[keyDirectory]; ok {
		if dir == "" {
			s.errorf(s.keyLine(keyDirectory), "directory is empty; leave it out to use the current directory")
		} else if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.p.dir, dir)
		}
		d.Directory = dir
	}
	if d.SyncGroupID != "" && d.WriteMode == abi.WriteModeOverwriteDeleteStale {
		how := "the default write_mode"
		if _, ok := strs[keyWriteMode]; ok {
			how = "write_mode " + string(abi.WriteModeOverwriteDeleteStale)
		}
		s.errorf(s.keyLine(keySyncGroupID),
			"sync_group_id cannot be used with %s (%s): deleting stale rows would delete the rows the other syncs of the group wrote; set write_mode to %s or %s",
			how, abi.WriteModeOverwriteDeleteStale, abi.WriteModeOverwrite, abi.WriteModeAppend)
	}
	if _, err := d.Batch(abi.BatchLimits{}); err != nil {
		s.p.errs = append(s.p.errs, err)
	}
	if s.failed() {
		return nil
	}
	return d
}

// mode sets *dst to the value of key when the file sets it, and reports an
// invalid one.
func mode[T interface {
	~string
	Valid() error
}](s *destState, strs map[string]string, key string, dst *T) {
	v, ok := strs[key]
	if !ok {
		return
	}
	if err := T(v).Valid(); err != nil {
		s.errorf(s.keyLine(key), "%v", err)
		return
	}
	*dst = T(v)
}

// typeName names the type of a decoded value as the file's format does.
func (p *parser) typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64:
		return "an integer"
	case float64:
		return "a float"
	case time.Time:
		return "a date/time"
	case map[string]any:
		return "a " + p.mapName()
	case []any, []map[string]any:
		if p.yaml {
			return "a sequence"
		}
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

func (p *parser) mapName() string {
	if p.yaml {
		return "mapping"
	}
	return "table"
}
