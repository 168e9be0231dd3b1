package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"arbor/store/atomic"
	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// A tree index is arbor's addition to a published repository: for one
// commit, every dirtree and dirmeta it reaches and the header and size of
// every file, in one zstd-compressed file. A client mounting the commit
// fetches it once instead of a request per directory and per file header.
// ostree ignores it. The dirtrees and dirmetas in it are checked against
// their checksums like any object, and so is every symlink (its content
// object is its header alone); a regular file's header and size can only
// be checked once its bytes are here, so a client takes them from a
// verifying remote only when the index's detached signature (beside it,
// TreeIndexSigPath) verifies with the remote's keys.
//
// Layout (little-endian): magic, then a count of metadata objects, each
// type (u8), length (u32) and bytes; then a count of files, each checksum
// (32 bytes), size (u64), header length (u32) and header bytes (the
// canonical content header).
const treeIndexMagic = "ARBORTI1"

// Limits on what a parser accepts, against hostile input.
const (
	// A tree index of a runtime of 200,000 files is tens of MiB; these
	// bound what a hostile server makes a client hold before any check.
	MaxTreeIndexFile   = 256 << 20 // published (compressed) bytes
	maxTreeIndex       = 512 << 20 // uncompressed bytes
	maxTreeIndexHeader = 1 << 20   // one file header
)

// TreeIndexPath is where a repository keeps a commit's tree index.
func TreeIndexPath(c object.Checksum) string {
	return "extensions/arbor/trees/" + c.String() + ".treeindex"
}

// TreeIndexSigPath is where the index's detached signatures are: an a{sv}
// with ostree.gpgsigs over the index file's bytes, as summary.sig is.
func TreeIndexSigPath(c object.Checksum) string { return TreeIndexPath(c) + ".sig" }

// TreeIndex is a parsed tree index.
type TreeIndex struct {
	Meta  []IndexedMeta
	Files []IndexedFile
}

// IndexedMeta is a dirtree or dirmeta, checked against its checksum.
type IndexedMeta struct {
	Ref  index.Ref
	Data []byte
}

// IndexedFile is a file's header and size, as the publisher claims them
// (a symlink's is checked: its checksum is its header's).
type IndexedFile struct {
	Checksum object.Checksum
	Size     uint64
	Header   object.FileHeader
}

// BuildTreeIndex makes the tree index of a commit the repository holds
// whole.
func (r *Repo) BuildTreeIndex(ctx context.Context, commit object.Checksum) ([]byte, error) {
	return r.buildTreeIndex(ctx, r, commit)
}

// metaReader reads metadata objects' bytes: the repository.
type metaReader interface {
	ReadMeta(c object.Checksum, t object.Type) ([]byte, error)
}

// buildTreeIndex makes a commit's tree index from the metadata objects
// src holds. It walks each distinct dirtree once, breadth first, so a
// reader meets the top of the tree first.
func (r *Repo) buildTreeIndex(ctx context.Context, src metaReader, commit object.Checksum) ([]byte, error) {
	root, err := r.RootOf(commit)
	if err != nil {
		return nil, err
	}
	ti := &TreeIndex{}
	files := map[object.Checksum]bool{}
	trees := indexingTrees{src: src, ti: ti}
	w := Distinct{
		Meta: func(_ context.Context, c object.Checksum) error {
			b, err := src.ReadMeta(c, object.TypeDirMeta)
			if err != nil {
				return err
			}
			ti.Meta = append(ti.Meta, IndexedMeta{Ref: index.Ref{Checksum: c, Type: object.TypeDirMeta}, Data: b})
			return nil
		},
		Dir: func(_ context.Context, d Dir) error {
			for _, f := range d.Entries.Files {
				if files[f.Checksum] {
					continue
				}
				files[f.Checksum] = true
				ct, err := r.OpenContent(f.Checksum)
				if err != nil {
					return fmt.Errorf("%s: %w", childPath(d.Path, f.Name), err)
				}
				ti.Files = append(ti.Files, IndexedFile{Checksum: f.Checksum, Size: ct.Size, Header: ct.Header})
				ct.Close()
			}
			return nil
		},
	}
	if err := w.Walk(ctx, trees, root); err != nil {
		return nil, err
	}
	return ti.Encode()
}

// indexingTrees reads dirtrees for a tree index's walk and keeps their
// bytes in it, in the order read.
type indexingTrees struct {
	src metaReader
	ti  *TreeIndex
}

func (s indexingTrees) DirTree(_ context.Context, c object.Checksum) (*object.DirTree, error) {
	b, err := s.src.ReadMeta(c, object.TypeDirTree)
	if err != nil {
		return nil, err
	}
	t, err := object.ParseDirTree(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeDirTree), err)
	}
	s.ti.Meta = append(s.ti.Meta, IndexedMeta{Ref: index.Ref{Checksum: c, Type: object.TypeDirTree}, Data: b})
	return &t, nil
}

// Encode writes the index in its published form.
func (ti *TreeIndex) Encode() ([]byte, error) {
	var raw bytes.Buffer
	le := binary.LittleEndian
	raw.WriteString(treeIndexMagic)
	binary.Write(&raw, le, uint64(len(ti.Meta)))
	for _, m := range ti.Meta {
		raw.WriteByte(byte(m.Ref.Type))
		binary.Write(&raw, le, uint32(len(m.Data)))
		raw.Write(m.Data)
	}
	binary.Write(&raw, le, uint64(len(ti.Files)))
	for _, f := range ti.Files {
		h := f.Header.Marshal()
		raw.Write(f.Checksum[:])
		binary.Write(&raw, le, f.Size)
		binary.Write(&raw, le, uint32(len(h)))
		raw.Write(h)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(raw.Bytes(), nil), nil
}

// ParseTreeIndex decodes a tree index, checking every dirtree and dirmeta
// against its checksum and every file header's form.
func ParseTreeIndex(b []byte) (*TreeIndex, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxTreeIndex), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("tree index: %w", err)
	}
	p := treeIndexParser{b: raw}
	if string(p.take(len(treeIndexMagic))) != treeIndexMagic {
		return nil, errors.New("tree index: bad magic")
	}
	ti := &TreeIndex{}
	for n := p.u64(); n > 0 && p.err == nil; n-- {
		tb := p.take(1)
		data := p.take(int(p.u32()))
		if p.err != nil {
			break
		}
		t := object.Type(tb[0])
		if t != object.TypeDirTree && t != object.TypeDirMeta {
			return nil, fmt.Errorf("tree index: object of type %d", t)
		}
		ref := index.Ref{Checksum: object.Sha256(data), Type: t}
		if err := ValidateMeta(ref, data); err != nil {
			return nil, fmt.Errorf("tree index: %w", err)
		}
		ti.Meta = append(ti.Meta, IndexedMeta{Ref: ref, Data: data})
	}
	for n := p.u64(); n > 0 && p.err == nil; n-- {
		var f IndexedFile
		copy(f.Checksum[:], p.take(32))
		f.Size = p.u64()
		hl := p.u32()
		if hl > maxTreeIndexHeader {
			return nil, fmt.Errorf("tree index: header of %d bytes", hl)
		}
		h := p.take(int(hl))
		if p.err != nil {
			break
		}
		if f.Header, err = object.ParseContentHeader(h); err != nil {
			return nil, fmt.Errorf("tree index: %s: %w", object.Name(f.Checksum, object.TypeFile), err)
		}
		if err := f.Header.Validate(); err != nil {
			return nil, fmt.Errorf("tree index: %s: %w", object.Name(f.Checksum, object.TypeFile), err)
		}
		if f.Header.IsSymlink() {
			if f.Size != 0 {
				return nil, fmt.Errorf("tree index: %s: a symlink with a size", object.Name(f.Checksum, object.TypeFile))
			}
			if object.ContentChecksum(&f.Header, nil) != f.Checksum {
				return nil, fmt.Errorf("tree index: %s: %w: the symlink described is another object (to %q)",
					object.Name(f.Checksum, object.TypeFile), ErrForgedIndex, f.Header.Target)
			}
		}
		ti.Files = append(ti.Files, f)
	}
	if p.err != nil {
		return nil, fmt.Errorf("tree index: %w", p.err)
	}
	if len(p.b) != 0 {
		return nil, fmt.Errorf("tree index: %d bytes after the end", len(p.b))
	}
	return ti, nil
}

// ErrForgedIndex marks a tree index that contradicts the objects it
// describes or whose signature does not verify.
var ErrForgedIndex = errors.New("forged tree index")

type treeIndexParser struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (p *treeIndexParser) take(n int) []byte {
	if p.err != nil || n < 0 || n > len(p.b) {
		if p.err == nil {
			p.err = errShort
		}
		return make([]byte, max(n, 1))[:max(n, 0)]
	}
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

func (p *treeIndexParser) u32() uint32 {
	b := p.take(4)
	if p.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (p *treeIndexParser) u64() uint64 {
	b := p.take(8)
	if p.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// WriteExtensionFile writes a file of arbor's own under the repository
// (rel starts with extensions/arbor/), atomically.
func (r *Repo) WriteExtensionFile(rel string, data []byte) error {
	return r.writeExtensionFile(rel, data, r.fsync)
}

// KeepExtensionFile writes a client's copy of a file of arbor's own that
// is checked whenever it is read (a remote's tree index), atomically but
// not synced: after a crash it is whole, or missing, or refused by that
// check and fetched again; no byte of it is trusted for being on disk,
// and an install does not wait for the disk to say it is there.
func (r *Repo) KeepExtensionFile(rel string, data []byte) error {
	return r.writeExtensionFile(rel, data, false)
}

func (r *Repo) writeExtensionFile(rel string, data []byte, sync bool) error {
	if !strings.HasPrefix(filepath.Clean(rel), "extensions/arbor/") {
		return fmt.Errorf("%s: not an arbor extension file", rel)
	}
	return r.writeFile(rel, data, sync)
}

// WriteFile writes a file the repository publishes beside its objects
// (rel, a clean relative path: deltas/, delta-indexes/, extensions/),
// atomically and synced as the repository's config says. Its directory
// is made if missing and must be reached without a symlink: nothing is
// written outside the repository.
func (r *Repo) WriteFile(rel string, data []byte) error {
	return r.writeFile(rel, data, r.fsync)
}

func (r *Repo) writeFile(rel string, data []byte, sync bool) error {
	fd, err := r.parentBeneath(rel)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return atomic.WriteFile(filepath.Join(r.path, rel), data, 0o644, sync)
}

// parentBeneath opens the directory that holds rel, a clean path inside
// the repository, making it if missing; it must be reached without a
// symlink, so nothing made there is outside the repository. It is open
// for reading, so that it can be synced too.
func (r *Repo) parentBeneath(rel string) (int, error) {
	if filepath.IsAbs(rel) || filepath.Clean(rel) != rel || strings.HasPrefix(rel, "..") {
		return -1, fmt.Errorf("%s: not a clean path inside the repository", rel)
	}
	dir := filepath.Dir(rel)
	if err := os.MkdirAll(filepath.Join(r.path, dir), 0o755); err != nil {
		return -1, err
	}
	root, err := unix.Open(r.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", r.path, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, dir, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, fmt.Errorf("%s: %w (a symlink on the way is refused)", filepath.Join(r.path, dir), err)
	}
	return fd, nil
}

// MkdirTemp makes a new directory of mode 0755 in the repository's tmp/,
// reached without a symlink, and returns its path inside the
// repository: a tree to write aside and then PutDir in place.
func (r *Repo) MkdirTemp(prefix string) (string, error) {
	fd, err := r.parentBeneath(filepath.Join("tmp", prefix))
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	for {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36)
		err := unix.Mkdirat(fd, name, 0o755)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err == nil {
			err = unix.Fchmodat(fd, name, 0o755, 0) // whatever the umask: served as the rest
		}
		if err != nil {
			return "", fmt.Errorf("making a directory in %s: %w", filepath.Join(r.path, "tmp"), err)
		}
		return filepath.Join("tmp", name), nil
	}
}

// PutDir puts the directory tmp, made by the caller inside the
// repository, at rel in one rename: a directory already at rel is
// exchanged for it, then removed, so that a reader finds the one or the
// other whole, never a mix of the two. Both paths are inside the
// repository, their directories reached without symlinks.
func (r *Repo) PutDir(tmp, rel string) error {
	from, err := r.parentBeneath(tmp)
	if err != nil {
		return err
	}
	defer unix.Close(from)
	to, err := r.parentBeneath(rel)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	a, b := filepath.Base(tmp), filepath.Base(rel)
	err = unix.Renameat2(from, a, to, b, unix.RENAME_EXCHANGE)
	old := tmp // where the one replaced is, to remove
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT):
		old = ""
		if err := unix.Renameat(from, a, to, b); err != nil {
			return fmt.Errorf("moving %s into place: %w", rel, err)
		}
	case errors.Is(err, unix.EINVAL):
		// A filesystem without the exchange (overlayfs): the old one
		// goes aside first, so rel is briefly absent, never a mix.
		old = tmp + ".old"
		if err := unix.Renameat(to, b, from, filepath.Base(old)); errors.Is(err, unix.ENOENT) {
			old = "" // there was none
		} else if err != nil {
			return fmt.Errorf("moving the old %s aside: %w", rel, err)
		}
		if err := unix.Renameat(from, a, to, b); err != nil {
			return fmt.Errorf("moving %s into place: %w", rel, err)
		}
	default:
		return fmt.Errorf("replacing %s: %w", rel, err)
	}
	if r.fsync {
		if err := unix.Fsync(to); err != nil {
			return fmt.Errorf("syncing %s: %w", filepath.Join(r.path, filepath.Dir(rel)), err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(r.path, old)); err != nil {
			return fmt.Errorf("removing the %s it replaced: %w", rel, err)
		}
	}
	return nil
}

// Signer signs bytes (a detached OpenPGP signature).
type Signer func(data []byte) ([]byte, error)

// WriteTreeIndexes writes the tree index of every ref's commit that has
// none yet, for clients that mount them, and signs with each signer every
// index that has no signature yet.
func (r *Repo) WriteTreeIndexes(ctx context.Context, signers ...Signer) error {
	all, err := r.Refs()
	if err != nil {
		return err
	}
	done := map[object.Checksum]bool{}
	for _, name := range refs.SortedNames(all) {
		c := all[name]
		if done[c] || r.IsPartial(c) {
			continue
		}
		done[c] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(r.path, TreeIndexPath(c))
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			if b, err = r.buildTreeIndex(ctx, r, c); err != nil {
				return fmt.Errorf("tree index of %s (ref %s): %w", c, name, err)
			}
			// The signature first: an index is never published unsigned
			// by a publisher who signs.
			if err := r.signTreeIndex(c, b, signers, true); err != nil {
				return err
			}
			if err := r.WriteExtensionFile(TreeIndexPath(c), b); err != nil {
				return fmt.Errorf("writing the tree index of %s: %w", c, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the tree index of %s: %w", c, err)
		}
		if err := r.signTreeIndex(c, b, signers, false); err != nil {
			return err
		}
	}
	return nil
}

// signTreeIndex writes the signatures of an index; replace says to write
// them over an existing file (an index being written anew), otherwise an
// index already signed is left alone.
func (r *Repo) signTreeIndex(c object.Checksum, b []byte, signers []Signer, replace bool) error {
	if len(signers) == 0 {
		return nil
	}
	sp := filepath.Join(r.path, TreeIndexSigPath(c))
	if _, err := os.Stat(sp); err == nil && !replace {
		return nil
	}
	var sig []byte
	for _, s := range signers {
		one, err := s(b)
		if err != nil {
			return fmt.Errorf("signing the tree index of %s: %w", c, err)
		}
		if sig, err = AppendSignature(sig, one); err != nil {
			return err
		}
	}
	if err := r.WriteExtensionFile(TreeIndexSigPath(c), sig); err != nil {
		return fmt.Errorf("writing the signature of the tree index of %s: %w", c, err)
	}
	return nil
}
