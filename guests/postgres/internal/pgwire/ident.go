package pgwire

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxIdentBytes is PostgreSQL's identifier length (NAMEDATALEN - 1).
const MaxIdentBytes = 63

// Truncate cuts name to at most 63 bytes on a UTF-8 character boundary,
// exactly as PostgreSQL truncates identifiers, so that SQL written with the
// full name still finds the object.
func Truncate(name string) string { return truncateTo(name, MaxIdentBytes) }

func truncateTo(name string, n int) string {
	if len(name) <= n {
		return name
	}
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n]
}

// CheckName reports whether name can be a PostgreSQL identifier: not empty,
// valid UTF-8, no NUL byte. what says what it names, for the error.
func CheckName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", what)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8", what, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%s name %q holds a NUL byte, which PostgreSQL identifiers cannot", what, name)
	}
	return nil
}

// Ident quotes name, truncated to 63 bytes, as an SQL identifier. Every
// identifier the guest sends goes through it.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(Truncate(name), `"`, `""`) + `"`
}

// Qualified returns "schema"."name".
func Qualified(schema, name string) string { return Ident(schema) + "." + Ident(name) }

// DerivedName names an object derived from table (its primary key
// constraint, an index, a staging table): table+suffix when that fits in 63
// bytes, else the table name cut short, "_", 8 hex digits of a hash of the
// whole name, and suffix, so that long table names sharing a prefix still get
// distinct names.
func DerivedName(table, suffix string) string {
	if len(table)+len(suffix) <= MaxIdentBytes {
		return table + suffix
	}
	h := sha256.Sum256([]byte(table))
	return truncateTo(table, MaxIdentBytes-len(suffix)-9) + "_" + hex.EncodeToString(h[:4]) + suffix
}

// ColumnNames returns the stored (truncated) names of names and fails when
// two of them become the same, which PostgreSQL could not store.
func ColumnNames(table string, names []string) ([]string, error) {
	out := make([]string, len(names))
	seen := make(map[string]string, len(names))
	var errs []error
	for i, n := range names {
		if err := CheckName("column", n); err != nil {
			errs = append(errs, fmt.Errorf("table %q: %w", table, err))
			continue
		}
		out[i] = Truncate(n)
		if prev, ok := seen[out[i]]; ok {
			errs = append(errs, fmt.Errorf("table %q: columns %q and %q are the same in PostgreSQL, which keeps the first %d bytes of a name (%q)",
				table, prev, n, MaxIdentBytes, out[i]))
			continue
		}
		seen[out[i]] = n
	}
	return out, errors.Join(errs...)
}
