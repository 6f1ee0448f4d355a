// Package gueststore keeps the guests tenants deploy to `wasmdest serve`:
// module bytes content-addressed by SHA-256, and per tenant a named
// reference to the current and the previous hash of each guest.
//
// The store lives in a directory (Open) or an S3 bucket (OpenLocation with
// s3://BUCKET/PREFIX). Everything is written complete or not at all (in a
// directory: a temporary file, fsync, rename, fsync of the directory; in a
// bucket: one PUT), so a crash leaves either the old state or the new one,
// and the store survives a restart. Several serve replicas may share one
// store (a shared volume or one bucket): blobs never change once written,
// and a reference is replaced whole, so a reader sees one whole version of
// it. Two replicas deploying the same tenant's same name at the same
// instant: in a bucket, ReplaceRef's conditional PUT fails the second with
// ErrConflict; in a shared directory the last rename wins
// (docs/scaling.md).
//
// Layout in a directory:
//
//	blobs/sha256/<hex>.wasm          module bytes
//	refs/<tenant>/<name>.json        {"current": HEX, "previous": HEX, ...}
//
// and in a bucket:
//
//	PREFIX/blobs/<hex>
//	PREFIX/refs/<tenant>/<name>.json
package gueststore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ErrTooLarge is returned by Put when the body is larger than its cap.
var ErrTooLarge = errors.New("module too large")

// ErrNotFound is returned for a guest name or hash the store does not hold.
var ErrNotFound = errors.New("not found")

// Store is a guest store in a directory or an S3 bucket.
type Store struct {
	b backend
}

// Open opens (creating) the store in dir.
func Open(dir string) (*Store, error) {
	d, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	return &Store{b: d}, nil
}

// OpenLocation opens the store at loc: s3://BUCKET/PREFIX (an existing
// bucket, reached as o says), or else a directory (created if need be).
func OpenLocation(loc string, o S3Options) (*Store, error) {
	if !IsS3(loc) {
		return Open(loc)
	}
	b, err := openS3(loc, o)
	if err != nil {
		return nil, err
	}
	return &Store{b: b}, nil
}

// IsS3 reports whether loc names an S3 location (s3://...).
func IsS3(loc string) bool { return strings.HasPrefix(loc, "s3://") }

// String names the store's location: its directory, or s3://BUCKET/PREFIX.
func (s *Store) String() string { return s.b.String() }

// Ref is a tenant's named guest: the hash new syncs run, and the one
// before it (what rollback returns to).
type Ref struct {
	Name     string    `json:"name"`
	Current  string    `json:"current"`
	Previous string    `json:"previous,omitempty"`
	Updated  time.Time `json:"updated"`
	// version is the stored reference's version as read (ETag or hash of
	// its bytes), for ReplaceRef.
	version string
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
	if err := s.b.putBlob(hash, wasm); err != nil {
		return "", fmt.Errorf("store module %s in %s: %w", hash, s.b, err)
	}
	return hash, nil
}

// Get returns the module of hash, checking that its bytes still hash to it.
func (s *Store) Get(hash string) ([]byte, error) {
	if err := checkHash(hash); err != nil {
		return nil, err
	}
	b, err := s.b.getBlob(hash)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", hash, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("module %s: its stored bytes hash to %x: the store %s is corrupt", hash, sum, s.b)
	}
	return b, nil
}

// Size returns the stored size of hash's module.
func (s *Store) Size(hash string) (int64, error) {
	if err := checkHash(hash); err != nil {
		return 0, err
	}
	n, err := s.b.statBlob(hash)
	if err != nil {
		return 0, fmt.Errorf("module %s: %w", hash, err)
	}
	return n, nil
}

// Ref returns a tenant's named guest.
func (s *Store) Ref(tenant, name string) (Ref, error) {
	var r Ref
	if err := CheckName(name); err != nil {
		return r, err
	}
	if err := CheckName(tenant); err != nil {
		return r, fmt.Errorf("tenant %w", err)
	}
	b, version, err := s.b.readRef(tenant, name)
	if err != nil {
		return r, fmt.Errorf("guest %q: %w", name, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("guest %q: reference of tenant %s in %s: %w", name, tenant, s.b, err)
	}
	r.version = version
	return r, nil
}

// Refs lists a tenant's guests by name.
func (s *Store) Refs(tenant string) ([]Ref, error) {
	if err := CheckName(tenant); err != nil {
		return nil, fmt.Errorf("tenant %w", err)
	}
	names, err := s.b.listRefs(tenant)
	if err != nil {
		return nil, err
	}
	var out []Ref
	for _, name := range names {
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

func (s *Store) writeRef(tenant string, r Ref, cond bool, version string) error {
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
	if err := s.b.writeRef(tenant, r.Name, b, cond, version); err != nil {
		return fmt.Errorf("guest %q: %w", r.Name, err)
	}
	return nil
}

// SetRef writes a tenant's named guest whole, whatever was there.
func (s *Store) SetRef(tenant string, r Ref) error {
	return s.writeRef(tenant, r, false, "")
}

// ReplaceRef writes a tenant's named guest whole if it is still old, as
// Ref or Refs returned it (nil: if there is none yet); else it fails with
// ErrConflict and writes nothing. In a bucket that is exact (a conditional
// PUT); in a directory it is exact within one process only.
func (s *Store) ReplaceRef(tenant string, old *Ref, next Ref) error {
	version := ""
	if old != nil {
		if old.version == "" {
			return fmt.Errorf("guest %q: ReplaceRef wants the reference as the store returned it", next.Name)
		}
		version = old.version
	}
	return s.writeRef(tenant, next, true, version)
}

// DeleteRef removes a tenant's named guest, and the modules no reference of
// any tenant names any more.
func (s *Store) DeleteRef(tenant, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := CheckName(tenant); err != nil {
		return fmt.Errorf("tenant %w", err)
	}
	if err := s.b.deleteRef(tenant, name); err != nil {
		return fmt.Errorf("guest %q: %w", name, err)
	}
	return s.Collect()
}

// collectGrace is how long an unnamed module is kept: one being deployed
// is stored before its reference is written.
var collectGrace = time.Hour

// Collect removes the modules no reference names. A module being deployed
// (stored, its reference not yet written) is kept for an hour.
func (s *Store) Collect() error {
	used := map[string]bool{}
	tenants, err := s.b.listTenants()
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if CheckName(t) != nil {
			continue
		}
		refs, err := s.Refs(t)
		if err != nil {
			return err
		}
		for _, r := range refs {
			used[r.Current], used[r.Previous] = true, true
		}
	}
	blobs, err := s.b.listBlobs()
	if err != nil {
		return err
	}
	for _, b := range blobs {
		if !used[b.hash] && time.Since(b.written) > collectGrace {
			if err := s.b.deleteBlob(b.hash); err != nil {
				return err
			}
		}
	}
	return nil
}
