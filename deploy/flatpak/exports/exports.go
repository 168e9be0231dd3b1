// Package exports makes what an installed app shows the desktop (its
// desktop files, D-Bus services, search providers, icons and AppStream
// data) out of the export/ tree of its commit, which is the app's to
// write and so untrusted: the tree is walked where it is stored, only
// into the allowed directories, within limits checked before anything is
// written; no link is followed; only allowed names are exported; and
// every file that can start a program is rewritten so that it starts the
// app through arbor's sandbox, then checked as its reader will read it.
package exports

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"arbor/store/atomic"
)

// Limits on what one app exports.
const (
	MaxFileBytes  = 4 << 20  // one file
	MaxTotalBytes = 64 << 20 // all its files
	MaxFiles      = 4096
	// MaxNames bounds the names looked at (files, links, directories,
	// exported or not) in the exported directories and on the way to
	// them: a few dirtrees that list each other can name millions.
	MaxNames = 4 * MaxFiles
	maxDepth = 8 // directories below share/icons
)

// Result is what Build made.
type Result struct {
	Files []string // the paths written, relative to dst, slash-separated, sorted
	// Warnings name what was left out that the app may have meant to
	// export: links and special files where exports are looked for.
	Warnings []string
}

// Build walks the export tree src and writes what is exported of it to
// dst (a new directory). The walk goes into the exported directories and
// those on the way to them only, and checks the limits as it goes: a
// tree over one fails before anything is written. A symbolic link or
// special file where exports are looked for is left out with a warning,
// never followed; a file outside the allowed directories and names is
// left out. An exported file that does not parse or validate as its kind
// fails the whole export with an error naming it.
func Build(ctx context.Context, src Source, dst string, l Launcher) (Result, error) {
	if err := l.check(); err != nil {
		return Result{}, err
	}
	p := &plan{id: l.ID, byRule: make([][]Entry, len(rules))}
	if err := src.Walk(ctx, p.visit); err != nil {
		return Result{}, err
	}
	b := &builder{dst: dst, l: l, services: map[string]bool{}, desktops: map[string]bool{}}
	for i, r := range rules {
		for _, e := range p.byRule[i] {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			if err := b.file(ctx, r, e); err != nil {
				return Result{}, err
			}
		}
	}
	sort.Strings(b.written)
	return Result{Files: b.written, Warnings: p.warnings()}, nil
}

// builder writes the files a plan chose, in the order of the rules.
type builder struct {
	dst      string
	l        Launcher
	services map[string]bool // bus names of the services exported
	desktops map[string]bool // file names of the desktop files exported
	written  []string
}

func (b *builder) file(ctx context.Context, r rule, e Entry) error {
	rel := e.Path()
	// The plan checked the size; the read holds the file to it.
	data, err := e.Read(ctx, e.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", treePath(rel), err)
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
		return fmt.Errorf("%s: %w", treePath(rel), err)
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
