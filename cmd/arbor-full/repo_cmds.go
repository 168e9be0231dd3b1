package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/store"
	"arbor/store/object"
	"arbor/store/refs"
	"arbor/store/sign"
)

func (a *app) initCmd() *cobra.Command {
	var mode, collection string
	c := &cobra.Command{
		Use:   "init",
		Short: "Create a repository",
		Example: `  arbor --repo=repo init --mode=archive     # for publishing over HTTP
  arbor --repo=repo init --mode=bare-user   # for checkouts by hardlink, no root needed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.resolveRepoPath()
			if err != nil {
				return err
			}
			m, err := store.ParseMode(mode)
			if err != nil {
				return err
			}
			if collection != "" {
				if err := refs.ValidateCollectionID(collection); err != nil {
					return err
				}
			}
			r, err := store.Init(p, m)
			if err != nil {
				return err
			}
			defer r.Close()
			if collection != "" {
				return r.EditConfig(func(f store.ConfigFile) error {
					f.Set("core", "collection-id", collection)
					return nil
				})
			}
			return nil
		},
	}
	c.Flags().StringVar(&mode, "mode", "bare", "repository mode: bare, bare-user, bare-user-only or archive")
	c.Flags().StringVar(&collection, "collection-id", "", "the repository's collection ID (reverse DNS), bound into its commits")
	return c
}

// parseTime reads ostree-style times: @SECONDS, RFC 3339, "YYYY-MM-DD[ HH:MM:SS]",
// or "N units ago".
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time %q", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02",
		"January 2 2006", "Jan 2 2006", "January 2, 2006", "2 January 2006", "January 2 2006 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if m := agoRe.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour,
			"day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[m[2]]
		return now.Add(-time.Duration(n) * unit), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use @SECONDS, YYYY-MM-DD HH:MM:SS, RFC 3339 or 'N days ago'", s)
}

var agoRe = regexp.MustCompile(`^(\d+) (second|minute|hour|day|week)s? ago$`)

func (a *app) commitCmd() *cobra.Command {
	var (
		branch, subject, body, timestamp, parent string
		trees, metaStrings                       []string
		ownerUID, ownerGID                       int
		noXattrs, orphan, noBindings, canonical  bool
		bootable, skipUnchanged, consume         bool
		modeRoExec                               bool
		base, bodyFile                           string
		generateSizes                            bool
		signKeys, bindRefs                       []string
		homedir, statOverride                    string
		detachedStrings                          []string
		keySigns                                 []string
		signType                                 string
	)
	var tarOpts tarFlags
	c := &cobra.Command{
		Use:   "commit [flags] [DIR]",
		Short: "Commit a directory tree to a branch",
		Example: `  arbor --repo=repo commit -b os/x86_64/stable -s "Release 42" --tree=dir=./rootfs
  arbor --repo=repo commit -b test --owner-uid=0 --owner-gid=0 --timestamp=@0 ./tree`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(trees) > 0 && len(args) == 1 {
				return errors.New("give the tree either as --tree= or as an argument, not both")
			}
			if len(trees) == 0 {
				dir := "." // as ostree: the current directory
				if len(args) == 1 {
					dir = args[0]
				}
				trees = []string{"dir=" + dir}
			}
			if bodyFile != "" {
				if body != "" {
					return errors.New("--body and --body-file: give one")
				}
				b, err := os.ReadFile(bodyFile)
				if err != nil {
					return fmt.Errorf("--body-file: %w", err)
				}
				body = string(b)
			}
			if branch == "" && !orphan {
				return errors.New("a branch is required (-b REF), or --orphan for a commit no ref points at")
			}
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			var sources []store.TreeSource
			if base != "" {
				c, err := r.Resolve(base)
				if err != nil {
					return fmt.Errorf("--base: %w", err)
				}
				sources = append(sources, store.TreeSource{Commit: c, AsIs: true})
			}
			for _, t := range trees {
				kind, val, _ := strings.Cut(t, "=")
				switch kind {
				case "dir":
					sources = append(sources, store.TreeSource{Dir: val})
				case "ref":
					c, err := r.Resolve(val)
					if err != nil {
						return fmt.Errorf("--tree=%s: %w", t, err)
					}
					sources = append(sources, store.TreeSource{Commit: c})
				case "tar":
					src, err := tarTreeSource(cmd, val, tarOpts)
					if err != nil {
						return fmt.Errorf("--tree=%s: %w", t, err)
					}
					sources = append(sources, src)
				default:
					return fmt.Errorf("--tree=%s: invalid tree type; use dir=PATH, tar=ARCHIVE or ref=REV", t)
				}
			}
			opts := store.CommitOptions{Branch: branch, Subject: subject, Body: body,
				OwnerUID: ownerUID, OwnerGID: ownerGID, NoXattrs: noXattrs || canonical,
				Orphan: orphan, NoBindings: noBindings, Bootable: bootable,
				SkipIfUnchanged: skipUnchanged, Consume: consume, BindRefs: bindRefs, ModeRoExecutables: modeRoExec,
				GenerateSizes: generateSizes}
			if canonical {
				opts.OwnerUID, opts.OwnerGID = 0, 0
			}
			if statOverride != "" {
				f, err := os.Open(statOverride)
				if err != nil {
					return fmt.Errorf("--statoverride: %w", err)
				}
				opts.ModeAdd, opts.Skip, err = store.ParseStatOverride(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("--statoverride=%s: %w", statOverride, err)
				}
			}
			if err := addSkipList(&opts, tarOpts.skipList); err != nil {
				return err
			}
			if timestamp == "" {
				if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
					// ostree's words, which scripts check.
					n, err := strconv.ParseInt(e, 10, 64)
					if errors.Is(err, strconv.ErrRange) {
						return fmt.Errorf("Parsing SOURCE_DATE_EPOCH: Numerical result out of range: %q", e)
					} else if err != nil {
						return fmt.Errorf("Failed to convert SOURCE_DATE_EPOCH %q to a number", e)
					}
					opts.Timestamp = time.Unix(n, 0).UTC()
				}
			}
			if timestamp != "" {
				if opts.Timestamp, err = parseTime(timestamp, time.Now()); err != nil {
					return fmt.Errorf("--timestamp: %w", err)
				}
			}
			if parent != "" {
				opts.ParentSet = true
				if parent != "none" {
					if opts.Parent, err = r.Resolve(parent); err != nil {
						return fmt.Errorf("--parent: %w", err)
					}
				}
			}
			for _, kv := range metaStrings {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--add-metadata-string=%s: want KEY=VALUE", kv)
				}
				opts.Metadata = append(opts.Metadata, object.String(k, v))
			}
			bar := a.newProgress("committing", -1, false)
			opts.Progress = func(files, bytes int64) {
				bar.describe(fmt.Sprintf("committing %s", humanBytes(bytes)))
				bar.set(files)
			}
			// Load keys first: a missing key must fail before anything is written.
			var signers []func([]byte) ([]byte, error)
			for _, k := range signKeys {
				s, err := loadSigner(k, homedir)
				if err != nil {
					return err
				}
				signers = append(signers, s.Sign)
			}
			var detached []object.MetaEntry
			for _, kv := range detachedStrings {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--add-detached-metadata-string=%s: want KEY=VALUE", kv)
				}
				detached = append(detached, object.String(k, v))
			}
			keySigners, err := keySigners(signType, keySigns)
			if err != nil {
				return err
			}
			sum, stats, err := r.CommitTrees(cmd.Context(), sources, opts)
			bar.done()
			if err != nil {
				return err
			}
			if len(detached) > 0 && !stats.Skipped {
				if err := r.SetDetached(cmd.Context(), sum, detached); err != nil {
					return err
				}
			}
			for _, sign := range signers {
				if stats.Skipped {
					break // the parent is as it was signed
				}
				if err := r.SignCommit(cmd.Context(), sum, sign); err != nil {
					return err
				}
			}
			for _, ks := range keySigners {
				if stats.Skipped {
					break
				}
				if err := r.SignCommitAt(cmd.Context(), sum, ks.key, ks.sign); err != nil {
					return err
				}
			}
			if branch != "" && !stats.Skipped {
				a.refsMoved(cmd.Context(), r, []string{branch})
				if err := autoUpdateSummary(cmd.Context(), r); err != nil {
					return err
				}
			}
			if a.json {
				return a.printJSON(map[string]any{"commit": sum.String(), "branch": branch,
					"files": stats.Files, "bytes": stats.Bytes, "new_objects": stats.NewObjects, "new_bytes": stats.NewBytes})
			}
			fmt.Fprintln(a.Stdout, sum)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&branch, "branch", "b", "", "branch (ref) to commit to")
	f.StringArrayVar(&trees, "tree", nil, "tree to commit, as dir=PATH, tar=ARCHIVE or ref=REV; several overlay in order")
	tarOpts.flags(f)
	f.StringVarP(&subject, "subject", "s", "", "one-line subject")
	f.StringVarP(&body, "body", "m", "", "full description")
	f.StringVarP(&bodyFile, "body-file", "F", "", "read the full description from this file")
	f.StringVar(&timestamp, "timestamp", "", "commit time (@SECONDS or a date); default now, or $SOURCE_DATE_EPOCH")
	f.IntVar(&ownerUID, "owner-uid", -1, "set the uid of every file and directory")
	f.IntVar(&ownerGID, "owner-gid", -1, "set the gid of every file and directory")
	f.BoolVar(&noXattrs, "no-xattrs", false, "do not commit extended attributes")
	f.BoolVar(&canonical, "canonical-permissions", false, "uid and gid 0, no xattrs")
	f.StringVar(&statOverride, "statoverride", "", "file of MODE PATH lines: mode bits (decimal) added to PATH in the commit; !PATH leaves it out")
	f.BoolVar(&modeRoExec, "mode-ro-executables", false, "remove the write bits of files their owner may execute")
	f.StringVar(&base, "base", "", "start from this commit's tree, as it is; the trees given overlay it")
	f.StringVar(&parent, "parent", "", "parent commit (default: the branch's current commit; 'none' for none)")
	f.BoolVar(&orphan, "orphan", false, "commit without a parent and without updating a branch")
	f.StringArrayVar(&metaStrings, "add-metadata-string", nil, "add KEY=VALUE to the commit metadata")
	f.StringArrayVar(&detachedStrings, "add-detached-metadata-string", nil, "add KEY=VALUE to the commit's detached metadata")
	f.BoolVar(&noBindings, "no-bindings", false, "do not bind the commit to its branch (ostree.ref-binding)")
	f.StringArrayVar(&bindRefs, "bind-ref", nil, "bind the commit to this ref too")
	f.BoolVar(&skipUnchanged, "skip-if-unchanged", false, "if the tree is the parent's, commit nothing and print the parent")
	f.BoolVar(&consume, "consume", false, "remove each committed directory once the commit is made")
	f.BoolVar(&generateSizes, "generate-sizes", false, "list every object's size in the commit metadata")
	// ostree's speedups for trees of hardlinks into the repository, and
	// its fsync policy: arbor hashes every file and follows core.fsync.
	f.Bool("link-checkout-speedup", false, "accepted for ostree's scripts; changes nothing")
	f.BoolP("devino-canonical", "I", false, "accepted for ostree's scripts; changes nothing")
	f.String("fsync", "", "accepted for ostree's scripts; writes follow core.fsync")
	f.BoolVar(&bootable, "bootable", false, "mark an OS commit bootable: records the kernel at usr/lib/modules/VERSION/vmlinuz")
	f.StringArrayVar(&signKeys, "gpg-sign", nil, "sign the commit with this GPG key")
	f.StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	f.StringArrayVar(&keySigns, "sign", nil, "sign the commit with this secret key (base64), of --sign-type")
	f.StringVar(&signType, "sign-type", sign.Default, "the type of the --sign keys: ed25519 (or dummy, for tests)")
	a.jsonFlag(c)
	return c
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (a *app) checkoutCmd() *cobra.Command {
	var opts store.CheckoutOptions
	c := &cobra.Command{
		Use:   "checkout [flags] REV [DEST]",
		Short: "Write a commit out as files (hardlinked from the repo where possible)",
		Example: `  arbor --repo=repo checkout -U main ./out
  arbor --repo=repo checkout --subpath=/etc main ./etc-copy`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, commit, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			dest := filepath.Base(args[0])
			if len(args) == 2 {
				dest = args[1]
			}
			bar := a.newProgress("checking out", -1, false)
			opts.Progress = bar.set
			err = r.Checkout(cmd.Context(), commit, dest, opts)
			bar.done()
			return err
		},
	}
	f := c.Flags()
	f.BoolVarP(&opts.UserMode, "user-mode", "U", false, "ignore ownership and xattrs, drop setuid/setgid")
	f.BoolVarP(&opts.RequireHardlinks, "require-hardlinks", "H", false, "fail rather than copy a file")
	f.BoolVar(&opts.Union, "union", false, "write into an existing directory, replacing files")
	f.BoolVarP(&opts.ForceCopy, "force-copy", "C", false, "copy every file, never hardlink")
	f.StringVar(&opts.Subpath, "subpath", "", "check out only this path of the commit")
	return c
}

func (a *app) refsCmd() *cobra.Command {
	var del, list, revision, force, alias, collections bool
	var create string
	c := &cobra.Command{
		Use:   "refs [flags] [PREFIX...]",
		Short: "List, create or delete refs",
		Example: `  arbor --repo=repo refs
  arbor --repo=repo refs --create=stable main
  arbor --repo=repo refs --delete stable`,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if collections {
				if err := a.collectionRefs(r, args, collectionRefsOpts{create: create, del: del, revision: revision}); err != nil || create == "" && !del {
					return err
				}
				return autoUpdateSummary(cmd.Context(), r)
			}
			switch {
			case alias && create != "":
				if len(args) != 1 {
					return errors.New("-A --create=ALIAS needs the ref it names")
				}
				if remote, _, _ := strings.Cut(create, ":"); strings.Contains(create, ":") {
					return fmt.Errorf("Cannot create alias to remote ref: %s", remote)
				}
				return r.SetRefAlias(create, args[0])
			case alias:
				aliases, err := r.RefAliases()
				if err != nil {
					return err
				}
				names := make([]string, 0, len(aliases))
				for n := range aliases {
					names = append(names, n)
				}
				sort.Strings(names)
				if a.json {
					return a.printJSON(aliases)
				}
				for _, n := range names {
					fmt.Fprintf(a.Stdout, "%s -> %s\n", termtext.Line(n), termtext.Line(aliases[n]))
				}
				return nil
			case create != "":
				if len(args) != 1 {
					return errors.New("--create=NEW needs one existing ref or commit to point it at")
				}
				c, err := r.Resolve(args[0])
				if err != nil {
					return err
				}
				if _, err := r.ReadRef(create); err == nil && !force {
					return fmt.Errorf("--create specified but ref %s already exists", create)
				}
				if err := r.SetRef(create, c); err != nil {
					return err
				}
				return autoUpdateSummary(cmd.Context(), r)
			case del:
				if len(args) == 0 {
					return errors.New("--delete needs the refs to delete")
				}
				all, err := r.Refs()
				if err != nil {
					return err
				}
				for _, name := range refs.SortedNames(all) {
					for _, p := range args {
						if refs.MatchPrefix(name, p) {
							if err := r.DeleteRef(name); err != nil {
								return err
							}
							break
						}
					}
				}
				// As ostree: a prefix that matches no ref is no error.
				return autoUpdateSummary(cmd.Context(), r)
			}
			all, err := r.Refs()
			if err != nil {
				return err
			}
			out := map[string]string{}
			show := func(shown, name string) {
				out[name] = all[name].String()
				switch {
				case a.json:
				case revision:
					fmt.Fprintf(a.Stdout, "%s\t%s\n", termtext.Line(shown), all[name])
				default:
					fmt.Fprintln(a.Stdout, termtext.Line(shown))
				}
			}
			names := refs.SortedNames(all)
			if len(args) == 0 {
				for _, name := range names {
					show(name, name)
				}
			}
			for _, l := range refs.ListPrefixes(names, args, list) {
				show(l.Shown, l.Name)
			}
			if a.json {
				return a.printJSON(out)
			}
			return nil
		}),
	}
	c.Flags().BoolVar(&list, "list", false, "list refs under PREFIX by their full names")
	c.Flags().BoolVarP(&revision, "revision", "r", false, "show each ref's commit too")
	c.Flags().BoolVar(&force, "force", false, "with --create, replace a ref of that name")
	c.Flags().BoolVarP(&alias, "alias", "A", false, "list aliases; with --create=ALIAS, make ALIAS follow the given ref")
	c.Flags().BoolVar(&del, "delete", false, "delete the refs matching the prefixes")
	c.Flags().BoolVarP(&collections, "collections", "c", false, "list, create or delete refs by (collection ID, ref); PREFIX is a collection ID")
	c.Flags().StringVar(&create, "create", "", "create ref NEW pointing at the given ref or commit")
	a.jsonFlag(c)
	return c
}

func (a *app) revParseCmd() *cobra.Command {
	var single bool
	c := &cobra.Command{
		Use:     "rev-parse REV",
		Short:   "Print the commit a ref or revision names",
		Example: `  arbor --repo=repo rev-parse main^`,
		Args:    cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if single {
				if len(args) > 0 {
					return errors.New("--single takes no REV")
				}
				r, err := a.openRepo()
				if err != nil {
					return err
				}
				defer r.Close()
				c, err := r.OnlyCommit(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintln(a.Stdout, c)
				return nil
			}
			if len(args) != 1 {
				return errors.New("a REV is required (or --single)")
			}
			r, c, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			fmt.Fprintln(a.Stdout, c)
			return nil
		},
	}
	c.Flags().BoolVarP(&single, "single", "S", false, "print the repository's one commit, failing if it has none or several")
	return c
}

func (a *app) reindexCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild arbor's index of the repository from the object files",
		Long: `The index (under extensions/arbor/index) only speeds things up: the object
files are the truth. reindex throws it away and rebuilds it.`,
		Example: `  arbor --repo=repo reindex`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if err := r.Reindex(); err != nil {
				return err
			}
			start := time.Now()
			commits, err := r.Commits(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range commits {
				if _, err := r.Reach(cmd.Context(), c); err != nil && !r.IsPartial(c) {
					fmt.Fprintf(a.Stderr, "warning: commit %s: %s\n", c, termtext.Line(err.Error()))
				}
			}
			fmt.Fprintf(a.Stdout, "Indexed %d commits in %.2fs\n", len(commits), time.Since(start).Seconds())
			return nil
		}),
	}
}

func (a *app) resetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset REF REV",
		Short: "Point an existing ref at another commit (such as one of its ancestors)",
		Example: `  arbor --repo=repo reset main main^
  arbor --repo=repo reset main 0123abcd`,
		Args: cobra.ExactArgs(2),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if _, err := r.ReadRef(args[0]); err != nil {
				return err
			}
			c, err := r.Resolve(args[1])
			if err != nil {
				return err
			}
			if _, err := r.ReadCommit(c); err != nil {
				return fmt.Errorf("reset %s: %w", args[0], err)
			}
			if err := r.SetRef(args[0], c); err != nil {
				return err
			}
			a.refsMoved(cmd.Context(), r, []string{args[0]})
			return autoUpdateSummary(cmd.Context(), r)
		}),
	}
}
