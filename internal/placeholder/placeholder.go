// Package placeholder expands the {{NAME}} placeholders of destination paths
// and sync group ids. It is the one implementation the host uses, for the
// file destination's path (through the expand host function) and for
// sync_group_id.
//
// Placeholders:
//
//	{{SYNC_ID}}       Vars.SyncID
//	{{YEAR}}          Vars.Time in UTC, 4 digits: 2026
//	{{MONTH}}         2 digits: 01
//	{{DAY}}           2 digits: 09
//	{{HOUR}}          2 digits, 24-hour clock: 05
//	{{MINUTE}}        2 digits: 07
//	{{TABLE}}         Vars.Table
//	{{TABLE_HYPHEN}}  Vars.Table with every "_" replaced by "-"
//	{{FORMAT}}        Vars.Format (e.g. "json.gz")
//	{{UUID}}          a new UUID per Expand call (see below)
//
// {{UUID}} stands for one file, so every {{UUID}} in one template expands to
// the same value within one Expand call, and each call draws a new one (from
// Vars.NewUUID, by default uuid.NewString). The generator is called only when
// the template uses {{UUID}}.
//
// Names are case-sensitive and take no spaces. Anything between "{{" and the
// next "}}" is a placeholder name: an unknown name, a "{{" without a closing
// "}}", or a placeholder whose value is empty (a zero Time, no table, ...) is
// an error that names it; nothing is left unexpanded silently. A lone "}}"
// is literal text.
package placeholder

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Vars are the values placeholders expand to.
type Vars struct {
	// SyncID fills {{SYNC_ID}}.
	SyncID string
	// Time fills {{YEAR}} .. {{MINUTE}}; it is converted to UTC.
	Time time.Time
	// Table fills {{TABLE}} and {{TABLE_HYPHEN}}.
	Table string
	// Format fills {{FORMAT}}.
	Format string
	// NewUUID makes the value of {{UUID}}; nil means uuid.NewString.
	NewUUID func() string
}

// Placeholder names, without braces.
const (
	SyncID      = "SYNC_ID"
	Year        = "YEAR"
	Month       = "MONTH"
	Day         = "DAY"
	Hour        = "HOUR"
	Minute      = "MINUTE"
	Table       = "TABLE"
	TableHyphen = "TABLE_HYPHEN"
	Format      = "FORMAT"
	UUID        = "UUID"
)

var names = []string{SyncID, Year, Month, Day, Hour, Minute, Table, TableHyphen, Format, UUID}

// Names returns the known placeholder names, without braces, in a fixed order.
func Names() []string { return append([]string(nil), names...) }

func known(name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func knownList() string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "{{" + n + "}}"
	}
	return strings.Join(parts, " ")
}

// token is one piece of a template: literal text, or a placeholder name.
type token struct {
	text string
	name bool
}

// scan splits tmpl into literal text and placeholder names. It fails on a
// "{{" that has no closing "}}".
func scan(tmpl string) ([]token, error) {
	var toks []token
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				toks = append(toks, token{text: rest})
			}
			return toks, nil
		}
		if i > 0 {
			toks = append(toks, token{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("placeholder: %q has a \"{{\" without a closing \"}}\" (at byte %d); known placeholders: %s",
				tmpl, len(tmpl)-len(rest)+i, knownList())
		}
		toks = append(toks, token{text: rest[i+2 : i+2+j], name: true})
		rest = rest[i+2+j+2:]
	}
}

// Expand replaces every placeholder of tmpl by its value.
func Expand(tmpl string, v Vars) (string, error) {
	toks, err := scan(tmpl)
	if err != nil {
		return "", err
	}
	var (
		sb      strings.Builder
		utc     = v.Time.UTC()
		newUUID = v.NewUUID
		id      string
	)
	if newUUID == nil {
		newUUID = uuid.NewString
	}
	for _, t := range toks {
		if !t.name {
			sb.WriteString(t.text)
			continue
		}
		var val, why string
		switch t.text {
		case SyncID:
			val, why = v.SyncID, "no sync id"
		case Year, Month, Day, Hour, Minute:
			why = "no time"
			if !v.Time.IsZero() {
				val = map[string]string{
					Year:   fmt.Sprintf("%04d", utc.Year()),
					Month:  fmt.Sprintf("%02d", int(utc.Month())),
					Day:    fmt.Sprintf("%02d", utc.Day()),
					Hour:   fmt.Sprintf("%02d", utc.Hour()),
					Minute: fmt.Sprintf("%02d", utc.Minute()),
				}[t.text]
			}
		case Table:
			val, why = v.Table, "no table"
		case TableHyphen:
			val, why = strings.ReplaceAll(v.Table, "_", "-"), "no table"
		case Format:
			val, why = v.Format, "no format"
		case UUID:
			if id == "" {
				id = newUUID()
			}
			val, why = id, "the UUID generator returned an empty string"
		default:
			hint := ""
			if n := strings.ToUpper(strings.TrimSpace(t.text)); n != t.text && known(n) {
				hint = fmt.Sprintf(" (did you mean {{%s}}?)", n)
			}
			return "", fmt.Errorf("placeholder: unknown placeholder {{%s}} in %q%s; known placeholders: %s", t.text, tmpl, hint, knownList())
		}
		if val == "" {
			return "", fmt.Errorf("placeholder: {{%s}} in %q has no value here: %s", t.text, tmpl, why)
		}
		sb.WriteString(val)
	}
	return sb.String(), nil
}

// Uses reports whether tmpl contains the placeholder name (given with or
// without braces, e.g. "UUID" or "{{UUID}}"). It is false for a template
// that does not scan (a "{{" without "}}").
func Uses(tmpl, name string) bool {
	name = strings.TrimSuffix(strings.TrimPrefix(name, "{{"), "}}")
	toks, err := scan(tmpl)
	if err != nil {
		return false
	}
	for _, t := range toks {
		if t.name && t.text == name {
			return true
		}
	}
	return false
}
