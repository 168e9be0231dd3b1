package store

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"arbor/store/index"
	"arbor/store/object"
)

// TarOptions are how archive entries become a tree.
type TarOptions struct {
	// AutocreateParents makes missing parent directories (mode 0755,
	// owned by the owner options or root) instead of failing.
	AutocreateParents bool
	// PathFilter rewrites each entry's relative path before it is placed.
	PathFilter *PathFilter
}

// PathFilter is a REGEX,REPLACEMENT rewrite of archive paths; the
// replacement may name groups as \1.
type PathFilter struct {
	re   *regexp.Regexp
	repl string
}

// ParsePathFilter parses "REGEX,REPLACEMENT".
func ParsePathFilter(s string) (*PathFilter, error) {
	expr, repl, ok := strings.Cut(s, ",")
	if !ok {
		return nil, fmt.Errorf("invalid path filter %q: want REGEX,REPLACEMENT", s)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid path filter %q: %w", s, err)
	}
	// GLib's \N back references in Go's ${N} spelling; a literal $ stays.
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		switch {
		case repl[i] == '$':
			b.WriteString("$$")
		case repl[i] == '\\' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			b.WriteString("${" + string(repl[i+1]) + "}")
			i++
		case repl[i] == '\\' && i+1 < len(repl):
			b.WriteByte(repl[i+1])
			i++
		default:
			b.WriteByte(repl[i])
		}
	}
	return &PathFilter{re: re, repl: b.String()}, nil
}

// Apply rewrites p.
func (f *PathFilter) Apply(p string) string {
	if f == nil {
		return p
	}
	return f.re.ReplaceAllString(p, f.repl)
}

// archiveEntry is one entry of a tar or cpio archive.
type archiveEntry struct {
	name     string
	mode     uint32 // type and permission bits, as stat
	uid, gid uint32
	link     string // hardlink target (archive name)
	target   string // symlink target
	size     int64
	xattrs   []object.Xattr
	body     io.Reader
}

// archiveReader yields entries until io.EOF.
type archiveReader interface {
	next() (*archiveEntry, error)
}

// openArchive detects compression (gzip, xz, bzip2, zstd or none) and
// format (tar or cpio newc) of r.
func openArchive(r io.Reader) (archiveReader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	var dec io.Reader = br
	closer := func() {}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		dec = z
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz: %w", err)
		}
		dec = z
	case bytes.HasPrefix(magic, []byte("BZh")):
		dec = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		dec, closer = z, z.Close
	}
	db := bufio.NewReaderSize(dec, 64<<10)
	m, _ := db.Peek(6)
	if string(m) == "070701" || string(m) == "070702" {
		return &cpioReader{r: db}, closer, nil
	}
	return tarReader{tar.NewReader(db)}, closer, nil
}

type tarReader struct{ t *tar.Reader }

func (t tarReader) next() (*archiveEntry, error) {
	h, err := t.t.Next()
	if err != nil {
		return nil, err
	}
	e := &archiveEntry{name: h.Name, uid: uint32(h.Uid), gid: uint32(h.Gid), size: h.Size, body: t.t,
		mode: uint32(h.Mode) & 0o7777}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		e.mode |= object.ModeRegular
	case tar.TypeDir:
		e.mode |= object.ModeDir
	case tar.TypeSymlink:
		e.mode |= object.ModeSymlink
		e.target, e.size = h.Linkname, 0
	case tar.TypeLink:
		e.link, e.size = h.Linkname, 0
	case tar.TypeChar:
		e.mode |= 0o020000
	case tar.TypeBlock:
		e.mode |= 0o060000
	case tar.TypeFifo:
		e.mode |= 0o010000
	default:
		return nil, fmt.Errorf("%s: unsupported tar entry type %q", h.Name, h.Typeflag)
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			e.xattrs = append(e.xattrs, object.Xattr{Name: name, Value: []byte(v)})
		}
		// bsdtar's spelling: the name URL-encoded, the value base64.
		if enc, ok := strings.CutPrefix(k, "LIBARCHIVE.xattr."); ok {
			name, err := url.PathUnescape(enc)
			if err != nil {
				return nil, fmt.Errorf("%s: xattr name %q: %w", h.Name, enc, err)
			}
			if _, dup := h.PAXRecords["SCHILY.xattr."+name]; dup {
				continue
			}
			val, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("%s: xattr %s: %w", h.Name, name, err)
			}
			e.xattrs = append(e.xattrs, object.Xattr{Name: name, Value: val})
		}
	}
	return e, nil
}

// cpioReader reads the "new" ASCII cpio format (newc, and crc).
type cpioReader struct {
	r    *bufio.Reader
	off  int64
	body *io.LimitedReader
	pad  int64
	// links are the names of hardlinked files whose data is yet to come
	// (cpio writes it with the last name only), by inode.
	seen map[[3]uint64]string
}

func (c *cpioReader) skip(n int64) error {
	m, err := io.CopyN(io.Discard, c.r, n)
	c.off += m
	return err
}

func (c *cpioReader) next() (*archiveEntry, error) {
	if c.body != nil {
		// c.off counted the body and its padding already.
		if _, err := io.CopyN(io.Discard, c.r, c.body.N+c.pad); err != nil {
			return nil, fmt.Errorf("cpio: %w", io.ErrUnexpectedEOF)
		}
		c.body = nil
	}
	var hdr [110]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("cpio header: %w", io.ErrUnexpectedEOF)
	}
	c.off += 110
	if m := string(hdr[:6]); m != "070701" && m != "070702" {
		return nil, fmt.Errorf("cpio: bad header magic %q", m)
	}
	var f [13]uint64
	for i := range f {
		var v uint64
		for _, ch := range hdr[6+8*i : 14+8*i] {
			var d byte
			switch {
			case ch >= '0' && ch <= '9':
				d = ch - '0'
			case ch >= 'a' && ch <= 'f':
				d = ch - 'a' + 10
			case ch >= 'A' && ch <= 'F':
				d = ch - 'A' + 10
			default:
				return nil, fmt.Errorf("cpio: bad header field %q", hdr[6+8*i:14+8*i])
			}
			v = v<<4 | uint64(d)
		}
		f[i] = v
	}
	ino, mode, uid, gid, nlink, size, devMaj, devMin, nameSize := f[0], f[1], f[2], f[3], f[4], f[6], f[7], f[8], f[11]
	if nameSize == 0 || nameSize > 1<<16 {
		return nil, fmt.Errorf("cpio: bad name size %d", nameSize)
	}
	name := make([]byte, nameSize)
	if _, err := io.ReadFull(c.r, name); err != nil {
		return nil, fmt.Errorf("cpio: %w", io.ErrUnexpectedEOF)
	}
	c.off += int64(nameSize)
	if err := c.skip((4 - c.off%4) % 4); err != nil {
		return nil, fmt.Errorf("cpio: %w", io.ErrUnexpectedEOF)
	}
	n := strings.TrimRight(string(name), "\x00")
	if n == "TRAILER!!!" {
		return nil, io.EOF
	}
	e := &archiveEntry{name: n, mode: uint32(mode), uid: uint32(uid), gid: uint32(gid), size: int64(size)}
	c.body = &io.LimitedReader{R: c.r, N: int64(size)}
	c.pad = (4 - (c.off+int64(size))%4) % 4
	c.off += int64(size) + c.pad
	e.body = c.body
	switch e.mode & object.ModeTypeMask {
	case object.ModeSymlink:
		if size > 4096 {
			return nil, fmt.Errorf("%s: symlink target too long", n)
		}
		t, err := io.ReadAll(c.body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		e.target, e.size = string(t), 0
	case object.ModeRegular:
		if nlink > 1 {
			key := [3]uint64{devMaj, devMin, ino}
			if c.seen == nil {
				c.seen = map[[3]uint64]string{}
			}
			// The first name of a linked inode is the file; the others link
			// to it. Data comes with whichever name carries it.
			if first, ok := c.seen[key]; ok {
				// Data that arrives with a later name is every name's.
				e.link = first
			} else {
				c.seen[key] = n
			}
		}
	}
	return e, nil
}

// archiveNode is a directory or file being built from an archive.
type archiveNode struct {
	dir      bool
	meta     object.DirMeta
	file     object.Checksum
	children map[string]*archiveNode
	// header is shared by the names of one hardlinked file, so data
	// that comes late (cpio) replaces the file under all of them.
	header *object.FileHeader
}

// relArchivePath is an archive name relative to the tree's root, without
// leading "/" and "./".
func relArchivePath(name string) string {
	for {
		switch {
		case strings.HasPrefix(name, "/"):
			name = name[1:]
		case strings.HasPrefix(name, "./"):
			name = name[2:]
		case name == ".":
			name = ""
		default:
			return name
		}
	}
}

// tarSource commits an archive's entries as a tree.
func (cm *committer) tarSource(src TreeSource) (object.Checksum, object.Checksum, error) {
	in := src.TarReader
	if in == nil {
		f, err := os.Open(src.Tar)
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("commit: %w", err)
		}
		defer f.Close()
		in = f
	}
	ar, closer, err := openArchive(in)
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
	}
	defer closer()
	var root *archiveNode
	byPath := map[string]*archiveNode{} // files, for hardlinks
	dirMeta := func(mode, uid, gid uint32, xs []object.Xattr) object.DirMeta {
		dm := object.DirMeta{Mode: cm.canonical(mode)}
		dm.UID, dm.GID = cm.owner(uid, gid)
		if !cm.opts.NoXattrs {
			dm.Xattrs = xs
		}
		return dm
	}
	autoDir := func() *archiveNode {
		return &archiveNode{dir: true, meta: dirMeta(object.ModeDir|0o755, 0, 0, nil), children: map[string]*archiveNode{}}
	}
	// parent finds (or with AutocreateParents makes) the directory of p.
	parent := func(name, p string) (*archiveNode, error) {
		if root == nil {
			if !src.Options.AutocreateParents {
				return nil, fmt.Errorf("%s: no root directory entry before it in the archive", name)
			}
			root = autoDir()
		}
		n := root
		dir := path.Dir(p)
		if dir == "." {
			return n, nil
		}
		for _, part := range strings.Split(dir, "/") {
			c, ok := n.children[part]
			switch {
			case !ok && src.Options.AutocreateParents:
				c = autoDir()
				n.children[part] = c
			case !ok:
				return nil, fmt.Errorf("%s: parent directory %s is not in the archive before it", name, dir)
			case !c.dir:
				return nil, fmt.Errorf("%s: parent %s is not a directory", name, part)
			}
			n = c
		}
		return n, nil
	}
	for {
		if err := cm.ctx.Err(); err != nil {
			return object.Zero, object.Zero, err
		}
		e, err := ar.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
		}
		p, err := cleanArchivePath(e.name, src.Options.PathFilter)
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
		}
		cp := "/" + p
		if cm.opts.Skip[cp] || (p != "" && underSkipped(cm.opts.Skip, cp)) {
			continue
		}
		mode := cm.withAdded(cp, e.mode)
		if p == "" {
			if e.link != "" || mode&object.ModeTypeMask != object.ModeDir {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %s: the root is not a directory", src, e.name)
			}
			if root == nil {
				root = &archiveNode{dir: true, children: map[string]*archiveNode{}}
			}
			root.meta = dirMeta(mode, e.uid, e.gid, e.xattrs)
			continue
		}
		par, err := parent(e.name, p)
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
		}
		base := path.Base(p)
		if err := object.ValidateName(base); err != nil {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %s: %w", src, e.name, err)
		}
		old := par.children[base]
		if e.link != "" {
			lp, err := cleanArchivePath(e.link, src.Options.PathFilter)
			if err != nil {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %s: hardlink: %w", src, e.name, err)
			}
			target, ok := byPath[lp]
			if !ok {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %s: hardlink to %s, which is not in the archive before it", src, e.name, e.link)
			}
			if e.size > 0 { // cpio: the data of every name comes last
				c, h, err := cm.archiveFile(e, mode|object.ModeRegular, cp)
				if err != nil {
					return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
				}
				was := target.header
				for _, n := range byPath {
					if n.header == was {
						n.file = c
						n.header = h
					}
				}
				target = &archiveNode{file: c, header: h}
			}
			if old != nil && old.dir {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: can't replace directory with file: %s", src, cp)
			}
			n := &archiveNode{file: target.file, header: target.header}
			par.children[base] = n
			byPath[p] = n
			continue
		}
		switch mode & object.ModeTypeMask {
		case object.ModeDir:
			if old != nil && !old.dir {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: can't replace file with directory: %s", src, cp)
			}
			if old == nil {
				old = &archiveNode{dir: true, children: map[string]*archiveNode{}}
				par.children[base] = old
			}
			old.meta = dirMeta(mode, e.uid, e.gid, e.xattrs)
		case object.ModeRegular, object.ModeSymlink:
			if old != nil && old.dir {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: can't replace directory with file: %s", src, cp)
			}
			c, h, err := cm.archiveFile(e, mode, cp)
			if err != nil {
				return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
			}
			n := &archiveNode{file: c, header: h}
			par.children[base] = n
			byPath[p] = n
		default:
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, unsupported(e.name, modeType(mode)))
		}
	}
	if root == nil {
		if !src.Options.AutocreateParents {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: the archive has no root directory", src)
		}
		root = autoDir()
	}
	return cm.writeArchiveDir(root)
}

// underSkipped reports whether a parent of cp is skipped.
func underSkipped(skip map[string]bool, cp string) bool {
	for d := path.Dir(cp); d != "/"; d = path.Dir(d) {
		if skip[d] {
			return true
		}
	}
	return false
}

// cleanArchivePath is an entry's path in the tree ("" for the root),
// refusing names that climb out of it.
func cleanArchivePath(name string, filter *PathFilter) (string, error) {
	// Archives' own leading "/" and "./" are dropped, as tar does; a
	// filter that makes a name absolute is refused.
	p := filter.Apply(relArchivePath(name))
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s: absolute path %s after the path filter", name, p)
	}
	p = relArchivePath(strings.TrimRight(p, "/"))
	if p == "" {
		return "", nil
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%s: path climbs out of the tree", name)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// archiveFile writes one regular file or symlink from an archive.
func (cm *committer) archiveFile(e *archiveEntry, mode uint32, cp string) (object.Checksum, *object.FileHeader, error) {
	cm.files.Add(1)
	h := &object.FileHeader{Mode: cm.canonical(mode)}
	h.UID, h.GID = cm.owner(e.uid, e.gid)
	if !cm.opts.NoXattrs && len(e.xattrs) > 0 {
		h.Xattrs = append([]object.Xattr(nil), e.xattrs...)
		object.SortXattrs(h.Xattrs)
	}
	if mode&object.ModeTypeMask == object.ModeSymlink {
		h.Mode = object.ModeSymlink | 0o777
		if cm.t.r.mode != ModeBareUserOnly && !cm.opts.CanonicalModes {
			h.Mode = mode
		}
		h.Target = e.target
		if h.Target == "" {
			return object.Zero, nil, fmt.Errorf("%s: symlink with an empty target", e.name)
		}
		c := object.ContentChecksum(h, nil)
		// A symlink's unpacked size is its target's length, as stat's.
		cm.addFile(c, int64(len(h.Target)))
		return c, h, cm.t.writeContent(c, h, contentSource{})
	}
	var c object.Checksum
	src := contentSource{size: e.size}
	if e.size <= smallFile {
		buf := make([]byte, e.size)
		if _, err := io.ReadFull(e.body, buf); err != nil {
			return object.Zero, nil, fmt.Errorf("reading %s: %w", e.name, err)
		}
		src.data = buf
		c = object.ContentChecksum(h, buf)
	} else {
		// Large files are spooled, hashed on the way, then written from
		// the spool once their checksum is known.
		tmp, err := os.CreateTemp(filepath.Join(cm.t.r.path, "tmp"), "archive-")
		if err != nil {
			return object.Zero, nil, fmt.Errorf("%s: %w", e.name, err)
		}
		defer tmp.Close()
		os.Remove(tmp.Name())
		hs := object.NewContentHash(h)
		n, err := io.Copy(io.MultiWriter(tmp, hs), e.body)
		if err != nil || n != e.size {
			return object.Zero, nil, fmt.Errorf("reading %s: %w", e.name, io.ErrUnexpectedEOF)
		}
		c = object.SumHash(hs)
		src.fd = int(tmp.Fd())
	}
	cm.bytes.Add(e.size)
	cm.addFile(c, e.size)
	if err := cm.t.writeContent(c, h, src); err != nil {
		return object.Zero, nil, fmt.Errorf("%s: %w", cp, err)
	}
	return c, h, nil
}

// writeArchiveDir writes the dirtrees and dirmetas of n, depth first.
func (cm *committer) writeArchiveDir(n *archiveNode) (object.Checksum, object.Checksum, error) {
	var t object.DirTree
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		if !c.dir {
			t.Files = append(t.Files, object.FileEntry{Name: name, Checksum: c.file})
			continue
		}
		tc, mc, err := cm.writeArchiveDir(c)
		if err != nil {
			return object.Zero, object.Zero, err
		}
		t.Dirs = append(t.Dirs, object.DirEntry{Name: name, Tree: tc, Meta: mc})
	}
	if n.meta.Mode == 0 {
		n.meta = object.DirMeta{Mode: object.ModeDir | 0o755}
		n.meta.UID, n.meta.GID = cm.owner(0, 0)
	}
	object.SortXattrs(n.meta.Xattrs)
	tc, err := cm.writeTree(t)
	if err != nil {
		return object.Zero, object.Zero, err
	}
	mc, err := cm.t.WriteMeta(object.TypeDirMeta, n.meta.Marshal())
	if err != nil {
		return object.Zero, object.Zero, err
	}
	cm.addReach(index.Ref{Checksum: tc, Type: object.TypeDirTree})
	cm.addReach(index.Ref{Checksum: mc, Type: object.TypeDirMeta})
	return tc, mc, nil
}
