// Package gueststore keeps the guests tenants deploy to `wasmdest serve`:
// module bytes content-addressed by SHA-256, and per tenant a named
// reference to the current and the previous hash of each guest.
//
// Everything is written complete or not at all (a temporary file, fsync,
// rename, fsync of the directory), so a crash leaves either the old state
// or the new one, and the store survives a restart. Several serve replicas
// may share one store directory (a shared volume): blobs never change once
// written, and a reference is replaced by one atomic rename, so a reader
// sees one whole version of it. Two replicas deploying the same tenant's
// same name at the same instant: the last rename wins (docs/scaling.md).
//
// Layout under the directory:
//
//	blobs/sha256/<hex>.wasm          module bytes
//	refs/<tenant>/<name>.json        {"current": HEX, "previous": HEX, ...}
package gueststore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ErrTooLarge is returned by Put when the body is larger than its cap.
var ErrTooLarge = errors.New("module too large")

// ErrNotFound is returned for a guest name or hash the store does not hold.
var ErrNotFound = errors.New("not found")

// Store is a guest store in a directory.
type Store struct {
	dir string
}

// Open opens (creating) the store in dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "refs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("guest store %s: %w", dir, err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Ref is a tenant's named guest: the hash new syncs run, and the one
// before it (what rollback returns to).
type Ref struct {
	Name     string    `json:"name"`
	Current  string    `json:"current"`
	Previous string    `json:"previous,omitempty"`
	Updated  time.Time `json:"updated"`
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// CheckName checks a guest or tenant name: 1 to 64 letters, digits, '.',
// '_' or '-', not starting with a punctuation mark (so never "..").
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("name %q must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

func checkHash(hash string) error {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size || strings.ToLower(hash) != hash {
		return fmt.Errorf("%q is not a lower-case hex SHA-256", hash)
	}
	return nil
}

func (s *Store) blobPath(hash string) string {
	return filepath.Join(s.dir, "blobs", "sha256", hash+".wasm")
}

func (s *Store) refPath(tenant, name string) string {
	return filepath.Join(s.dir, "refs", tenant, name+".json")
}

// Put reads a module from r, at most max bytes (it fails with ErrTooLarge
// as soon as the body passes max, without reading the rest), stores it under
// its SHA-256 unless it is there already, and returns the hash and bytes.
func (s *Store) Put(r io.Reader, max int64) (hash string, wasm []byte, err error) {
	wasm, err = io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return "", nil, fmt.Errorf("read module: %w", err)
	}
	if int64(len(wasm)) > max {
		return "", nil, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, max)
	}
	hash, err = s.PutBytes(wasm)
	return hash, wasm, err
}

// PutBytes stores wasm under its SHA-256 unless it is there already.
func (s *Store) PutBytes(wasm []byte) (string, error) {
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	p := s.blobPath(hash)
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(len(wasm)) {
		return hash, nil
	}
	if err := writeAtomic(p, wasm); err != nil {
		return "", fmt.Errorf("store module %s: %w", hash, err)
	}
	return hash, nil
}

// Get returns the module of hash, checking that its bytes still hash to it.
func (s *Store) Get(hash string) ([]byte, error) {
	if err := checkHash(hash); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.blobPath(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("module %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", hash, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("module %s: its stored bytes hash to %x: the store is corrupt", hash, sum)
	}
	return b, nil
}

// Size returns the stored size of hash's module.
func (s *Store) Size(hash string) (int64, error) {
	fi, err := os.Stat(s.blobPath(hash))
	if err != nil {
		return 0, fmt.Errorf("module %s: %w", hash, ErrNotFound)
	}
	return fi.Size(), nil
}

// Ref returns a tenant's named guest.
func (s *Store) Ref(tenant, name string) (Ref, error) {
	var r Ref
	if err := CheckName(name); err != nil {
		return r, err
	}
	b, err := os.ReadFile(s.refPath(tenant, name))
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("guest %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("guest %q: %w", name, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("guest %q: reference %s: %w", name, s.refPath(tenant, name), err)
	}
	return r, nil
}

// Refs lists a tenant's guests by name.
func (s *Store) Refs(tenant string) ([]Ref, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "refs", tenant))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Ref
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || CheckName(name) != nil {
			continue // temporary files
		}
		r, err := s.Ref(tenant, name)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			}
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetRef writes a tenant's named guest whole.
func (s *Store) SetRef(tenant string, r Ref) error {
	if err := CheckName(r.Name); err != nil {
		return err
	}
	if err := CheckName(tenant); err != nil {
		return fmt.Errorf("tenant %w", err)
	}
	if err := checkHash(r.Current); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.MkdirAll(filepath.Join(s.dir, "refs", tenant), 0o755); err != nil {
		return err
	}
	if err := writeAtomic(s.refPath(tenant, r.Name), b); err != nil {
		return fmt.Errorf("guest %q: %w", r.Name, err)
	}
	return nil
}

// DeleteRef removes a tenant's named guest, and the modules no reference of
// any tenant names any more.
func (s *Store) DeleteRef(tenant, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	err := os.Remove(s.refPath(tenant, name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("guest %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("guest %q: %w", name, err)
	}
	syncDir(filepath.Dir(s.refPath(tenant, name)))
	return s.Collect()
}

// Collect removes the modules no reference names. A module being deployed
// (stored, its reference not yet written) is kept for an hour.
func (s *Store) Collect() error {
	used := map[string]bool{}
	tenants, err := os.ReadDir(filepath.Join(s.dir, "refs"))
	if err != nil {
		return err
	}
	for _, t := range tenants {
		refs, err := s.Refs(t.Name())
		if err != nil {
			return err
		}
		for _, r := range refs {
			used[r.Current], used[r.Previous] = true, true
		}
	}
	blobs, err := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, b := range blobs {
		hash, ok := strings.CutSuffix(b.Name(), ".wasm")
		if !ok || used[hash] {
			continue
		}
		if fi, err := b.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(s.dir, "blobs", "sha256", b.Name()))
		}
	}
	return nil
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
