package fs

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"arbor/store"
	"arbor/store/object"
)

// StoreSource reads a tree from a local repository. Objects of bare modes
// are read in place; an archive repository's files are unpacked once into
// anonymous temporary files, a few of which are kept.
type StoreSource struct {
	Repo *store.Repo

	mu       sync.Mutex
	unpacked map[object.Checksum]*list.Element
	lru      list.List // of *unpackedFile, most recent first
}

var _ Source = (*StoreSource)(nil)

const keepUnpacked = 32

type unpackedFile struct {
	sum  object.Checksum
	f    *os.File
	refs int
	gone bool
}

func (s *StoreSource) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	t, err := s.Repo.ReadDirTree(c)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *StoreSource) DirMeta(ctx context.Context, c object.Checksum) (*object.DirMeta, error) {
	m, err := s.Repo.ReadDirMeta(c)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (s *StoreSource) File(ctx context.Context, c object.Checksum) (FileInfo, error) {
	h, size, err := s.Repo.StatContent(c)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{FileHeader: h, Size: size}, nil
}

func (s *StoreSource) Open(ctx context.Context, c object.Checksum) (Data, error) {
	if s.Repo.Mode() != store.ModeArchive {
		// The tree asks only for regular files, whose header it has.
		return s.Repo.OpenData(c)
	}
	return s.openUnpacked(c)
}

func (s *StoreSource) openUnpacked(c object.Checksum) (Data, error) {
	s.mu.Lock()
	if e, ok := s.unpacked[c]; ok {
		u := e.Value.(*unpackedFile)
		u.refs++
		s.lru.MoveToFront(e)
		s.mu.Unlock()
		return &unpackedRef{s: s, u: u}, nil
	}
	s.mu.Unlock()
	ct, err := s.Repo.OpenContent(c)
	if err != nil {
		return nil, err
	}
	defer ct.Close()
	f, err := os.OpenFile(filepath.Join(s.Repo.Path(), "tmp"), unix.O_TMPFILE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", object.Name(c, object.TypeFile), err)
	}
	if _, err := io.Copy(f, ct); err != nil {
		f.Close()
		return nil, fmt.Errorf("unpacking %s: %w", object.Name(c, object.TypeFile), err)
	}
	u := &unpackedFile{sum: c, f: f, refs: 1}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unpacked == nil {
		s.unpacked = map[object.Checksum]*list.Element{}
	}
	if e, ok := s.unpacked[c]; ok { // another reader won the race
		s.lru.MoveToFront(e)
		u.gone = true
		return &unpackedRef{s: s, u: u}, nil
	}
	s.unpacked[c] = s.lru.PushFront(u)
	for s.lru.Len() > keepUnpacked {
		old := s.lru.Remove(s.lru.Back()).(*unpackedFile)
		delete(s.unpacked, old.sum)
		old.gone = true
		if old.refs == 0 {
			old.f.Close()
		}
	}
	return &unpackedRef{s: s, u: u}, nil
}

type unpackedRef struct {
	s    *StoreSource
	u    *unpackedFile
	once sync.Once
}

func (r *unpackedRef) ReadAt(p []byte, off int64) (int, error) { return r.u.f.ReadAt(p, off) }

func (r *unpackedRef) Close() error {
	r.once.Do(func() {
		r.s.mu.Lock()
		defer r.s.mu.Unlock()
		r.u.refs--
		if r.u.refs == 0 && r.u.gone {
			r.u.f.Close()
		}
	})
	return nil
}
