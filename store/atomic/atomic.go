// Package atomic replaces files and symlinks whole: a reader sees the old
// one or the new one, never a part, and with sync the change is on disk
// when the call returns.
package atomic

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteFile writes data to a temporary file beside path (a dot file, which
// no listing of refs or deployments takes for the real thing) and renames
// it into place; with sync, the file is flushed first and its directory
// after.
func WriteFile(path string, data []byte, perm os.FileMode, sync bool) error {
	return WriteFileFrom(path, perm, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFrom is WriteFile of what write writes, for content streamed
// rather than held in memory; on an error of write, path is left as it was.
func WriteFileFrom(path string, perm os.FileMode, sync bool, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if sync {
		return SyncDir(dir)
	}
	return nil
}

// Symlink points link at target, replacing what link was in one rename;
// with sync, the directory is flushed after.
func Symlink(target, link string, sync bool) error {
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	if sync {
		return SyncDir(filepath.Dir(link))
	}
	return nil
}

// SyncDir flushes a directory's entries to disk.
func SyncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
