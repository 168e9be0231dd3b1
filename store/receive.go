package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"arbor/store/atomic"
	"arbor/store/index"
	"arbor/store/object"
)

// Objects that come from another repository (a pull, a mirror) are never
// trusted: each is checked against its name before it is written.

// ValidateMeta checks that metadata bytes are the object they are named as:
// the checksum matches and the structure (names included) is valid.
// Detached metadata has no checksum of its own; only its form is checked.
func ValidateMeta(ref index.Ref, data []byte) error {
	if err := checkMeta(ref, data); err != nil {
		return fmt.Errorf("%s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	return nil
}

// checkMeta is ValidateMeta without the object's name in the error.
func checkMeta(ref index.Ref, data []byte) error {
	if ref.Type != object.TypeCommitMeta {
		if got := object.Sha256(data); got != ref.Checksum {
			return mismatch(ref.Type, ref.Checksum, got)
		}
	}
	var err error
	switch ref.Type {
	case object.TypeCommit:
		_, err = object.ParseCommit(data)
	case object.TypeDirTree:
		_, err = object.ParseDirTree(data)
	case object.TypeDirMeta:
		_, err = object.ParseDirMeta(data)
	case object.TypeCommitMeta:
		_, err = object.ParseVarDict(data)
	default:
		err = fmt.Errorf("unexpected object type %s", ref.Type)
	}
	if err != nil {
		return corrupt(err)
	}
	return nil
}

// AddMeta validates and stores a received metadata object.
func (t *Txn) AddMeta(ref index.Ref, data []byte) error {
	if err := ValidateMeta(ref, data); err != nil {
		return err
	}
	if ref.Type == object.TypeCommitMeta {
		return t.WriteCommitMeta(ref.Checksum, data)
	}
	return t.writeMetaAs(ref, data)
}

// AddMetaLinked stores a received metadata object as AddMeta does, but
// as a hardlink of the file src holding the same bytes (another
// repository's object on this filesystem), as ostree's local pulls share
// metadata. The linked file is read back and must hold data, which is
// checked first: what is stored is bound to its checksum all the same.
// Where linking fails, the bytes are written as by AddMeta.
func (t *Txn) AddMetaLinked(ref index.Ref, data []byte, src string) error {
	if ref.Type == object.TypeCommitMeta {
		return t.AddMeta(ref, data)
	}
	if err := ValidateMeta(ref, data); err != nil {
		return err
	}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return err
	}
	linked, err := t.stageLink(ref, src, func(dfd int, name, _ string) bool {
		got, err := readSmallFileAt(dfd, name, maxMetaSize)
		return err == nil && bytes.Equal(got, data)
	})
	if err != nil {
		t.unclaim(ref)
		return err
	}
	if linked {
		return nil
	}
	if err := t.writeStaged(ref, data); err != nil {
		t.unclaim(ref)
		return err
	}
	return nil
}

// AddContent stores a received content object from its header and payload,
// hashing the payload as it is written; on a checksum mismatch nothing is
// kept and the error is ErrCorrupt naming the object.
func (t *Txn) AddContent(c object.Checksum, h *object.FileHeader, size uint64, payload io.Reader) error {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	name := object.Name(c, object.TypeFile)
	if err := h.Validate(); err != nil {
		return fmt.Errorf("%s: %w: %v", name, ErrCorrupt, err)
	}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return err
	}
	fail := func(err error) error {
		t.unclaim(ref)
		return err
	}
	if h.IsSymlink() {
		if object.ContentChecksum(h, nil) != c {
			return fail(fmt.Errorf("%s: %w: the header does not match the name", name, ErrCorrupt))
		}
		dfd, fname, err := t.stageDir(ref)
		if err != nil {
			return fail(err)
		}
		n, err := t.r.writeContentFile(dfd, fname, h, contentSource{}, nil)
		if err != nil {
			unix.Unlinkat(dfd, fname, 0)
			return fail(fmt.Errorf("writing %s: %w", name, err))
		}
		t.staged1(ref, n)
		return nil
	}
	// Write the object straight to its staging file while hashing; it only
	// becomes visible (publish) if the checksum matches.
	hs := object.NewContentHash(h)
	dfd, fname, err := t.stageDir(ref)
	if err != nil {
		return fail(err)
	}
	written, err := t.r.writeContentFile(dfd, fname, h, contentSource{stream: teeReader{payload, hs}, size: int64(size)}, t.startWriteback)
	if err == nil {
		if got := object.SumHash(hs); got != c {
			err = fmt.Errorf("%s: %w", name, mismatch(object.TypeFile, c, got))
		}
	}
	if err != nil {
		unix.Unlinkat(dfd, fname, 0)
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return fail(err)
	}
	t.staged1(ref, written)
	return nil
}

// Flush makes what is staged so far visible and keeps the transaction
// open: a long pull killed later keeps every object it already verified.
func (t *Txn) Flush() error {
	t.mu.Lock()
	batch := t.staged
	t.staged = nil
	t.mu.Unlock()
	return t.publish(batch, false)
}

// ReadMeta reads a metadata object staged in this transaction or already
// in the repository.
func (t *Txn) ReadMeta(ref index.Ref) ([]byte, error) {
	rel := object.Path(ref.Checksum, ref.Type, t.r.archive())
	for i := 0; i < 2; i++ {
		// A concurrent Flush may move the file between the two places.
		if b, err := readSmallFile(filepath.Join(t.staging, rel[len("objects/"):]), maxMetaSize); err == nil {
			return b, nil
		}
		b, err := t.r.ReadMeta(ref.Checksum, ref.Type)
		if err == nil || !errors.Is(err, ErrObjectMissing) {
			return b, err
		}
	}
	return nil, fmt.Errorf("%s: %w", object.Name(ref.Checksum, ref.Type), ErrObjectMissing)
}

// SetPartial marks a commit whose tree is not (yet) complete, as ostree
// does with state/CHECKSUM.commitpartial.
func (r *Repo) SetPartial(c object.Checksum) error { return r.setPartial(c, "", r.fsync) }

// SetPartial marks partial a commit this transaction is about to store,
// as Repo.SetPartial does but with no sync of its own (two device flushes
// of a pull): the mark is on disk before the commit is, since every
// publish syncs the filesystem before it renames an object into place.
// For a commit already stored, use Repo.SetPartial.
func (t *Txn) SetPartial(c object.Checksum) error { return t.r.setPartial(c, "", false) }

// partialByFsck is what a commitpartial file holds when fsck deleted
// objects of the commit, as ostree writes it: such a commit keeps the
// repository's fsck failing until it is fetched again.
const partialByFsck = "f"

func (r *Repo) setPartial(c object.Checksum, reason string, sync bool) error {
	dir := filepath.Join(r.path, "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomic.WriteFile(filepath.Join(dir, c.String()+".commitpartial"), []byte(reason), 0o644, sync)
}

// PartialByFsck reports whether a commit is partial because fsck deleted
// corrupt objects it reaches.
func (r *Repo) PartialByFsck(c object.Checksum) bool {
	b, err := os.ReadFile(filepath.Join(r.path, "state", c.String()+".commitpartial"))
	return err == nil && string(b) == partialByFsck
}

// markFsckPartial marks a commit partial because fsck found an object of
// it missing or corrupt: ostree's marker, "f", which later checks report
// as corruption until a pull completes the commit again.
func (r *Repo) markFsckPartial(c object.Checksum) error {
	dir := filepath.Join(r.path, "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomic.WriteFile(filepath.Join(dir, c.String()+".commitpartial"), []byte("f"), 0o644, r.fsync)
}

// fsckPartial says whether commit c is partial by fsck's marking.
func (r *Repo) fsckPartial(c object.Checksum) bool {
	b, err := os.ReadFile(filepath.Join(r.path, "state", c.String()+".commitpartial"))
	return err == nil && string(b) == "f"
}

// ClearPartial marks a commit complete.
func (r *Repo) ClearPartial(c object.Checksum) error {
	err := os.Remove(filepath.Join(r.path, "state", c.String()+".commitpartial"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// OpenContent opens a content object staged in this transaction or
// already in the repository.
func (t *Txn) OpenContent(c object.Checksum) (*Content, error) {
	rel := object.Path(c, object.TypeFile, t.r.archive())
	for i := 0; i < 2; i++ {
		// A concurrent Flush may move the file between the two places.
		ct, err := t.r.openContentAt(filepath.Join(t.staging, rel[len("objects/"):]), object.Name(c, object.TypeFile))
		if err == nil || !errors.Is(err, ErrObjectMissing) {
			return ct, err
		}
		ct, err = t.r.OpenContent(c)
		if err == nil || !errors.Is(err, ErrObjectMissing) {
			return ct, err
		}
	}
	return nil, missingFile(object.Name(c, object.TypeFile))
}

// teeReader is io.TeeReader keeping its source's WriteTo: an object held in
// memory is then hashed and written in one pass, with no copy buffer (a
// pull of 46,000 objects allocated 850 MB of them).
type teeReader struct {
	r io.Reader
	h io.Writer
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.h.Write(p[:n])
	return n, err
}

func (t teeReader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(io.MultiWriter(t.h, w), t.r)
}
