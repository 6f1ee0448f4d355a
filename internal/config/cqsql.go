package config

import (
	"path/filepath"
	"strings"
)

// CloudQuery's SQL destination plugins and the builtin guests that run them.
const (
	cqPathSQLite = "cloudquery/sqlite"
	cqPathMySQL  = "cloudquery/mysql"
	cqPathDuckDB = "cloudquery/duckdb"
	// cqConnectionString is the spec key of the three plugins' database.
	cqConnectionString = "connection_string"
	// The sql capability's spec keys (host/capability/sqldb.SpecDSN and
	// SpecPath; config does not import the host).
	sqlSpecDSN  = "dsn"
	sqlSpecPath = "path"
)

// cqSQLSpec translates the nested spec of a CloudQuery sqlite, mysql or
// duckdb destination to the guest's: connection_string is the database
// file of sqlite and duckdb (the guest's path, in the destination's
// directory) and the go-sql-driver DSN of mysql (the guest's dsn).
// CloudQuery's duckdb key debug has no counterpart and is dropped with a
// warning. cqPath is the destination's CloudQuery path.
func (s *destState) cqSQLSpec(cqPath string) {
	d := s.d
	specLine := func(key string) int {
		if l := d.pos.line(child(d.specPath, key)); l > 0 {
			return l
		}
		return s.keyLine(keySpec)
	}
	if cqPath == cqPathDuckDB {
		if _, ok := d.Spec["debug"]; ok {
			s.warnf(specLine("debug"), "spec.debug is ignored: %s runs as wasmdest's builtin %s guest, which has no debug logging of DuckDB", cqPath, BuiltinDuckDB)
			delete(d.Spec, "debug")
		}
	}
	raw, ok := d.Spec[cqConnectionString]
	if !ok {
		return // the guest's own keys (path, dsn), checked by its schema
	}
	line := specLine(cqConnectionString)
	cs, isStr := raw.(string)
	if !isStr || cs == "" {
		s.errorf(line, "spec.%s must be a non-empty string, not %s", cqConnectionString, s.p.typeName(raw))
		return
	}
	target := sqlSpecPath
	if cqPath == cqPathMySQL {
		target = sqlSpecDSN
	}
	if _, both := d.Spec[target]; both {
		s.errorf(line, "spec.%s and spec.%s both name the database: keep one", cqConnectionString, target)
		return
	}
	delete(d.Spec, cqConnectionString)
	if cqPath == cqPathMySQL {
		d.Spec[sqlSpecDSN] = cs
		return
	}
	// A file: CloudQuery opens it relative to its working directory.
	if cs == ":memory:" || strings.HasPrefix(cs, "file:") || strings.ContainsRune(cs, '?') {
		s.errorf(line, "spec.%s %q: wasmdest takes the path of a database file here, not an in-memory database, a file: URI or parameters", cqConnectionString, cs)
		return
	}
	if _, set := s.lines[keyDirectory]; set {
		// The destination's directory is set (a wasmdest key): the file is
		// in it, as the guest's path would be.
		d.Spec[sqlSpecPath] = cs
		return
	}
	// The file's directory becomes the destination's (the only one the
	// host opens a database file in); relative to the working directory
	// as for CloudQuery.
	dir, err := filepath.Abs(filepath.Dir(cs))
	if err != nil {
		s.errorf(line, "spec.%s %q: %v", cqConnectionString, cs, err)
		return
	}
	d.Directory = dir
	d.Spec[sqlSpecPath] = filepath.Base(cs)
}
