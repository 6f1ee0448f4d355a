// Package sqldb is the sql capability of the host (abi.CapSQL): Go's
// database/sql with drivers linked into the host, so that a guest drives any
// SQL database the host has a driver for without ever seeing its
// credentials. The host opens the database from the destination's spec
// (driver, and dsn for a server or path for a file database inside the
// destination's directory); the guest runs statements (sql_exec), reads
// results as Arrow IPC (sql_query), owns transactions that the host rolls
// back when an operation ends without committing them, and bulk-loads rows
// by each driver's fastest path (sql_load): prepared inserts in one
// transaction, MySQL's LOAD DATA LOCAL INFILE fed from the guest's rows,
// DuckDB's Arrow scan.
//
// Drivers: modernc.org/sqlite (pure Go), github.com/go-sql-driver/mysql
// (pure Go; MySQL 8 and MariaDB) and, in builds with the tags duckdb and
// duckdb_arrow, github.com/duckdb/duckdb-go/v2 (cgo, its bundled library).
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
)

// Spec keys the capability reads from a destination's spec.
const (
	// SpecDriver names the driver (abi.SQLDriverSQLite, ...). When the spec
	// has none, the guest's first abi.Manifest.SQLDrivers.
	SpecDriver = "driver"
	// SpecDSN is a server driver's data source name, a secret.
	SpecDSN = "dsn"
	// SpecPath is a file driver's database file, relative to the
	// destination's directory.
	SpecPath = "path"
)

// ResultLimit caps what one sql_query returns through the result slot.
const ResultLimit = 256 << 20

// Options says which database to open.
type Options struct {
	// Destination names the destination, for errors.
	Destination string
	// Driver is one of Drivers().
	Driver string
	// DSN is the data source name of a server driver (mysql). Never
	// shown in errors.
	DSN string
	// Path is the database file of a file driver (sqlite, duckdb),
	// relative to Dir; a leading "/" means Dir too. No ".." component and
	// no symbolic link may lead out of Dir.
	Path string
	// Dir is the destination's directory; "" is the working directory.
	Dir string
}

// DB is a database opened for one destination.
type DB struct {
	driver *driverInfo
	db     *sql.DB
	// file is the database file of a file driver.
	file string
	// closeExtra releases what the driver holds beside db (DuckDB's connector).
	closeExtra func() error
}

// Driver returns the name of the database's driver.
func (d *DB) Driver() string { return d.driver.name }

// SQL returns the database/sql handle, for tests and native loaders.
func (d *DB) SQL() *sql.DB { return d.db }

// File returns the database file of a file driver, "" for a server.
func (d *DB) File() string { return d.file }

// Close closes the database.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.closeExtra != nil {
		err = errors.Join(err, d.closeExtra())
	}
	return err
}

// driverInfo is what the capability knows of one driver.
type driverInfo struct {
	name string
	// file is true for drivers whose database is a file (Options.Path).
	file bool
	// methods are the load methods the driver supports.
	methods []string
	// open opens the database: from dsn, or from the absolute file path.
	open func(ctx context.Context, dsnOrFile string) (*sql.DB, func() error, error)
	// loadArrow runs an SQLLoadArrow load; nil unless methods has it.
	loadArrow func(ctx context.Context, conn *sql.Conn, sql string, rows recordSource) (int64, error)
	// hostError fills the database's error fields of err, if it is one.
	hostError func(err error, he *abi.HostError)
}

var drivers = map[string]*driverInfo{}

func register(d *driverInfo) { drivers[d.name] = d }

// Drivers lists the drivers this build links, sorted.
func Drivers() []string {
	var out []string
	for n := range drivers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Open opens the database of o and checks that it answers. Errors name the
// destination and the spec key at fault, never the DSN.
func Open(ctx context.Context, o Options) (*DB, error) {
	where := "sql"
	if o.Destination != "" {
		where = fmt.Sprintf("destination %q: sql", o.Destination)
	}
	d, ok := drivers[o.Driver]
	if !ok {
		if known := knownDriver(o.Driver); known != "" {
			return nil, fmt.Errorf("%s: %s %q: %s", where, SpecDriver, o.Driver, known)
		}
		return nil, fmt.Errorf("%s: %s %q is not a driver of this host, which has %s", where, SpecDriver, o.Driver, strings.Join(Drivers(), ", "))
	}
	target := o.DSN
	if d.file {
		if o.DSN != "" {
			return nil, fmt.Errorf("%s: driver %s opens a file: set %s (relative to the destination's directory), not %s", where, d.name, SpecPath, SpecDSN)
		}
		p, err := ResolvePath(o.Dir, o.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, SpecPath, err)
		}
		target = p
	} else {
		if o.Path != "" {
			return nil, fmt.Errorf("%s: driver %s connects to a server: set %s, not %s", where, d.name, SpecDSN, SpecPath)
		}
		if o.DSN == "" {
			return nil, fmt.Errorf("%s: the spec has no %s, which driver %s connects with", where, SpecDSN, d.name)
		}
	}
	db, closeExtra, err := d.open(ctx, target)
	if err != nil {
		key := SpecDSN
		if d.file {
			key = SpecPath
		}
		return nil, fmt.Errorf("%s: %s: %w", where, key, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if closeExtra != nil {
			closeExtra()
		}
		return nil, fmt.Errorf("%s: connect (driver %s): %w", where, d.name, err)
	}
	out := &DB{driver: d, db: db, closeExtra: closeExtra}
	if d.file {
		out.file = target
	}
	return out, nil
}

// knownDriver explains a driver this build leaves out.
func knownDriver(name string) string {
	if name == abi.SQLDriverDuckDB {
		return "this host is built without DuckDB (it links DuckDB's C++ library through cgo): build it with -tags duckdb,duckdb_arrow"
	}
	return ""
}

// ResolvePath returns the absolute path of a database file p inside dir
// ("" is the working directory), by the rules of the file guest: a leading
// "/" means dir, a ".." component is refused, and so is a path whose
// existing part leads out of dir through a symbolic link. Missing parent
// directories are made.
func ResolvePath(dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("empty: name the database file, relative to the destination's directory")
	}
	rel := strings.TrimLeft(p, "/")
	var parts []string
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "..":
			return "", fmt.Errorf("%q has a \"..\" component: the database file lives only below the destination's directory; remove \"..\"", p)
		case "", ".":
			continue
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("%q names a directory, not a file", p)
	}
	if dir == "" {
		dir = "."
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	full := filepath.Join(append([]string{realRoot}, parts...)...)
	// Make the parents inside the root, then check where the existing
	// path really leads.
	r, err := os.OpenRoot(realRoot)
	if err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	defer r.Close()
	if len(parts) > 1 {
		if err := r.MkdirAll(filepath.Join(parts[:len(parts)-1]...), 0o755); err != nil {
			return "", fmt.Errorf("%q: its directory leads out of the destination's directory or cannot be made: %w", p, err)
		}
	}
	real, err := filepath.EvalSymlinks(full)
	if errors.Is(err, os.ErrNotExist) {
		// The file does not exist yet: its directory does, and was checked.
		parent, perr := filepath.EvalSymlinks(filepath.Dir(full))
		if perr != nil {
			return "", perr
		}
		if li, lerr := os.Lstat(full); lerr == nil && li.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("%q is a symbolic link to a file that does not exist: refused", p)
		}
		real = filepath.Join(parent, filepath.Base(full))
	} else if err != nil {
		return "", err
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", fmt.Errorf("%q leads out of the destination's directory (to %s) through a symbolic link: refused", p, real)
	}
	return real, nil
}
