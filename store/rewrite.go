package store

import (
	"fmt"
	"io"
	"path"
	"slices"

	"arbor/store/index"
	"arbor/store/object"
)

// modifies reports whether the commit's options change the files they
// take in (ownership, xattrs, modes): a commit's tree given as a source is
// then rewritten with them, as a directory is, instead of taken whole.
func (cm *committer) modifies() bool {
	o := cm.opts
	return o.OwnerUID >= 0 || o.OwnerGID >= 0 || o.NoXattrs || o.CanonicalModes || o.ModeRoExecutables ||
		cm.t.r.mode == ModeBareUserOnly
}

// fileMode is a file's mode as this commit records it.
func (cm *committer) fileMode(mode uint32) uint32 {
	mode = cm.canonical(mode)
	if cm.opts.ModeRoExecutables && mode&object.ModeTypeMask == object.ModeRegular && mode&0o100 != 0 {
		mode &^= 0o222
	}
	return mode
}

// rewriteTree writes the tree at p (a dirtree and its dirmeta already
// stored) again with the commit's modifications, and returns the new
// checksums; what they leave as it was keeps its checksum.
func (cm *committer) rewriteTree(p string, tree, meta object.Checksum) (object.Checksum, object.Checksum, error) {
	if err := cm.ctx.Err(); err != nil {
		return object.Zero, object.Zero, err
	}
	mb, err := cm.t.ReadMeta(index.Ref{Checksum: meta, Type: object.TypeDirMeta})
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	dm, err := object.ParseDirMeta(mb)
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	dm.Mode = cm.canonical(dm.Mode)
	dm.UID, dm.GID = cm.owner(dm.UID, dm.GID)
	if cm.opts.NoXattrs {
		dm.Xattrs = nil
	}
	newMeta, err := cm.t.WriteMeta(object.TypeDirMeta, dm.Marshal())
	if err != nil {
		return object.Zero, object.Zero, err
	}
	cm.addReach(index.Ref{Checksum: newMeta, Type: object.TypeDirMeta})
	t, err := cm.readTree(tree)
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	var out object.DirTree
	for _, f := range t.Files {
		c, err := cm.rewriteFile(path.Join(p, f.Name), f.Checksum)
		if err != nil {
			return object.Zero, object.Zero, err
		}
		out.Files = append(out.Files, object.FileEntry{Name: f.Name, Checksum: c})
	}
	for _, d := range t.Dirs {
		st, sm, err := cm.rewriteTree(path.Join(p, d.Name), d.Tree, d.Meta)
		if err != nil {
			return object.Zero, object.Zero, err
		}
		out.Dirs = append(out.Dirs, object.DirEntry{Name: d.Name, Tree: st, Meta: sm})
	}
	newTree, err := cm.writeTree(out)
	if err != nil {
		return object.Zero, object.Zero, err
	}
	cm.addReach(index.Ref{Checksum: newTree, Type: object.TypeDirTree})
	return newTree, newMeta, nil
}

// rewriteFile stores the content object c with the commit's
// modifications to its header, and returns its checksum then.
func (cm *committer) rewriteFile(p string, c object.Checksum) (object.Checksum, error) {
	cm.files.Add(1)
	ct, err := cm.t.OpenContent(c)
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	h := ct.Header
	h.Xattrs = slices.Clone(h.Xattrs)
	h.Mode = cm.fileMode(h.Mode)
	h.UID, h.GID = cm.owner(h.UID, h.GID)
	if cm.opts.NoXattrs {
		h.Xattrs = nil
	}
	hs := object.NewContentHash(&h)
	_, err = io.Copy(hs, ct)
	ct.Close()
	if err != nil {
		return object.Zero, fmt.Errorf("reading %s: %w", p, err)
	}
	nc := object.SumHash(hs)
	cm.bytes.Add(int64(ct.Size))
	cm.addReach(index.Ref{Checksum: nc, Type: object.TypeFile})
	if nc == c {
		return c, nil
	}
	// A second read streams what was hashed into the new object.
	ct, err = cm.t.OpenContent(c)
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	defer ct.Close()
	if err := cm.t.writeContent(nc, &h, contentSource{stream: ct, size: int64(ct.Size)}); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	return nc, nil
}
