package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/sysroot"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/gpg"
	"arbor/store/object"
)

func (a *app) remoteCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "remote",
		Short: "Manage remotes: named URLs that objects are pulled from",
		Example: `  arbor --repo=repo remote add --gpg-import=key.asc origin http://127.0.0.1:8000/repo
  arbor --repo=repo remote list -u`,
	}
	c.PersistentFlags().StringVar(&a.remoteSysroot, "sysroot", "", "work on the repository of the sysroot (or deployment root) at PATH")
	c.AddCommand(a.remoteAddCmd(), a.remoteListCmd(), a.remoteDeleteCmd(), a.remoteShowURLCmd(),
		a.remoteRefsCmd(), a.remoteGPGImportCmd(), a.remoteGPGListKeysCmd(), a.remoteSummaryCmd())
	c.AddCommand(a.cookieCmds()...)
	return c
}

func (a *app) remoteAddCmd() *cobra.Command {
	var o fetch.AddOptions
	var sets []string
	var contentURL, collectionID, customBackend string
	var signVerify []string
	c := &cobra.Command{
		Use:   "add [flags] NAME URL [BRANCH...]",
		Short: "Add a remote",
		Example: `  arbor --repo=repo remote add --no-gpg-verify origin http://127.0.0.1:8000/repo
  arbor --repo=repo remote add --gpg-import=key.asc --set=gpg-verify-summary=true origin http://cdn.invalid/repo`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.withSysrootRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			var err error
			if a.remoteSysroot != "" {
				o.ConfigDir = sysroot.RemotesConfigDir(a.remoteSysroot, r.Config())
			}
			if o.Set, err = parseSets(sets); err != nil {
				return err
			}
			if customBackend != "" {
				// Another program pulls from it: the URL is its business.
				o.Set["custom-backend"] = customBackend
			}
			if len(args) < 2 {
				if customBackend == "" {
					return errors.New("remote add needs NAME and URL")
				}
				args = append(args, "")
			}
			if len(args) > 2 {
				o.Set["branches"] = strings.Join(args[2:], ";") + ";"
			}
			if contentURL != "" {
				o.Set["contenturl"] = contentURL
			}
			if collectionID != "" {
				o.Set["collection-id"] = collectionID
			}
			if err := signVerifySets(signVerify, o.Set); err != nil {
				return err
			}
			o.Imported = func(n int) { fmt.Fprintln(a.Stdout, importedLine(n, args[0])) }
			return fetch.AddRemote(r, args[0], args[1], o)
		}),
	}
	f := c.Flags()
	f.BoolVar(&o.NoGPGVerify, "no-gpg-verify", false, "do not check GPG signatures of commits")
	f.StringVar(&o.GPGImport, "gpg-import", "", "trust the keys in FILE for this remote")
	f.StringArrayVar(&sets, "set", nil, "set a config KEY=VALUE for the remote (contenturl, mirrors, gpg-verify-summary, ...)")
	f.BoolVar(&o.IfNotExists, "if-not-exists", false, "do nothing if the remote exists")
	f.BoolVar(&o.Force, "force", false, "replace the remote if it exists")
	f.BoolVar(&o.NoSignVerify, "no-sign-verify", false, "check no signatures of this remote (sign-verify and gpg-verify false)")
	f.StringVar(&contentURL, "contenturl", "", "fetch content objects from URL, metadata from the remote's url")
	f.StringVar(&collectionID, "collection-id", "", "the remote's collection ID")
	f.StringVar(&customBackend, "custom-backend", "", "another program pulls from this remote (its URL is optional)")
	f.StringArrayVar(&signVerify, "sign-verify", nil, "verify commits with TYPE=inline:PUBKEY or TYPE=file:PATH (sets sign-verify)")
	c.MarkFlagsMutuallyExclusive("force", "if-not-exists")
	return c
}

func (a *app) remoteListCmd() *cobra.Command {
	var urls bool
	c := &cobra.Command{
		Use:     "list [-u]",
		Short:   "List remotes",
		Example: `  arbor --repo=repo remote list -u`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			names := fetch.ListRemotes(r)
			if a.json {
				out := map[string]string{}
				for _, n := range names {
					rm, err := fetch.LoadRemote(r, n)
					if err != nil {
						return err
					}
					out[n] = rm.URL
				}
				return a.printJSON(out)
			}
			for _, n := range names {
				if !urls {
					fmt.Fprintln(a.Stdout, termtext.Line(n))
					continue
				}
				rm, err := fetch.LoadRemote(r, n)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "%s  %s\n", termtext.Line(n), termtext.Line(rm.URL))
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&urls, "show-urls", "u", false, "show the URLs too")
	a.jsonFlag(c)
	return c
}

func (a *app) remoteDeleteCmd() *cobra.Command {
	var ifExists bool
	c := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a remote, its keyring and its refs",
		Example: `  arbor --repo=repo remote delete origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			return fetch.DeleteRemote(r, args[0], ifExists)
		}),
	}
	c.Flags().BoolVar(&ifExists, "if-exists", false, "do nothing if the remote does not exist")
	return c
}

func (a *app) remoteShowURLCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show-url NAME",
		Short:   "Print a remote's URL",
		Example: `  arbor --repo=repo remote show-url origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			rm, err := fetch.LoadRemote(r, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, termtext.Line(rm.URL))
			return nil
		}),
	}
}

func (a *app) remoteRefsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "refs NAME",
		Short:   "List the refs a remote's summary offers",
		Example: `  arbor --repo=repo remote refs origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			refs, err := fetch.RemoteRefs(cmd.Context(), r, args[0])
			if err != nil {
				return err
			}
			if a.json {
				out := map[string]string{}
				for n, c := range refs {
					out[n] = c.String()
				}
				return a.printJSON(out)
			}
			names := make([]string, 0, len(refs))
			for n := range refs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(a.Stdout, "%s:%s\n", termtext.Line(args[0]), termtext.Line(n))
			}
			return nil
		}),
	}
	a.jsonFlag(c)
	return c
}

// importedLine is ostree's report of a key import, which scripts read.
func importedLine(n int, remote string) string {
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("Imported %d GPG key%s to remote \"%s\"", n, s, termtext.Line(remote))
}

func (a *app) remoteGPGImportCmd() *cobra.Command {
	var files []string
	var stdin bool
	c := &cobra.Command{
		Use:   "gpg-import NAME [KEY-ID...] (-k FILE... | --stdin)",
		Short: "Trust more GPG keys for a remote: all of a key file's, or those KEY-IDs name",
		Example: `  arbor --repo=repo remote gpg-import origin -k key.asc
  arbor --repo=repo remote gpg-import --stdin origin < key.asc`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if _, err := fetch.LoadRemote(r, args[0]); err != nil {
				return err
			}
			if len(files) == 0 && !stdin {
				return errors.New("give the keys with -k FILE (or --keyring=FILE) or --stdin")
			}
			keys, err := gpg.ParseKeyring(nil)
			if err != nil {
				return err
			}
			if len(files) > 0 {
				k, err := gpg.LoadKeyring(files...)
				if err != nil {
					return err
				}
				keys.Merge(k)
			}
			if stdin {
				b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
				if err != nil {
					return fmt.Errorf("reading keys from stdin: %w", err)
				}
				k, err := gpg.ParseKeyring(b)
				if err != nil {
					return fmt.Errorf("keys from stdin: %w", err)
				}
				keys.Merge(k)
			}
			if len(args) > 1 {
				if keys, err = keys.Select(args[1:]); err != nil {
					return err
				}
			}
			n, err := fetch.ImportKeys(r, args[0], keys)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, importedLine(n, args[0]))
			return nil
		}),
	}
	c.Flags().StringArrayVarP(&files, "keyring", "k", nil, "key file to import from (armored or binary)")
	c.Flags().BoolVar(&stdin, "stdin", false, "import the keys on standard input")
	return c
}

func (a *app) pullCmd() *cobra.Command {
	var opts fetch.PullOptions
	var checkFrom string
	var hf httpFlags
	c := &cobra.Command{
		Use:   "pull [flags] REMOTE [REF...]",
		Short: "Fetch refs from a remote, verifying every object and signature",
		Example: `  arbor --repo=repo pull origin os/x86_64/stable
  arbor --repo=repo pull --depth=1 --commit-metadata-only origin main`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			remote := args[0]
			if i := strings.IndexByte(remote, ':'); i >= 0 { // ostree also takes REMOTE:REF
				args = append([]string{remote[:i], remote[i+1:]}, args[1:]...)
				remote = remote[:i]
			}
			opts.Refs = args[1:]
			if err := hf.apply(&opts); err != nil {
				return err
			}
			if opts.DryRun && !opts.RequireStaticDeltas {
				return errors.New("--dry-run requires --require-static-deltas")
			}
			if checkFrom != "" {
				c, err := r.Resolve(checkFrom)
				if err != nil {
					return fmt.Errorf("--timestamp-check-from-rev: %w", err)
				}
				opts.NotOlderThan = c
			}
			bar := a.newProgress("pulling", -1, true)
			opts.Progress = func(p fetch.Progress) {
				bar.describe(fmt.Sprintf("pulling: %d/%d objects", p.Fetched, p.Objects))
				bar.set(p.Bytes)
			}
			opts.Warn = func(w string) { fmt.Fprintf(a.Stderr, "warning: %s\n", termtext.Line(w)) }
			res, err := fetch.Pull(cmd.Context(), r, remote, opts)
			bar.done()
			if err != nil {
				return err
			}
			if opts.DryRun {
				// ostree's progress line, which scripts read.
				fmt.Fprintf(a.Stdout, "Delta update: 0/%d parts, %s/%s, %s total uncompressed\n",
					res.Plan.Parts, siBytes(0), siBytes(res.Plan.Bytes), siBytes(res.Plan.Uncompressed))
				return nil
			}
			moved := make([]string, 0, len(res.Refs))
			for n, c := range res.Refs {
				if n == c.String() {
					continue // a commit by its checksum: no ref moved
				}
				if !opts.Mirror {
					n = remote + ":" + n
				}
				moved = append(moved, n)
			}
			a.refsMoved(cmd.Context(), r, moved)
			return a.printPull(res)
		}),
	}
	pullFlags(c, &opts)
	hf.register(c, &opts)
	c.Flags().BoolVar(&opts.Mirror, "mirror", false, "write refs/heads/REF instead of refs/remotes/REMOTE/REF, and copy the summary")
	c.Flags().BoolVarP(&opts.TimestampCheck, "timestamp-check", "T", false, "refuse a commit older than the one the ref has here")
	c.Flags().StringVar(&checkFrom, "timestamp-check-from-rev", "", "refuse a commit older than this one")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "only say what the static deltas would fetch (with --require-static-deltas)")
	a.jsonFlag(c)
	return c
}

func pullFlags(c *cobra.Command, opts *fetch.PullOptions) {
	f := c.Flags()
	f.IntVar(&opts.Depth, "depth", 0, "parents to pull as well (-1: all)")
	f.BoolVar(&opts.CommitMetadataOnly, "commit-metadata-only", false, "fetch only the commit objects")
	f.StringArrayVar(&opts.Subpaths, "subpath", nil, "fetch only this path of each commit (repeatable)")
	f.BoolVar(&opts.DisableStaticDeltas, "disable-static-deltas", false, "fetch objects one by one even where the remote has a static delta")
	f.BoolVar(&opts.RequireStaticDeltas, "require-static-deltas", false, "fail unless every commit comes through a static delta")
	c.MarkFlagsMutuallyExclusive("disable-static-deltas", "require-static-deltas")
	f.BoolVar(&opts.BareUserOnlyFiles, "bareuseronly-files", false, "refuse files a bare-user-only repository cannot hold (setuid, world-writable)")
	f.BoolVar(&opts.DisableVerifyBindings, "disable-verify-bindings", false, "take commits whatever refs and collection they are bound to")
	// Writes follow core.fsync, and are made durable once per pull.
	f.Bool("disable-fsync", false, "accepted for ostree's scripts; writes follow core.fsync")
	f.Bool("per-object-fsync", false, "accepted for ostree's scripts; writes follow core.fsync")
}

func (a *app) printPull(res *fetch.Result) error {
	if a.json {
		refs := map[string]string{}
		for n, c := range res.Refs {
			refs[n] = c.String()
		}
		return a.printJSON(map[string]any{"refs": refs, "objects_fetched": res.Fetched, "bytes": res.Bytes,
			"seconds": res.Elapsed.Seconds()})
	}
	fmt.Fprintln(a.Stdout, pullLine(res))
	return nil
}

// pullLine is the line ostree's pull ends with, which scripts read.
func pullLine(res *fetch.Result) string {
	var b strings.Builder
	switch {
	case res.DeltaParts > 0:
		fmt.Fprintf(&b, "%d delta parts, %d loose fetched", res.DeltaParts, res.Metadata+res.Content)
	case res.Local:
		fmt.Fprintf(&b, "%d metadata, %d content objects imported", res.Metadata, res.Content)
	default:
		fmt.Fprintf(&b, "%d metadata, %d content objects fetched", res.Metadata, res.Content)
		if res.LocalMeta+res.LocalContent > 0 {
			fmt.Fprintf(&b, " (%d meta, %d content local)", res.LocalMeta, res.LocalContent)
		}
	}
	if res.Bytes > 0 {
		n, unit := res.Bytes, "B"
		if n >= 1024 {
			n, unit = n/1024, "KiB"
		}
		fmt.Fprintf(&b, "; %d %s transferred in %d seconds", n, unit, int(res.Elapsed.Seconds()))
	}
	fmt.Fprintf(&b, "; %s content written", siBytes(res.ContentWritten))
	return b.String()
}

// siBytes is a size as glib's g_format_size writes it (powers of 1000).
func siBytes(n int64) string {
	if n < 1000 {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 1000 {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PB", f/1000)
}

func (a *app) pullLocalCmd() *cobra.Command {
	var opts fetch.PullOptions
	c := &cobra.Command{
		Use:     "pull-local [flags] SOURCE_REPO [REF...]",
		Short:   "Copy refs from another repository on this machine",
		Example: `  arbor --repo=repo pull-local /srv/build-repo main`,
		Args:    cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			res, err := fetch.PullLocal(cmd.Context(), r, args[0], args[1:], opts)
			if err != nil {
				return err
			}
			return a.printPull(res)
		}),
	}
	pullFlags(c, &opts)
	f := c.Flags()
	f.StringVar(&opts.Remote, "remote", "", "write the refs as this remote's (REMOTE:REF)")
	f.BoolVar(&opts.GPGVerify, "gpg-verify", false, "verify commits' signatures with --remote's keys")
	f.BoolVar(&opts.GPGVerifySummary, "gpg-verify-summary", false, "require the source's summary to be signed by --remote's keys")
	// Checksums are always verified and writes always synced: accepted
	// for ostree's scripts, they change nothing.
	f.Bool("untrusted", false, "verify checksums of the source's objects (always done)")
	a.jsonFlag(c)
	return c
}

// loadSigner is --gpg-sign=KEYID with --gpg-homedir=DIR.
func loadSigner(keyID, homedir string) (*gpg.Signer, error) {
	s, err := gpg.LoadSigner(homedir, keyID)
	if err != nil {
		return nil, fmt.Errorf("--gpg-sign=%s: %w", keyID, err)
	}
	return s, nil
}

// signCommit adds a signature by each key to a commit's detached metadata.
func signCommit(ctx context.Context, r *store.Repo, c object.Checksum, keyIDs []string, homedir string) error {
	for _, k := range keyIDs {
		s, err := loadSigner(k, homedir)
		if err != nil {
			return err
		}
		have, err := r.CommitSignatures(c)
		if err != nil {
			return err
		}
		for _, sig := range have {
			if gpg.MadeBy(sig, s.KeyID()) {
				return fmt.Errorf("commit %s is already signed with GPG key %s", c, s.KeyID())
			}
		}
		if err := r.SignCommit(ctx, c, s.Sign); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) gpgSignCmd() *cobra.Command {
	var homedir string
	var del bool
	c := &cobra.Command{
		Use:     "gpg-sign [--gpg-homedir=DIR] COMMIT KEYID...",
		Short:   "Sign a commit (the signature goes to its detached metadata)",
		Example: `  arbor --repo=repo gpg-sign --gpg-homedir=~/.gnupg main 0123ABCD`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, c, err := a.openAt(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			if del {
				n, err := r.DeleteSignatures(cmd.Context(), c, func(sig []byte) bool {
					return slices.ContainsFunc(args[1:], func(id string) bool { return gpg.MadeBy(sig, id) })
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "Signatures deleted: %d\n", n)
				return nil
			}
			if err := signCommit(cmd.Context(), r, c, args[1:], homedir); err != nil {
				return err
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&del, "delete", "d", false, "delete the signatures of these keys instead")
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	return c
}

func (a *app) serveCmd() *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "serve [--addr=HOST:PORT]",
		Short: "Serve the repository over HTTP, for development",
		Long: `serve publishes the repository as the static files it is. It is meant for
development; in production put the directory behind nginx or a CDN (any server
of static files will do; run 'summary -u' after each commit).`,
		Example: `  arbor --repo=repo serve --addr=127.0.0.1:8000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			r.Close()
			if r.Mode() != store.ModeArchive {
				fmt.Fprintf(a.Stderr, "warning: %s is a %s repo; clients can only pull from archive repos\n", r.Path(), r.Mode())
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "serving %s on http://%s/\n", r.Path(), ln.Addr())
			srv := &http.Server{Handler: http.FileServer(http.Dir(r.Path())), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8000", "address to listen on")
	return c
}

// parseSets reads --set=KEY=VALUE flags.
func parseSets(sets []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set=%s: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// withSysrootRepo is withRepo on --sysroot's repository when that is
// given (and --repo is not).
func (a *app) withSysrootRepo(run func(cmd *cobra.Command, args []string, r *store.Repo) error) func(*cobra.Command, []string) error {
	inner := a.withRepo(run)
	return func(cmd *cobra.Command, args []string) error {
		if a.remoteSysroot != "" && a.Repo == "" {
			a.Repo = sysroot.RepoPath(a.remoteSysroot)
		}
		return inner(cmd, args)
	}
}

func (a *app) remoteSummaryCmd() *cobra.Command {
	var raw bool
	c := &cobra.Command{
		Use:     "summary [--raw] NAME",
		Short:   "Show a remote's summary, and whose signatures it carries",
		Example: `  arbor --repo=repo remote summary origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			s, err := fetch.NewSession(r, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			b, sig, err := s.SummaryFiles(cmd.Context())
			if err != nil {
				return err
			}
			if b == nil {
				return fmt.Errorf("remote %s has no summary", args[0])
			}
			if err := a.printSummary(b, raw); err != nil {
				return err
			}
			sigs, _ := store.SignaturesAt(sig, store.GPGSigsKey) // unreadable: none
			if len(sigs) == 0 {
				return nil
			}
			keys, err := s.Remote().Keyring(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout)
			a.printFoundSigs("GPG: Verification enabled, found", keys.Check(b, sigs))
			return nil
		}),
	}
	c.Flags().BoolVar(&raw, "raw", false, "print the summary as GVariant text")
	return c
}
