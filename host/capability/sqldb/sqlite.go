//go:build !wasip1

package sqldb

// modernc.org/libc has no wasip1 port. The host never runs as WebAssembly,
// but host-side test packages under guests/ are vetted for wasip1 too.

import (
	"context"
	"database/sql"
	"errors"
	"net/url"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wasmdest/wasmdest/abi"
)

func init() {
	register(&driverInfo{
		name:    abi.SQLDriverSQLite,
		file:    true,
		methods: []string{abi.SQLLoadRows},
		open:    openSQLite,
		hostError: func(err error, he *abi.HostError) {
			var se *sqlite.Error
			if errors.As(err, &se) {
				he.Detail = sqlite.ErrorCodeString[se.Code()]
				if se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
					he.SQLState = "23000"
				}
			}
		},
	})
}

// openSQLite opens the file with modernc.org/sqlite (SQLite compiled to Go,
// no cgo) in WAL mode, waiting up to 30 s for another writer's lock:
// several instances of a destination may write one file.
func openSQLite(_ context.Context, file string) (*sql.DB, func() error, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE: a transaction takes the write lock when it begins,
	// not on its first write, so that two never deadlock upgrading.
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", OmitHost: true, Path: file, RawQuery: q.Encode()}).String())
	return db, nil, err
}
