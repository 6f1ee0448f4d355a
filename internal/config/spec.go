package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/wasmdest/wasmdest/abi"
)

// Keys of the nested spec that Batch reads.
const (
	SpecBatchSize      = "batch_size"
	SpecBatchSizeBytes = "batch_size_bytes"
	SpecBatchTimeout   = "batch_timeout"
)

// schemaURL is where the guest's schema is registered; it is never fetched.
const schemaURL = "wasmdest:///guest-spec-schema.json"

var printer = message.NewPrinter(language.English)

// errorAt returns an error at the line of the spec key at rel (relative to
// the spec), or of the destination.
func (d *Destination) errorAt(rel []string, format string, args ...any) error {
	line := 0
	if d.pos != nil {
		line = d.pos.line(child(d.specPath, rel...))
	}
	if line == 0 {
		line = d.Line
	}
	return &Error{File: d.File, Line: line, Err: fmt.Errorf("%s: "+format, append([]any{label(d.Name, d.index)}, args...)...)}
}

// ValidateSpec validates d.Spec against schema, a JSON Schema (draft 2020-12
// unless the schema says otherwise) such as abi.Manifest.SpecSchema. An
// empty schema accepts every spec. The schema cannot refer to other
// documents.
//
// The error names every failing key, one *Error per key joined with
// errors.Join, at the key's line when d came from Load or Parse:
//
//	wasmdest.toml:12: destination "out": spec.format_spec.delimiter: got number, want string
func (d *Destination) ValidateSpec(schema []byte) error {
	if len(bytes.TrimSpace(schema)) == 0 {
		return nil
	}
	return d.validateSpec(schema)
}

func (d *Destination) validateSpec(schema []byte) (err error) {
	defer func() {
		// The schema comes from a guest: never let it crash the host.
		if r := recover(); r != nil {
			err = d.errorAt(nil, "validating the spec against the guest's schema failed: %v", r)
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return d.errorAt(nil, "the guest's spec schema is not valid JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no files, no network
	if err := c.AddResource(schemaURL, doc); err != nil {
		return d.errorAt(nil, "the guest's spec schema is invalid: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return d.errorAt(nil, "the guest's spec schema is invalid: %w", err)
	}
	spec := d.Spec
	if spec == nil {
		spec = map[string]any{}
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return d.errorAt(nil, "spec cannot be encoded as JSON: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return d.errorAt(nil, "spec cannot be encoded as JSON: %w", err)
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return d.errorAt(nil, "spec: %w", err)
	}
	return d.schemaErrors(ve, inst)
}

// schemaErrors turns a validation error into one error per failing key.
func (d *Destination) schemaErrors(ve *jsonschema.ValidationError, inst any) error {
	type problem struct {
		path []string // position path relative to the spec
		line int
		msgs []string
	}
	byPath := map[string]*problem{}
	var order []*problem
	add := func(loc []string, msg string) {
		path := specPath(inst, loc)
		k := pathKey(path)
		pr, ok := byPath[k]
		if !ok {
			line := d.Line
			if d.pos != nil {
				if l := d.pos.line(child(d.specPath, path...)); l > 0 {
					line = l
				}
			}
			pr = &problem{path: path, line: line}
			byPath[k] = pr
			order = append(order, pr)
		}
		for _, m := range pr.msgs {
			if m == msg {
				return
			}
		}
		pr.msgs = append(pr.msgs, msg)
	}
	var visit func(e *jsonschema.ValidationError)
	visit = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				visit(c)
			}
			return
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				add(child(e.InstanceLocation, m), "required key is missing")
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				add(child(e.InstanceLocation, p), "unknown key (the guest's schema does not allow it)")
			}
		case *kind.FalseSchema:
			add(e.InstanceLocation, "not allowed by the guest's schema")
		default:
			add(e.InstanceLocation, e.ErrorKind.LocalizedString(printer))
		}
	}
	visit(ve)
	sort.SliceStable(order, func(i, j int) bool { return order[i].line < order[j].line })
	errs := make([]error, 0, len(order))
	for _, pr := range order {
		errs = append(errs, &Error{File: d.File, Line: pr.line, Err: fmt.Errorf("%s: %s: %s",
			label(d.Name, d.index), displayPath(child([]string{keySpec}, pr.path...)), strings.Join(pr.msgs, "; "))})
	}
	return errors.Join(errs...)
}

// specPath converts a JSON Schema instance location into a position path,
// writing array indices as "[N]".
func specPath(inst any, loc []string) []string {
	path := make([]string, 0, len(loc))
	cur := inst
	for _, tok := range loc {
		switch v := cur.(type) {
		case []any:
			path = append(path, "["+tok+"]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			path = append(path, tok)
			cur = v[tok]
		default:
			path = append(path, tok)
			cur = nil
		}
	}
	return path
}

// Batch returns the batching of d: the batch_size, batch_size_bytes and
// batch_timeout keys of d.Spec, each taken from defaults when missing.
// batch_size and batch_size_bytes are non-negative integers; batch_timeout
// is a Go duration string ("60s", "1m30s") or a whole number of seconds.
// Zero means unlimited. Parse has already checked these keys; an error
// names each bad key, at its line when d came from Load or Parse, and comes
// with defaults.
func (d *Destination) Batch(defaults abi.BatchLimits) (abi.BatchLimits, error) {
	b := defaults
	var errs []error
	if v, ok := d.Spec[SpecBatchSize]; ok {
		if n, err := nonNegativeInt(v); err != nil {
			errs = append(errs, d.errorAt([]string{SpecBatchSize}, "spec.%s: %v", SpecBatchSize, err))
		} else {
			b.Rows = n
		}
	}
	if v, ok := d.Spec[SpecBatchSizeBytes]; ok {
		if n, err := nonNegativeInt(v); err != nil {
			errs = append(errs, d.errorAt([]string{SpecBatchSizeBytes}, "spec.%s: %v", SpecBatchSizeBytes, err))
		} else {
			b.Bytes = n
		}
	}
	if v, ok := d.Spec[SpecBatchTimeout]; ok {
		if t, err := duration(v); err != nil {
			errs = append(errs, d.errorAt([]string{SpecBatchTimeout}, "spec.%s: %v", SpecBatchTimeout, err))
		} else {
			b.Timeout = t
		}
	}
	if len(errs) > 0 {
		return defaults, errors.Join(errs...)
	}
	return b, nil
}

// integer returns v as an int64 if it is an integer of any Go type, or a
// float64 with an integral value as JSON decoding gives.
func integer(v any) (int64, bool, error) {
	switch v := v.(type) {
	case int:
		return int64(v), true, nil
	case int8:
		return int64(v), true, nil
	case int16:
		return int64(v), true, nil
	case int32:
		return int64(v), true, nil
	case int64:
		return v, true, nil
	case uint, uint8, uint16, uint32, uint64:
		u, _ := strconv.ParseUint(fmt.Sprint(v), 10, 64)
		if u > math.MaxInt64 {
			return 0, true, fmt.Errorf("%d is too large", u)
		}
		return int64(u), true, nil
	case float32:
		return integer(float64(v))
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, true, fmt.Errorf("%v is not a whole number", v)
		}
		if v >= math.MaxInt64 || v < math.MinInt64 {
			return 0, true, fmt.Errorf("%v is too large", v)
		}
		return int64(v), true, nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true, nil
		}
		f, err := v.Float64()
		if err != nil {
			return 0, true, fmt.Errorf("%s is not a number", v)
		}
		return integer(f)
	}
	return 0, false, nil
}

func nonNegativeInt(v any) (int64, error) {
	n, isNum, err := integer(v)
	switch {
	case !isNum:
		return 0, fmt.Errorf("must be an integer, not %s", jsonTypeName(v))
	case err != nil:
		return 0, fmt.Errorf("must be an integer: %v", err)
	case n < 0:
		return 0, fmt.Errorf("must not be negative (0 means unlimited), got %d", n)
	}
	return n, nil
}

func duration(v any) (time.Duration, error) {
	if s, ok := v.(string); ok {
		t, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as \"60s\" or \"1m30s\"", s)
		}
		if t < 0 {
			return 0, fmt.Errorf("must not be negative (0 means unlimited), got %q", s)
		}
		return t, nil
	}
	n, isNum, err := integer(v)
	switch {
	case !isNum:
		return 0, fmt.Errorf("must be a duration string such as \"60s\" or a whole number of seconds, not %s", jsonTypeName(v))
	case err != nil:
		return 0, fmt.Errorf("must be a duration string such as \"60s\" or a whole number of seconds: %v", err)
	case n < 0:
		return 0, fmt.Errorf("must not be negative (0 means unlimited), got %d", n)
	case n > math.MaxInt64/int64(time.Second):
		return 0, fmt.Errorf("%d seconds is too long", n)
	}
	return time.Duration(n) * time.Second, nil
}

// jsonTypeName names the type of a spec value.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a map"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}
