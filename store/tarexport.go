package store

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"arbor/store/object"
)

// ExportOptions select what of a commit ExportTar writes.
type ExportOptions struct {
	Subpath  string // the directory (or file) of the commit to write; "" for all
	Prefix   string // prepended to every name in the archive
	NoXattrs bool
}

// ExportTar writes a commit's tree to w as a tar stream: owners, modes
// and (as PAX records) xattrs as committed, every time the commit's.
func (r *Repo) ExportTar(ctx context.Context, commit object.Checksum, w io.Writer, opts ExportOptions) error {
	c, err := r.ReadCommit(commit)
	if err != nil {
		return err
	}
	n, err := r.Lookup(commit, opts.Subpath)
	if err != nil {
		return err
	}
	mtime := time.Unix(int64(c.Timestamp), 0)
	tw := tar.NewWriter(w)
	ex := exporter{ctx: ctx, r: r, tw: tw, mtime: mtime, noXattrs: opts.NoXattrs}
	if n.IsDir {
		root := opts.Prefix
		if root == "" {
			root = "./"
		}
		if err := ex.dir(n.Tree, n.Meta, strings.TrimSuffix(root, "/")+"/", opts.Prefix); err != nil {
			return err
		}
	} else if err := ex.file(n.File, opts.Prefix+path.Base(n.Path)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

type exporter struct {
	ctx      context.Context
	r        *Repo
	tw       *tar.Writer
	mtime    time.Time
	noXattrs bool
}

func (ex *exporter) pax(xs []object.Xattr) map[string]string {
	if ex.noXattrs || len(xs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, x := range xs {
		m["SCHILY.xattr."+x.Name] = string(x.Value)
	}
	return m
}

// dir writes the directory entry name, then its children under prefix.
func (ex *exporter) dir(tree, meta object.Checksum, name, prefix string) error {
	if err := ex.ctx.Err(); err != nil {
		return err
	}
	dm, err := ex.r.ReadDirMeta(meta)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	h := &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: int64(dm.Mode & 0o7777),
		Uid: int(dm.UID), Gid: int(dm.GID), ModTime: ex.mtime, PAXRecords: ex.pax(dm.Xattrs)}
	if err := ex.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	t, err := ex.r.ReadDirTree(tree)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	for _, f := range t.Files {
		if err := ex.file(f.Checksum, prefix+f.Name); err != nil {
			return err
		}
	}
	for _, d := range t.Dirs {
		if err := ex.dir(d.Tree, d.Meta, prefix+d.Name+"/", prefix+d.Name+"/"); err != nil {
			return err
		}
	}
	return nil
}

func (ex *exporter) file(c object.Checksum, name string) error {
	ct, err := ex.r.OpenContent(c)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	defer ct.Close()
	fh := ct.Header
	h := &tar.Header{Name: name, Mode: int64(fh.Mode & 0o7777), Uid: int(fh.UID), Gid: int(fh.GID),
		ModTime: ex.mtime, PAXRecords: ex.pax(fh.Xattrs)}
	if fh.IsSymlink() {
		h.Typeflag, h.Linkname = tar.TypeSymlink, fh.Target
		if err := ex.tw.WriteHeader(h); err != nil {
			return fmt.Errorf("export %s: %w", name, err)
		}
		return nil
	}
	h.Typeflag, h.Size = tar.TypeReg, int64(ct.Size)
	if err := ex.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	if _, err := io.Copy(ex.tw, ct); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	return nil
}
