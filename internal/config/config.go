// Package config loads and validates wasmdest destination configuration.
//
// Two file formats are read. The native one is TOML, with one
// [[destination]] table per destination:
//
//	[[destination]]
//	name = "pg"
//	registry = "builtin"     # or "local" for a .wasm file
//	path = "postgres"        # builtin guests: postgres, file, sqlite, mysql, duckdb
//	write_mode = "overwrite"
//
//	[destination.spec]
//	connection_string = "${PG_URL}"
//
// CloudQuery spec files (.yml, .yaml) are read as they are: documents of
// kind destination are taken, documents of kind source are skipped with a
// warning, and the CloudQuery PostgreSQL and file plugins are mapped to the
// builtin guests.
//
// String values may hold placeholders, expanded after parsing: ${VAR} is the
// environment variable VAR and ${file:PATH} the content of a file, relative
// to the configuration file's directory, without its trailing newline.
// Placeholders in comments are ignored.
//
// Every error names the file and, where it is known, the line:
//
//	wasmdest.toml:7: destination "pg": write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append
//
// Parse reports every problem it finds, joined with errors.Join; each one is
// an *Error.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
)

// Values of Destination.Registry.
const (
	// RegistryBuiltin names a guest shipped with wasmdest, the default.
	RegistryBuiltin = "builtin"
	// RegistryLocal names a .wasm file; Path is resolved relative to the
	// configuration file's directory.
	RegistryLocal = "local"
	// RegistryDeployed names a guest a tenant deployed to `wasmdest serve`
	// (docs/serve.md, "Deploying guests"); Path is the guest's name. Only
	// serve's tenants file resolves it.
	RegistryDeployed = "deployed"
)

// Names of the guests shipped with wasmdest: the values Destination.Path
// takes with RegistryBuiltin.
const (
	BuiltinPostgres = "postgres"
	BuiltinFile     = "file"
	BuiltinSQLite   = "sqlite"
	BuiltinMySQL    = "mysql"
	BuiltinDuckDB   = "duckdb"
)

// builtinGuests are the allowed values of Path with RegistryBuiltin, in the
// order error messages list them.
var builtinGuests = []string{BuiltinPostgres, BuiltinFile, BuiltinSQLite, BuiltinMySQL, BuiltinDuckDB}

// File is a parsed configuration file.
type File struct {
	// Path is the file's path as given to Load or Parse.
	Path string
	// Destinations are in the order the file declares them.
	Destinations []Destination
	// Warnings are problems that did not stop parsing, each starting with
	// "FILE:LINE:", for example a skipped CloudQuery source document.
	Warnings []string
}

// Destination is one configured destination.
type Destination struct {
	// Name identifies the destination; it is unique within its file.
	Name string
	// Registry is RegistryBuiltin, RegistryLocal or RegistryDeployed.
	Registry string
	// Path is a builtin guest's name (BuiltinPostgres, BuiltinFile, ...), or the
	// path of a local .wasm file joined to the configuration file's
	// directory.
	Path string
	// Version is the semantic version asked for ("v1.2.3"), or "".
	Version string
	// WriteMode is valid; abi.DefaultWriteMode when the file sets none.
	WriteMode abi.WriteMode
	// MigrateMode is valid; abi.DefaultMigrateMode when the file sets none.
	MigrateMode abi.MigrateMode
	// PKMode is valid; abi.DefaultPKMode when the file sets none.
	PKMode abi.PKMode
	// SyncGroupID is the unexpanded sync_group_id (its {{...}} placeholders
	// are set at sync time), or "".
	SyncGroupID string
	// SendSyncSummary asks for the cloudquery_sync_summaries table.
	SendSyncSummary bool
	// Directory is the host directory granted to a guest with the filesystem
	// capability, as its whole filesystem, joined to the configuration file's
	// directory; "" means the current directory.
	Directory string
	// Spec is the nested, guest-specific spec after ${...} expansion. It is
	// never nil and holds only JSON types: map[string]any, []any, string,
	// bool, nil, int64, uint64 and float64 (TOML dates and times become
	// strings).
	Spec map[string]any
	// File and Line are where the destination is declared.
	File string
	Line int

	// pos locates keys in the source; specPath is the position path of
	// Spec; index is the 1-based position of the destination in its file.
	pos      *posIndex
	specPath []string
	index    int
}

// Error is a problem at a place in a configuration file.
type Error struct {
	// File is the configuration file's path.
	File string
	// Line is 1-based, or 0 when unknown.
	Line int
	// Err describes the problem.
	Err error
}

// Error formats e as "FILE:LINE: message", or "FILE: message" without a line.
func (e *Error) Error() string {
	switch {
	case e.File == "" && e.Line <= 0:
		return e.Err.Error()
	case e.File == "":
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	case e.Line <= 0:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Load reads the configuration file at path and parses it with Parse.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: fmt.Errorf("cannot read configuration: %w", err)}
	}
	return Parse(path, data)
}

// Parse parses data, the content of the configuration file at path. The
// extension of path selects the format: .toml is TOML, .yml and .yaml are
// CloudQuery YAML. path also locates ${file:...} placeholders and local
// guests, and prefixes every error.
//
// Parse returns every problem it finds, joined with errors.Join.
func Parse(path string, data []byte) (*File, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		return parseTOML(path, data)
	case ".yml", ".yaml":
		return parseYAML(path, data)
	default:
		if ext == "" {
			ext = "no extension"
		} else {
			ext = fmt.Sprintf("extension %q", ext)
		}
		return nil, &Error{File: path, Err: fmt.Errorf("cannot tell the configuration format from %s; accepted extensions: .toml (wasmdest), .yml and .yaml (CloudQuery spec)", ext)}
	}
}

// label names a destination in messages.
func label(name string, index int) string {
	switch {
	case name != "":
		return fmt.Sprintf("destination %q", name)
	case index > 0:
		return fmt.Sprintf("destination #%d", index)
	}
	return "destination"
}
