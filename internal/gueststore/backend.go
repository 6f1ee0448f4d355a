package gueststore

import (
	"errors"
	"time"
)

// ErrConflict is returned by ReplaceRef when the reference changed (or
// appeared) since it was read: another replica deployed the same name
// meanwhile. Read it again and retry, or give up.
var ErrConflict = errors.New("the guest reference changed meanwhile (another deploy of the same name): read it again and retry")

// backend is where a Store keeps its bytes: a directory (dirBackend) or an
// S3 bucket (s3Backend). Blobs are written whole or not at all and never
// change; a reference is replaced whole, conditionally on the version read.
type backend interface {
	// putBlob stores data under hash complete or not at all; a blob of that
	// hash already there is success.
	putBlob(hash string, data []byte) error
	// getBlob returns the stored bytes of hash (unchecked), or ErrNotFound.
	getBlob(hash string) ([]byte, error)
	// statBlob returns the size of hash's blob, or ErrNotFound.
	statBlob(hash string) (int64, error)
	// listBlobs lists every blob with when it was written.
	listBlobs() ([]blobInfo, error)
	// deleteBlob removes hash's blob; a missing one is no error.
	deleteBlob(hash string) error
	// readRef returns a reference's bytes and version, or ErrNotFound.
	readRef(tenant, name string) (data []byte, version string, err error)
	// writeRef replaces a reference whole. With cond set it succeeds only
	// if the reference's version is still version ("" meaning it must not
	// exist), else it fails with ErrConflict.
	writeRef(tenant, name string, data []byte, cond bool, version string) error
	// deleteRef removes a reference, or returns ErrNotFound.
	deleteRef(tenant, name string) error
	// listRefs lists the names of a tenant's references.
	listRefs(tenant string) ([]string, error)
	// listTenants lists the tenants with references.
	listTenants() ([]string, error)
	// String names the location, for errors and logs.
	String() string
}

// blobInfo is a stored blob as listBlobs sees it.
type blobInfo struct {
	hash    string
	written time.Time
}
