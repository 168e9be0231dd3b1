package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/gpg"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// contentChecksum is ostree's "ContentChecksum": the root dirtree and
// dirmeta checksums hashed together, equal for commits of the same tree.
func contentChecksum(c *object.Commit) object.Checksum {
	return object.Sha256(append(append([]byte{}, c.RootTree[:]...), c.RootMeta[:]...))
}

type commitInfo struct {
	Commit          string            `json:"commit"`
	Parent          string            `json:"parent,omitempty"`
	ContentChecksum string            `json:"content_checksum"`
	Timestamp       int64             `json:"timestamp"`
	Subject         string            `json:"subject"`
	Body            string            `json:"body"`
	Version         string            `json:"version,omitempty"`
	Metadata        map[string]string `json:"metadata"`
}

func describeCommit(sum object.Checksum, c *object.Commit) commitInfo {
	ci := commitInfo{Commit: sum.String(), ContentChecksum: contentChecksum(c).String(),
		Timestamp: int64(c.Timestamp), Subject: c.Subject, Body: c.Body, Metadata: map[string]string{}}
	if !c.Parent.IsZero() {
		ci.Parent = c.Parent.String()
	}
	for _, e := range c.Metadata {
		ci.Metadata[e.Key] = gvariant.Print(e.Value.Type, e.Value.Value)
		if e.Key == "version" {
			if s, ok := e.Value.Value.(string); ok {
				ci.Version = s
			}
		}
	}
	return ci
}

// printCommit prints a commit the way ostree log and show do.
func printCommit(w io.Writer, ci commitInfo) {
	fmt.Fprintf(w, "commit %s\n", ci.Commit)
	if ci.Parent != "" {
		fmt.Fprintf(w, "Parent:  %s\n", ci.Parent)
	}
	fmt.Fprintf(w, "ContentChecksum:  %s\n", ci.ContentChecksum)
	fmt.Fprintf(w, "Date:  %s\n", time.Unix(ci.Timestamp, 0).UTC().Format("2006-01-02 15:04:05 -0700"))
	if ci.Version != "" {
		fmt.Fprintf(w, "Version: %s\n", termtext.Line(ci.Version))
	}
	if ci.Subject == "" {
		fmt.Fprintln(w, "(no subject)")
	} else {
		fmt.Fprintf(w, "\n    %s\n", termtext.Line(ci.Subject))
	}
	if ci.Body != "" {
		fmt.Fprintln(w)
		for _, l := range strings.Split(ci.Body, "\n") {
			fmt.Fprintf(w, "    %s\n", termtext.Block(l))
		}
	}
	fmt.Fprintln(w)
}

func (a *app) logCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "log REV",
		Short:   "Show a commit and its ancestors",
		Example: `  arbor --repo=repo log main`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, sum, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			var all []commitInfo
			for {
				cm, err := r.ReadCommit(sum)
				if errors.Is(err, store.ErrObjectMissing) && len(all) > 0 {
					if !a.json {
						fmt.Fprintln(a.Stdout, "<< History beyond this commit not fetched >>")
					}
					break
				}
				if err != nil {
					return err
				}
				ci := describeCommit(sum, cm)
				all = append(all, ci)
				if !a.json {
					printCommit(a.Stdout, ci)
				}
				if cm.Parent.IsZero() {
					break
				}
				sum = cm.Parent
			}
			if a.json {
				return a.printJSON(all)
			}
			return nil
		},
	}
	a.jsonFlag(c)
	return c
}

func (a *app) showCmd() *cobra.Command {
	var metaKey, detachedKey, homedir, verifyRemote string
	var detached, raw, printSizes bool
	c := &cobra.Command{
		Use:   "show [flags] REV",
		Short: "Show one commit",
		Example: `  arbor --repo=repo show main
  arbor --repo=repo show --print-metadata-key=version main`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, sum, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			cm, err := r.ReadCommit(sum)
			if err != nil {
				return err
			}
			switch {
			case raw:
				b, err := r.ReadMeta(sum, object.TypeCommit)
				if err != nil {
					return err
				}
				t := gvariant.MustType("(a{sv}aya(say)sstayay)")
				v, err := gvariant.Decode(t, b)
				if err != nil {
					return fmt.Errorf("commit %s: %w", sum, err)
				}
				// Numbers as a big-endian host shows them, as ostree does.
				fmt.Fprintln(a.Stdout, termtext.Line(gvariant.Print(t, gvariant.Byteswap(t, v))))
			case printSizes:
				sizes, err := store.CommitSizes(cm.Metadata)
				if err != nil {
					return fmt.Errorf("commit %s: %w", sum, err)
				}
				t, err := r.SizesNeeded(sizes)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "Compressed size (needed/total): %s/%s\n", siBytes(int64(t.NeededStored)), siBytes(int64(t.Stored)))
				fmt.Fprintf(a.Stdout, "Unpacked size (needed/total): %s/%s\n", siBytes(int64(t.NeededUnpacked)), siBytes(int64(t.Unpacked)))
				fmt.Fprintf(a.Stdout, "Number of objects (needed/total): %d/%d\n", t.NeededObjects, t.Objects)
				return nil
			case metaKey != "":
				v, ok := object.Lookup(cm.Metadata, metaKey)
				if !ok {
					return fmt.Errorf("no such metadata key %q in commit %s", metaKey, sum)
				}
				fmt.Fprintln(a.Stdout, termtext.Line(gvariant.Print(v.Type, v.Value)))
				return nil
			case detachedKey != "" || detached:
				md, err := r.ReadDetachedMeta(sum)
				if err != nil {
					return err
				}
				if md == nil {
					return fmt.Errorf("no detached metadata for commit %s", sum)
				}
				for _, e := range md {
					if detachedKey == "" || e.Key == detachedKey {
						if detachedKey == "" {
							fmt.Fprintf(a.Stdout, "%s: ", termtext.Line(e.Key))
						}
						fmt.Fprintln(a.Stdout, termtext.Line(gvariant.Print(e.Value.Type, e.Value.Value)))
						if detachedKey != "" {
							return nil
						}
					}
				}
				if detachedKey != "" {
					return fmt.Errorf("no such detached metadata key %q in commit %s", detachedKey, sum)
				}
				return nil
			}
			ci := describeCommit(sum, cm)
			if a.json {
				return a.printJSON(ci)
			}
			printCommit(a.Stdout, ci)
			return a.printSignatures(r, sum, homedir, verifyRemote)
		},
	}
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "also trust the keys of this GnuPG home directory")
	c.Flags().StringVar(&verifyRemote, "gpg-verify-remote", "", "check the signatures against this remote's keys only")
	c.Flags().StringVar(&metaKey, "print-metadata-key", "", "print one metadata value")
	c.Flags().StringVar(&detachedKey, "print-detached-metadata-key", "", "print one detached metadata value")
	c.Flags().BoolVar(&detached, "print-detached-metadata", false, "print all detached metadata (signatures)")
	c.Flags().BoolVar(&raw, "raw", false, "print the commit object as GVariant text")
	c.Flags().BoolVar(&printSizes, "print-sizes", false, "print the commit's size and what a pull of it still needs")
	a.jsonFlag(c)
	return c
}

type lsEntry struct {
	Path     string `json:"path"`
	Type     string `json:"type"`
	Mode     uint32 `json:"mode"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
	Size     uint64 `json:"size"`
	Target   string `json:"target,omitempty"`
	Checksum string `json:"checksum"`
	Meta     string `json:"dirmeta,omitempty"`
}

func (a *app) lsCmd() *cobra.Command {
	var recursive, checksums, dirOnly, xattrs bool
	c := &cobra.Command{
		Use:   "ls [flags] REV [PATH...]",
		Short: "List files in a commit",
		Example: `  arbor --repo=repo ls main
  arbor --repo=repo ls -R main /usr/share`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, sum, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			paths := args[1:]
			if len(paths) == 0 {
				paths = []string{"/"}
			}
			// Entries stream out as they are found: a recursive listing
			// can be of millions of paths. Buffered, since each is
			// written in pieces; what was listed is flushed on the way out,
			// a cancel included.
			w := bufio.NewWriter(a.Stdout)
			defer w.Flush()
			out := newLsJSON(w)
			emit := func(n store.Node) error {
				e, xs, err := a.describeNode(r, n)
				if err != nil {
					return err
				}
				if a.json {
					return out.add(e)
				}
				printLs(w, e, xs, checksums, xattrs)
				return nil
			}
			ctx := cmd.Context()
			for _, p := range paths {
				n, err := r.Lookup(sum, p)
				if err != nil {
					return err
				}
				if recursive && !dirOnly {
					if err := r.Walk(ctx, sum, n, emit); err != nil {
						return err
					}
					continue
				}
				if err := emit(n); err != nil {
					return err
				}
				if !n.IsDir || dirOnly {
					continue
				}
				kids, err := r.Children(n)
				if err != nil {
					return err
				}
				for _, k := range kids {
					if err := emit(k); err != nil {
						return err
					}
				}
			}
			if a.json {
				return out.end()
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVarP(&recursive, "recursive", "R", false, "list subdirectories too")
	f.BoolVarP(&checksums, "checksum", "C", false, "print object checksums")
	f.BoolVarP(&dirOnly, "dironly", "d", false, "list the directory itself, not its contents")
	f.BoolVarP(&xattrs, "xattrs", "X", false, "print extended attributes")
	a.jsonFlag(c)
	return c
}

// lsJSON writes ls's JSON array an entry at a time, as printJSON would
// have written it whole.
type lsJSON struct {
	w io.Writer
	n int
}

func newLsJSON(w io.Writer) *lsJSON { return &lsJSON{w: w} }

func (l *lsJSON) add(e lsEntry) error {
	b, err := json.MarshalIndent(e, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if l.n == 0 {
		sep = "[\n  "
	}
	l.n++
	_, err = fmt.Fprintf(l.w, "%s%s", sep, termtext.JSON(b))
	return err
}

func (l *lsJSON) end() error {
	if l.n == 0 {
		_, err := fmt.Fprintln(l.w, "[]")
		return err
	}
	_, err := fmt.Fprint(l.w, "\n]\n")
	return err
}

func (a *app) describeNode(r *store.Repo, n store.Node) (lsEntry, []object.Xattr, error) {
	if n.IsDir {
		m, err := r.ReadDirMeta(n.Meta)
		if err != nil {
			return lsEntry{}, nil, err
		}
		return lsEntry{Path: n.Path, Type: "dir", Mode: m.Mode, UID: m.UID, GID: m.GID,
			Checksum: n.Tree.String(), Meta: n.Meta.String()}, m.Xattrs, nil
	}
	ct, err := r.OpenContent(n.File)
	if err != nil {
		return lsEntry{}, nil, fmt.Errorf("%s: %w", n.Path, err)
	}
	defer ct.Close()
	h := ct.Header
	e := lsEntry{Path: n.Path, Type: "file", Mode: h.Mode, UID: h.UID, GID: h.GID, Size: ct.Size,
		Target: h.Target, Checksum: n.File.String()}
	if h.IsSymlink() {
		e.Type = "symlink"
	}
	return e, h.Xattrs, nil
}

// printLs uses ostree ls's columns: type and mode, uid, gid, size, path.
func printLs(w io.Writer, e lsEntry, xs []object.Xattr, checksums, xattrs bool) {
	kind := map[string]byte{"dir": 'd', "file": '-', "symlink": 'l'}[e.Type]
	fmt.Fprintf(w, "%c0%04o %d %d %6d ", kind, e.Mode&object.ModePerm, e.UID, e.GID, e.Size)
	if checksums {
		if e.Meta != "" {
			fmt.Fprintf(w, "%s %s ", e.Checksum, e.Meta)
		} else {
			fmt.Fprintf(w, "%s ", e.Checksum)
		}
	}
	if xattrs {
		parts := []any{}
		for _, x := range xs {
			parts = append(parts, []any{append([]byte(x.Name), 0), x.Value})
		}
		fmt.Fprintf(w, "{ %s } ", termtext.Line(gvariant.Print(gvariant.MustType("a(ayay)"), parts)))
	}
	fmt.Fprint(w, termtext.Line(e.Path))
	if e.Target != "" {
		fmt.Fprintf(w, " -> %s", termtext.Line(e.Target))
	}
	fmt.Fprintln(w)
}

func (a *app) catCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "cat REV PATH...",
		Short:   "Print the contents of files in a commit",
		Example: `  arbor --repo=repo cat main /etc/os-release`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, sum, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			for _, p := range args[1:] {
				n, err := r.Lookup(sum, p)
				if err != nil {
					return err
				}
				if n.IsDir {
					return fmt.Errorf("%s: is a directory", p)
				}
				ct, err := r.OpenContent(n.File)
				if err != nil {
					return err
				}
				if ct.Header.IsSymlink() {
					ct.Close()
					return fmt.Errorf("%s: is a symlink (to %s)", p, ct.Header.Target)
				}
				_, err = io.Copy(a.Stdout, ct.Reader)
				ct.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			return nil
		},
	}
}

func (a *app) diffCmd() *cobra.Command {
	ownerUID, ownerGID := -1, -1
	var noXattrs bool
	c := &cobra.Command{
		Use:   "diff REV_A (REV_B | DIR)",
		Short: "List the paths that differ between two commits, or a commit and a directory",
		Long: `diff lists what changed from REV_A to REV_B. An argument that starts with
/ or ./ (or is .) is a directory, compared as it would be committed with
--owner-uid, --owner-gid and --no-xattrs; nothing is written to the repository.`,
		Example: `  arbor --repo=repo diff main^ main
  arbor --repo=repo diff main ./rootfs`,
		Args: cobra.ExactArgs(2),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			var sides [2]store.DiffSide
			for i, rev := range args {
				if isDirArg(rev) {
					sides[i].Dir = rev
					continue
				}
				sum, err := r.Resolve(rev)
				if err != nil {
					return err
				}
				sides[i].Commit = sum
			}
			out := []map[string]string{}
			diff := func(fn func(store.Change) error) error {
				if sides[0].Dir == "" && sides[1].Dir == "" {
					return r.Diff(cmd.Context(), sides[0].Commit, sides[1].Commit, fn)
				}
				opts := store.CommitOptions{OwnerUID: ownerUID, OwnerGID: ownerGID, NoXattrs: noXattrs}
				return r.DiffSides(cmd.Context(), sides[0], sides[1], opts, fn)
			}
			err := diff(func(ch store.Change) error {
				if a.json {
					out = append(out, map[string]string{"change": string(ch.Kind), "path": ch.Path})
					return nil
				}
				fmt.Fprintf(a.Stdout, "%c    %s\n", ch.Kind, termtext.Line(ch.Path))
				return nil
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(out)
			}
			return nil
		}),
	}
	c.Flags().IntVar(&ownerUID, "owner-uid", -1, "compare a directory's files as if owned by this uid")
	c.Flags().IntVar(&ownerGID, "owner-gid", -1, "compare a directory's files as if owned by this gid")
	c.Flags().BoolVar(&noXattrs, "no-xattrs", false, "leave a directory's xattrs out of the comparison")
	a.jsonFlag(c)
	return c
}

// printSignatures describes each GPG signature of a commit, checked
// against the keys of remote, or when it is empty every key the
// repository and the system trust; a commit without signatures prints
// nothing.
func (a *app) printSignatures(r *store.Repo, sum object.Checksum, homedir, remote string) error {
	sigs, err := r.CommitSignatures(sum)
	if err != nil || len(sigs) == 0 {
		return err
	}
	var keys *gpg.Keyring
	if remote != "" {
		rm, err := fetch.LoadRemote(r, remote)
		if err != nil {
			return err
		}
		keys, err = rm.Keyring(r)
		if err != nil {
			return err
		}
	} else if keys, err = fetch.CommitKeys(r, homedir); err != nil {
		return err
	}
	b, err := r.ReadMeta(sum, object.TypeCommit)
	if err != nil {
		return err
	}
	a.printFoundSigs("Found", keys.Check(b, sigs))
	return nil
}

// printFoundSigs prints signature results as ostree does: "LEAD N
// signature(s):", then each, indented, after a blank line.
func (a *app) printFoundSigs(lead string, res []gpg.SigResult) {
	noun := "signatures"
	if len(res) == 1 {
		noun = "signature"
	}
	fmt.Fprintf(a.Stdout, "%s %d %s:\n", lead, len(res), noun)
	for _, s := range res {
		fmt.Fprintln(a.Stdout)
		printSigResults(a, []gpg.SigResult{s}, "  ")
	}
}

// isDirArg tells a directory from a revision as ostree's diff does: by
// its spelling, a path starting with / or ./ (or . or ..).
func isDirArg(s string) bool {
	return s == "." || s == ".." || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../")
}

func (a *app) checksumCmd() *cobra.Command {
	var noXattrs bool
	c := &cobra.Command{
		Use:     "checksum PATH",
		Short:   "Print the content checksum a file would be committed under",
		Example: `  arbor checksum ./rootfs/usr/bin/sh`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, err := store.FileChecksum(args[0], noXattrs)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, sum)
			return nil
		},
	}
	c.Flags().BoolVar(&noXattrs, "ignore-xattrs", false, "leave xattrs out of the checksum")
	return c
}
