package gueststore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// dirBackend keeps the store in a directory:
//
//	blobs/sha256/<hex>.wasm          module bytes
//	refs/<tenant>/<name>.json        a reference
//
// Everything is written to a temporary file, fsynced, renamed into place
// and the directory fsynced. A reference's version is the SHA-256 of its
// bytes; the conditional write compares it and renames under a lock of
// this process (dirRefMu), so it is exact within one process, but two
// processes sharing the directory can still both pass the check and the
// last rename wins (docs/scaling.md).
type dirBackend struct {
	dir string
}

// dirRefMu serialises the conditional reference writes of every directory
// store of the process (a test may open several on one directory).
var dirRefMu sync.Mutex

func openDir(dir string) (*dirBackend, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "refs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("guest store %s: %w", dir, err)
		}
	}
	return &dirBackend{dir: dir}, nil
}

func (d *dirBackend) String() string { return d.dir }

func (d *dirBackend) blobPath(hash string) string {
	return filepath.Join(d.dir, "blobs", "sha256", hash+".wasm")
}

func (d *dirBackend) refPath(tenant, name string) string {
	return filepath.Join(d.dir, "refs", tenant, name+".json")
}

func (d *dirBackend) putBlob(hash string, data []byte) error {
	p := d.blobPath(hash)
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(len(data)) {
		return nil
	}
	return writeAtomic(p, data)
}

func (d *dirBackend) getBlob(hash string) ([]byte, error) {
	b, err := os.ReadFile(d.blobPath(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

func (d *dirBackend) statBlob(hash string) (int64, error) {
	fi, err := os.Stat(d.blobPath(hash))
	if err != nil {
		return 0, ErrNotFound
	}
	return fi.Size(), nil
}

func (d *dirBackend) listBlobs() ([]blobInfo, error) {
	ents, err := os.ReadDir(filepath.Join(d.dir, "blobs", "sha256"))
	if err != nil {
		return nil, err
	}
	var out []blobInfo
	for _, e := range ents {
		hash, ok := strings.CutSuffix(e.Name(), ".wasm")
		if !ok {
			continue // temporary files
		}
		if fi, err := e.Info(); err == nil {
			out = append(out, blobInfo{hash: hash, written: fi.ModTime()})
		}
	}
	return out, nil
}

func (d *dirBackend) deleteBlob(hash string) error {
	err := os.Remove(d.blobPath(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (d *dirBackend) readRef(tenant, name string) ([]byte, string, error) {
	b, err := os.ReadFile(d.refPath(tenant, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

func (d *dirBackend) writeRef(tenant, name string, data []byte, cond bool, version string) error {
	if err := os.MkdirAll(filepath.Join(d.dir, "refs", tenant), 0o755); err != nil {
		return err
	}
	if cond {
		dirRefMu.Lock()
		defer dirRefMu.Unlock()
		_, now, err := d.readRef(tenant, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if now != version {
			return ErrConflict
		}
	}
	return writeAtomic(d.refPath(tenant, name), data)
}

func (d *dirBackend) deleteRef(tenant, name string) error {
	err := os.Remove(d.refPath(tenant, name))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(d.refPath(tenant, name)))
}

func (d *dirBackend) listRefs(tenant string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.dir, "refs", tenant))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && CheckName(name) == nil {
			out = append(out, name) // not the temporary files
		}
	}
	return out, nil
}

func (d *dirBackend) listTenants() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.dir, "refs"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// writeAtomic writes data to path complete or not at all: a temporary file
// in the same directory, fsync, rename over path, fsync of the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
