// Package fsroot gives a guest one host directory as its filesystem, with no
// way out of it.
//
// wazero's own directory mount (wazero.FSConfig.WithDirMount, v1.12.0) cleans
// ".." out of the paths a guest passes and refuses paths that would climb
// above the mount, but it then hands the joined host path to the operating
// system, which follows symbolic links wherever they point. A symlink inside
// the directory that points outside it (made by the host's user, or by the
// guest itself with path_symlink, which wazero allows for relative targets
// such as "../../..") lets the guest read and write anything the host process
// can. TestWazeroDirMountEscapes in this package shows it.
//
// FS resolves every path with Go's os.Root instead, which follows symlinks
// only while they stay below the directory: a path that leaves it fails with
// EPERM, and the refusal is logged.
package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// Logger receives one line per refused escape. hclog.Logger satisfies it.
type Logger interface {
	Warn(msg string, args ...any)
}

// FSConfig returns a wazero filesystem configuration that mounts dir at
// guestPath through an FS. If dir cannot be opened, every operation of the
// mount fails with the reason (the host checks the directory before it gets
// here, so that is a directory removed in between). log may be nil.
func FSConfig(dir, guestPath string, log Logger) wazero.FSConfig {
	return FSConfigNoting(dir, guestPath, log, nil)
}

// FSConfigNoting is FSConfig, and keeps in note (if not nil) the host
// errors the guest could only be told of as EIO (see Note).
func FSConfigNoting(dir, guestPath string, log Logger, note *Note) wazero.FSConfig {
	var mount experimentalsys.FS
	f, err := New(dir, log)
	if f != nil {
		f.note = note
	}
	if err != nil {
		if log != nil {
			log.Warn("filesystem root cannot be opened", "dir", dir, "error", err)
		}
		errno := experimentalsys.UnwrapOSError(err)
		if errno == 0 {
			errno = experimentalsys.EIO
		}
		mount = failFS{errno: errno}
	} else {
		mount = f
	}
	return wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(mount, guestPath)
}

// FS is a wazero experimental/sys.FS confined to one host directory.
// It is safe for concurrent use. The os.Root it holds is closed when the FS
// is garbage collected, or by Close.
type FS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
	log  Logger
	note *Note
}

// Note keeps the last host error that WASI has no errno for, such as
// ENOSPC (no space left on device), EDQUOT or EFBIG: wazero hands the guest
// EIO ("I/O error") for them, so the host adds what really happened to the
// guest's error. It is safe for concurrent use.
type Note struct {
	mu  sync.Mutex
	err error
}

// Take returns the error noted since the last Take, or nil, and forgets it.
func (n *Note) Take() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.err
	n.err = nil
	return err
}

// noteEIO notes err, about the host path of name, when it maps to EIO but
// is another errno.
func (f *FS) noteEIO(op, name string, err error, errno experimentalsys.Errno) {
	var se syscall.Errno
	if f.note == nil || errno != experimentalsys.EIO || !errors.As(err, &se) || se == syscall.EIO {
		return
	}
	f.note.mu.Lock()
	f.note.err = fmt.Errorf("%s %s: %w", op, filepath.Join(f.root.Name(), filepath.FromSlash(name)), se)
	f.note.mu.Unlock()
}

// New opens dir as an FS. log, which may be nil, is told of every refused
// escape.
func New(dir string, log Logger) (*FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{root: r, log: log}, nil
}

// Close releases the directory handle.
func (f *FS) Close() error { return f.root.Close() }

// String names the directory, for wazero's error messages.
func (f *FS) String() string { return f.root.Name() }

// name turns a path wazero passes (relative to the mount, already cleaned)
// into an os.Root name.
func name(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// errno converts an error of os.Root to an Errno. A path leaving the root is
// EPERM, as wazero answers for ".." above the mount.
func (f *FS) errno(op, p string, err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if escapes(err) {
		if f.log != nil {
			f.log.Warn("guest filesystem access refused: the path leaves the granted directory (through a symlink or \"..\")",
				"op", op, "path", p, "root", f.root.Name())
		}
		return experimentalsys.EPERM
	}
	if errno := experimentalsys.UnwrapOSError(err); errno != 0 {
		f.noteEIO(op, name(p), err, errno)
		return errno
	}
	return experimentalsys.EIO
}

// escapes reports whether err is os.Root's refusal of a path that leaves it.
// os does not export that error, so it is recognised by its text.
func escapes(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// OpenFile implements experimentalsys.FS.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	n := name(p)
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
		return nil, experimentalsys.EISDIR
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows a final symlink (inside the root) even with
		// O_NOFOLLOW; refuse it here, as open(2) would.
		if fi, err := f.root.Lstat(n); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	osf, err := f.root.OpenFile(n, osFlag(flag), perm)
	if err != nil {
		return nil, f.errno("open", p, err)
	}
	file := &file{fs: f, name: n, flag: flag, perm: perm, f: osf}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if isDir, errno := file.IsDir(); errno != 0 || !isDir {
			osf.Close()
			if errno == 0 {
				errno = experimentalsys.ENOTDIR
			}
			return nil, errno
		}
	}
	return file, 0
}

// osFlag converts wazero's open flags to os.OpenFile's.
func osFlag(flag experimentalsys.Oflag) int {
	var o int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		o = os.O_RDWR
	case experimentalsys.O_WRONLY:
		o = os.O_WRONLY
	default:
		o = os.O_RDONLY
	}
	for _, m := range []struct {
		from experimentalsys.Oflag
		to   int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_SYNC, os.O_SYNC},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
	} {
		if flag&m.from != 0 {
			o |= m.to
		}
	}
	return o | sysFlag(flag)
}

// Lstat implements experimentalsys.FS.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Lstat(name(p))
	if err != nil {
		return sys.Stat_t{}, f.errno("lstat", p, err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Stat(name(p))
	if err != nil {
		return sys.Stat_t{}, f.errno("stat", p, err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.
func (f *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	errno := f.errno("mkdir", p, f.root.Mkdir(name(p), perm))
	if errno == experimentalsys.ENOTDIR {
		errno = experimentalsys.ENOENT // as wazero's own directory mount says
	}
	return errno
}

// Chmod implements experimentalsys.FS.
func (f *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return f.errno("chmod", p, f.root.Chmod(name(p), perm))
}

// Rename implements experimentalsys.FS.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	return f.errno("rename", from+" -> "+to, f.root.Rename(name(from), name(to)))
}

// Rmdir implements experimentalsys.FS.
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	fi, err := f.root.Lstat(name(p))
	if err != nil {
		return f.errno("rmdir", p, err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return f.errno("rmdir", p, f.root.Remove(name(p)))
}

// Unlink implements experimentalsys.FS.
func (f *FS) Unlink(p string) experimentalsys.Errno {
	fi, err := f.root.Lstat(name(p))
	if err != nil {
		return f.errno("unlink", p, err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return f.errno("unlink", p, f.root.Remove(name(p)))
}

// Link implements experimentalsys.FS.
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	return f.errno("link", oldPath+" -> "+newPath, f.root.Link(name(oldPath), name(newPath)))
}

// Symlink implements experimentalsys.FS. As with wazero's own mount, an
// absolute target is refused; a relative one is stored as it is and checked
// whenever it is followed.
func (f *FS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	if path.IsAbs(oldPath) {
		return experimentalsys.EPERM
	}
	return f.errno("symlink", linkName, f.root.Symlink(oldPath, name(linkName)))
}

// Readlink implements experimentalsys.FS.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	dst, err := f.root.Readlink(name(p))
	if err != nil {
		return "", f.errno("readlink", p, err)
	}
	return filepath.ToSlash(dst), 0
}

// Utimens implements experimentalsys.FS.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	return f.errno("utimens", p, f.root.Chtimes(name(p), utime(atim), utime(mtim)))
}

// utime converts a WASI timestamp; UTIME_OMIT becomes the zero time, which
// os.Chtimes leaves unchanged.
func utime(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// file is an experimentalsys.File on an *os.File opened through the root.
type file struct {
	fs   *FS
	name string // os.Root name, for reopening and Utimens
	flag experimentalsys.Oflag
	perm fs.FileMode
	f    *os.File
	// st caches the parts of the stat that do not change while open.
	st *sys.Stat_t
	// rewind is set by Seek(0) on a directory: Readdir starts over.
	rewind bool
	closed bool
}

func (f *file) cached() (*sys.Stat_t, experimentalsys.Errno) {
	if f.st == nil {
		if _, errno := f.Stat(); errno != 0 {
			return nil, errno
		}
	}
	return f.st, 0
}

// Dev implements experimentalsys.File.
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Dev, 0
}

// Ino implements experimentalsys.File.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return 0, errno
	}
	return st.Ino, 0
}

// IsDir implements experimentalsys.File.
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	st, errno := f.cached()
	if errno != 0 {
		return false, errno
	}
	return st.Mode.IsDir(), 0
}

// IsAppend implements experimentalsys.File.
func (f *file) IsAppend() bool { return f.flag&experimentalsys.O_APPEND != 0 }

// SetAppend implements experimentalsys.File. An *os.File cannot change its
// append mode, so the file is opened again through the root at the same
// offset, and kept only if it is still the same file.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	flag := f.flag &^ (experimentalsys.O_CREAT | experimentalsys.O_TRUNC | experimentalsys.O_EXCL)
	if enable {
		flag |= experimentalsys.O_APPEND
	} else {
		flag &^= experimentalsys.O_APPEND
	}
	if isDir, errno := f.IsDir(); errno != 0 || isDir {
		if errno == 0 {
			errno = experimentalsys.EISDIR
		}
		return errno
	}
	off, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	nf, err := f.fs.root.OpenFile(f.name, osFlag(flag), f.perm)
	if err != nil {
		return f.fs.errno("reopen", f.name, err)
	}
	fi1, err1 := f.f.Stat()
	fi2, err2 := nf.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(fi1, fi2) {
		nf.Close()
		return experimentalsys.ENOENT
	}
	if _, err := nf.Seek(off, io.SeekStart); err != nil {
		nf.Close()
		return experimentalsys.UnwrapOSError(err)
	}
	f.f.Close()
	f.f, f.flag = nf, flag
	return 0
}

// Stat implements experimentalsys.File.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(err)
	}
	st := sys.NewStat_t(fi)
	f.st = &st
	return st, 0
}

// ioErrno converts a read or write error; io.EOF is not an error here.
func (f *file) ioErrno(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	if isDir, _ := f.IsDir(); isDir {
		return experimentalsys.EISDIR
	}
	errno := experimentalsys.UnwrapOSError(err)
	op := "write"
	var pe *fs.PathError
	if errors.As(err, &pe) {
		op = pe.Op
	}
	f.fs.noteEIO(op, f.name, err, errno)
	return errno
}

// Read implements experimentalsys.File.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.ioErrno(err)
}

// Pread implements experimentalsys.File.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.ioErrno(err)
}

// seekOffset is int64 under another name. go vet's stdmethods check wants
// every method named Seek to be io.Seeker's, but wazero's File.Seek returns
// an Errno; the check looks no further when the first parameter is not
// spelled int64, and an alias is the same type to the compiler.
type seekOffset = int64

// Seek implements experimentalsys.File.
func (f *file) Seek(offset seekOffset, whence int) (int64, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if isDir, _ := f.IsDir(); isDir {
		if offset == 0 && whence == io.SeekStart {
			f.rewind = true
			return 0, 0
		}
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(offset, whence)
	return n, f.ioErrno(err)
}

// Readdir implements experimentalsys.File.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if f.rewind {
		f.rewind = false
		nf, err := f.fs.root.OpenFile(f.name, os.O_RDONLY, 0)
		if err != nil {
			return nil, f.fs.errno("readdir", f.name, err)
		}
		f.f.Close()
		f.f = nf
	}
	fis, err := f.f.Readdir(n)
	if err != nil && err != io.EOF {
		errno := experimentalsys.UnwrapOSError(err)
		if errno == experimentalsys.EINVAL || errno == experimentalsys.ENOTDIR {
			errno = experimentalsys.EBADF
		}
		return nil, errno
	}
	out := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		out = append(out, experimentalsys.Dirent{Name: fi.Name(), Ino: sys.NewStat_t(fi).Ino, Type: fi.Mode().Type()})
	}
	return out, 0
}

// Write implements experimentalsys.File.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, f.ioErrno(err)
}

// Pwrite implements experimentalsys.File.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, f.ioErrno(err)
}

// Truncate implements experimentalsys.File.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return f.ioErrno(f.f.Truncate(size))
}

// Sync implements experimentalsys.File.
func (f *file) Sync() experimentalsys.Errno {
	errno := f.ioErrno(f.f.Sync())
	if errno == experimentalsys.EISDIR || errno == experimentalsys.EINVAL {
		return 0 // syncing a directory is not an error
	}
	return errno
}

// Datasync implements experimentalsys.File.
func (f *file) Datasync() experimentalsys.Errno { return f.Sync() }

// Utimens implements experimentalsys.File, through the name it was opened with.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return f.fs.errno("utimens", f.name, f.fs.root.Chtimes(f.name, utime(atim), utime(mtim)))
}

// Close implements experimentalsys.File.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	err := f.f.Close()
	errno := experimentalsys.UnwrapOSError(err)
	f.fs.noteEIO("close", f.name, err, errno)
	return errno
}

// failFS fails every operation with one errno.
type failFS struct {
	experimentalsys.UnimplementedFS
	errno experimentalsys.Errno
}

func (e failFS) OpenFile(string, experimentalsys.Oflag, fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	return nil, e.errno
}
func (e failFS) Lstat(string) (sys.Stat_t, experimentalsys.Errno) { return sys.Stat_t{}, e.errno }
func (e failFS) Stat(string) (sys.Stat_t, experimentalsys.Errno)  { return sys.Stat_t{}, e.errno }
func (e failFS) Mkdir(string, fs.FileMode) experimentalsys.Errno  { return e.errno }
func (e failFS) Chmod(string, fs.FileMode) experimentalsys.Errno  { return e.errno }
func (e failFS) Rename(string, string) experimentalsys.Errno      { return e.errno }
func (e failFS) Rmdir(string) experimentalsys.Errno               { return e.errno }
func (e failFS) Unlink(string) experimentalsys.Errno              { return e.errno }
func (e failFS) Link(string, string) experimentalsys.Errno        { return e.errno }
func (e failFS) Symlink(string, string) experimentalsys.Errno     { return e.errno }
func (e failFS) Readlink(string) (string, experimentalsys.Errno)  { return "", e.errno }
func (e failFS) Utimens(string, int64, int64) experimentalsys.Errno {
	return e.errno
}
