// Package exports makes what an installed app shows the desktop (its
// desktop files, D-Bus services, search providers, icons and AppStream
// data) out of the export/ tree of its commit, which is the app's to
// write and so untrusted: files are read without following links and
// with bounded sizes, only allowed directories and names are exported,
// and every file that can start a program is rewritten so that it starts
// the app through arbor's sandbox, then checked as its reader will read
// it.
package exports

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/store/atomic"
)

// Limits on what one app exports.
const (
	MaxFileBytes  = 4 << 20  // one file
	MaxTotalBytes = 64 << 20 // all its files
	MaxFiles      = 4096
	maxDepth      = 8 // directories below share/icons
)

// Build reads the export tree at src and writes what is exported of it
// to dst (a new directory), returning the paths written, relative to dst
// and slash-separated. An exported file that is not a regular file, is
// too large, or does not parse or validate as its kind fails the whole
// export with an error naming it; a file outside the allowed directories
// and names is left out.
func Build(ctx context.Context, src, dst string, l Launcher) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	t, err := openTree(src, "export")
	if err != nil {
		return nil, err
	}
	defer t.close()
	b := &builder{ctx: ctx, t: t, dst: dst, l: l, services: map[string]bool{}, desktops: map[string]bool{}}
	for _, r := range rules {
		if err := b.dir(r, r.dir, 0); err != nil {
			return nil, err
		}
	}
	sort.Strings(b.written)
	return b.written, nil
}

type builder struct {
	ctx      context.Context
	t        *tree
	dst      string
	l        Launcher
	services map[string]bool // bus names of the services exported
	desktops map[string]bool // file names of the desktop files exported
	written  []string
	total    int64
}

// dir exports the allowed files of one directory of the tree.
func (b *builder) dir(r rule, rel string, depth int) error {
	ents, err := b.t.readDir(rel)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	for _, e := range ents {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		p := rel + "/" + e.name
		switch {
		case e.typ != unix.S_IFREG && e.typ != unix.S_IFDIR:
			return fmt.Errorf("%s: a symbolic link or special file in an exported directory; exports must be regular files", b.t.path(p))
		case e.typ == unix.S_IFDIR:
			if r.deep {
				if depth >= maxDepth {
					return fmt.Errorf("%s: more than %d directories deep", b.t.path(p), maxDepth)
				}
				if err := b.dir(r, p, depth+1); err != nil {
					return err
				}
			}
		case r.allows(e.name, b.l.ID):
			if err := b.file(r, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *builder) file(r rule, rel string) error {
	if len(b.written) == MaxFiles {
		return fmt.Errorf("%s: more than %d exported files", b.t.path(rel), MaxFiles)
	}
	data, err := b.t.readFile(rel, MaxFileBytes)
	if err != nil {
		return err
	}
	if b.total += int64(len(data)); b.total > MaxTotalBytes {
		return fmt.Errorf("%s: the exported files together are over the limit of %d bytes", b.t.path(rel), MaxTotalBytes)
	}
	name := path.Base(rel)
	switch r.kind {
	case desktopEntry:
		data, err = b.l.rewriteDesktop(data, strings.TrimSuffix(name, ".desktop"), b.services)
		b.desktops[name] = err == nil
	case dbusService:
		bus := strings.TrimSuffix(name, ".service")
		data, err = b.l.rewriteService(data, bus)
		b.services[bus] = err == nil
	case searchProvider:
		data, err = rewriteSearchProvider(data, b.l.ID, b.desktops)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", b.t.path(rel), err)
	}
	out := filepath.Join(b.dst, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := atomic.WriteFile(out, data, 0o644, false); err != nil {
		return err
	}
	b.written = append(b.written, rel)
	return nil
}
