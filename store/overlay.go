package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"

	"arbor/store/object"
)

// TreeSource is one tree a commit is made of, as ostree's --tree: a
// directory (dir=PATH) or a commit's root (ref=REV, resolved by the
// caller). Later sources overlay earlier ones: a file replaces a file of
// the same path, directories merge, and a directory's metadata is the
// last source's that has it.
type TreeSource struct {
	Dir    string
	Commit object.Checksum // when Dir and Tar are empty
	// AsIs takes the commit's tree unchanged by the commit's ownership,
	// xattr and mode options (ostree's --base); otherwise they apply
	// to it as to a directory.
	AsIs bool
	// Tar is a tar or cpio archive (tar=PATH), compressed or not; "-"
	// with TarReader set reads it from there.
	Tar       string
	TarReader io.Reader
	Options   TarOptions
}

func (s TreeSource) String() string {
	if s.Dir != "" {
		return "dir=" + s.Dir
	}
	if s.Tar != "" {
		return "tar=" + s.Tar
	}
	return "ref=" + s.Commit.String()
}

// source commits or reads one source's root dirtree and dirmeta.
func (cm *committer) source(src TreeSource) (object.Checksum, object.Checksum, error) {
	if src.Tar != "" {
		return cm.tarSource(src)
	}
	if src.Dir == "" {
		c, err := cm.t.r.ReadCommit(src.Commit)
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("--tree=%s: %w", src, err)
		}
		if cm.modifies() && !src.AsIs {
			return cm.rewriteTree("/", c.RootTree, c.RootMeta)
		}
		return c.RootTree, c.RootMeta, nil
	}
	d, err := os.Open(src.Dir)
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("commit: %w", err)
	}
	defer d.Close()
	cm.root = src.Dir
	return cm.dir(d, src.Dir, "/")
}

// readTree is a dirtree this commit wrote, or one already stored.
func (cm *committer) readTree(c object.Checksum) (object.DirTree, error) {
	cm.mu.Lock()
	t, ok := cm.trees[c]
	cm.mu.Unlock()
	if ok {
		return t, nil
	}
	return cm.t.r.ReadDirTree(c)
}

// overlay merges tree over base at p and writes what changed.
func (cm *committer) overlay(p string, base, over object.Checksum) (object.Checksum, error) {
	if err := cm.ctx.Err(); err != nil {
		return object.Zero, err
	}
	if base == over {
		return over, nil
	}
	b, err := cm.readTree(base)
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	o, err := cm.readTree(over)
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	files := map[string]object.FileEntry{}
	dirs := map[string]object.DirEntry{}
	for _, f := range b.Files {
		files[f.Name] = f
	}
	for _, d := range b.Dirs {
		dirs[d.Name] = d
	}
	// As ostree's mutable tree, a file and a directory of one path clash.
	for _, f := range o.Files {
		if _, ok := dirs[f.Name]; ok {
			return object.Zero, fmt.Errorf("can't replace directory with file: %s", path.Join(p, f.Name))
		}
		files[f.Name] = f
	}
	for _, d := range o.Dirs {
		if _, ok := files[d.Name]; ok {
			return object.Zero, fmt.Errorf("can't replace file with directory: %s", path.Join(p, d.Name))
		}
		if old, ok := dirs[d.Name]; ok {
			t, err := cm.overlay(path.Join(p, d.Name), old.Tree, d.Tree)
			if err != nil {
				return object.Zero, err
			}
			d.Tree = t
		}
		dirs[d.Name] = d
	}
	var t object.DirTree
	for _, f := range files {
		t.Files = append(t.Files, f)
	}
	for _, d := range dirs {
		t.Dirs = append(t.Dirs, d)
	}
	return cm.writeTree(t)
}

// writeTree writes a dirtree, kept for overlays when there are any.
func (cm *committer) writeTree(t object.DirTree) (object.Checksum, error) {
	c, err := cm.t.WriteMeta(object.TypeDirTree, t.Marshal())
	if err != nil {
		return object.Zero, err
	}
	if cm.trees != nil {
		cm.mu.Lock()
		cm.trees[c] = t
		cm.mu.Unlock()
	}
	return c, nil
}

// kernelVersion finds the one directory of the committed tree's
// usr/lib/modules that holds a vmlinuz, as ostree's --bootable does.
func (cm *committer) kernelVersion(root object.Checksum) (string, error) {
	t := root
	for _, name := range []string{"usr", "lib", "modules"} {
		dt, err := cm.readTree(t)
		if err != nil {
			return "", err
		}
		i := sort.Search(len(dt.Dirs), func(i int) bool { return dt.Dirs[i].Name >= name })
		if i == len(dt.Dirs) || dt.Dirs[i].Name != name {
			return "", errors.New("opening usr/lib/modules: No such file or directory") // the C library's words, as ostree says it
		}
		t = dt.Dirs[i].Tree
	}
	modules, err := cm.readTree(t)
	if err != nil {
		return "", err
	}
	var found string
	for _, d := range modules.Dirs {
		dt, err := cm.readTree(d.Tree)
		if err != nil {
			return "", err
		}
		has := false
		for _, f := range dt.Files {
			has = has || f.Name == "vmlinuz"
		}
		for _, s := range dt.Dirs {
			has = has || s.Name == "vmlinuz"
		}
		if !has {
			continue
		}
		if found != "" {
			return "", fmt.Errorf("multiple kernels found in /usr/lib/modules: %s and %s", found, d.Name)
		}
		found = d.Name
	}
	if found == "" {
		return "", errors.New("no kernel found in /usr/lib/modules")
	}
	return found, nil
}
