//go:build wasip1

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/wasmdest/wasmdest/guests/internal/filedest"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// dir is the file guest's filedest.Store: the files below "/", the one
// directory the host grants (the filesystem capability,
// host/capability/filesystem).
//
// A file is written under a temporary name (".<name>.<random>.tmp" in the
// same directory) and gets its final name only once complete, without
// replacing a file of that name: a file is complete or absent.
//
// The host encodes the files (the codec capability, host/capability/codec)
// and package filedest does the rest alike for the S3 guest: names,
// rotation (without no_rotate every Write call is one file; with no_rotate
// a table's file stays open across Write calls and is finished by Close),
// reading back. The temporary file and what happens on failure stay here.
type dir struct{ noRotate bool }

// open parses the spec and returns the granted directory as the store.
func open(raw []byte) (*filespec.Spec, filedest.Store, error) {
	s, err := filespec.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	return &s, dir{noRotate: s.NoRotate}, nil
}

func (dir) Where(name string) string { return "/" + name }

func (dir) ReadAll(name string) ([]byte, error) { return os.ReadFile("/" + name) }

// tmpFile is a file being written under its temporary name.
type tmpFile struct {
	d          dir
	final, tmp string
	f          *os.File
}

// Create opens a temporary file in name's directory, made first if need be.
func (d dir) Create(name string) (filedest.File, error) {
	final := "/" + name
	parent := path.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create directory %s: %w%s", parent, err, explain(parent, err))
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, d.exists(final)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w%s", final, err, explain(final, err))
	}
	tmp := path.Join(parent, "."+path.Base(final)+"."+randomHex()+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w%s", tmp, err, explain(tmp, err))
	}
	core.Debug("file opened", "path", final, "tmp", tmp)
	return &tmpFile{d: d, final: final, tmp: tmp, f: f}, nil
}

func (d dir) exists(final string) error {
	return fmt.Errorf("%s exists already, and the file destination never replaces a file (write_mode append); %s", final, filedest.ExistsFix(d.noRotate))
}

// explain adds what the host's refusal of a path that leaves the granted
// directory looks like from here: EPERM, or, when the Go runtime turns it
// into another error (MkdirAll says "file exists" for a symlink it may not
// follow), a component of p that cannot be followed.
func explain(p string, err error) string {
	const why = " (the host refuses paths that leave the granted directory; %s)"
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range parts {
		prefix := "/" + strings.Join(parts[:i+1], "/")
		fi, lerr := os.Lstat(prefix)
		if lerr != nil {
			break
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, serr := os.Stat(prefix); errors.Is(serr, syscall.EPERM) {
			target, _ := os.Readlink(prefix)
			return fmt.Sprintf(why, fmt.Sprintf("%s is a symlink to %q, which points outside it", prefix, target))
		}
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission) {
		return fmt.Sprintf(why, "a symlink in the path may point outside it; also check the directory's permissions")
	}
	return ""
}

// randomHex returns 16 random hex digits for a temporary file's name. The
// name needs to be unique, not secret (O_EXCL refuses a clash), so it comes
// from math/rand/v2, which the runtime seeds from WASI random_get: crypto/rand
// would link the FIPS 140 module (AES, SHA-2, SHA-3, HMAC, DRBG), ~0.5 MB of
// machine code loaded on every start (RATIONALE.md, "The file guest's
// cached load").
func randomHex() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

func (t *tmpFile) Write(p []byte) (int, error) { return t.f.Write(p) }

// Commit syncs and closes the file and gives it its final name.
func (t *tmpFile) Commit() error {
	err := t.f.Sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = publish(t.tmp, t.final)
	if errors.Is(err, fs.ErrExist) {
		return t.d.exists(t.final)
	}
	return err
}

// publish gives tmp the name final, failing if final exists (another
// instance may have finished a file of that name meanwhile). A hard link
// does that atomically; where the filesystem has none, a check and a
// rename come close.
func publish(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(final); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, final)
}

// Abort removes a file that will not be finished.
func (t *tmpFile) Abort() error {
	t.f.Close()
	os.Remove(t.tmp)
	return nil
}
