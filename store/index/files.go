package index

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"arbor/store/object"
)

// The files-only mode answers from the object files themselves. It is
// what a process gets while another one (the daemon, typically) holds
// the index: slower, never wrong, and it records nothing, which the
// holder notices as changed object directories when it next opens the
// index.

// FilesOnly says the index answers from the object files alone.
func (ix *Index) FilesOnly() bool { return ix.db == nil }

// objectFile finds a present object's file: content objects are .file or
// .filez depending on the repository's mode.
func (ix *Index) objectFile(r Ref) (os.FileInfo, error) {
	repo := filepath.Dir(ix.objects)
	fi, err := os.Lstat(filepath.Join(repo, object.Path(r.Checksum, r.Type, false)))
	if errors.Is(err, fs.ErrNotExist) && r.Type == object.TypeFile {
		fi, err = os.Lstat(filepath.Join(repo, object.Path(r.Checksum, r.Type, true)))
	}
	return fi, err
}

func (ix *Index) filesHas(r Ref) (bool, error) {
	_, err := ix.objectFile(r)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (ix *Index) filesSize(r Ref) (int64, bool, error) {
	fi, err := ix.objectFile(r)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return fi.Size(), true, nil
}

func (ix *Index) filesObjects(fn func(Entry) error) error {
	dirs, err := os.ReadDir(ix.objects)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(ix.objects, d.Name()))
		if err != nil {
			return err
		}
		for _, e := range ents {
			c, t, _, ok := object.ParseLooseName(d.Name(), e.Name())
			if !ok {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if err := fn(Entry{Ref: Ref{Checksum: c, Type: t}, Size: fi.Size()}); err != nil {
				return err
			}
		}
	}
	return nil
}
