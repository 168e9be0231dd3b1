package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/appstream"
	"arbor/deploy/flatpak/commits"
	"arbor/fetch"
	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/store"
	"arbor/store/keyfile"
	"arbor/store/object"
	"arbor/store/refs"
)

func (a *app) installCmd() *cobra.Command {
	var yes, materialize bool
	var from string
	c := &cobra.Command{
		Use:   "install [-y] REMOTE REF | --from FILE.flatpakref",
		Short: "Install an app (and the runtime it needs) to run from lazily fetched mounts",
		Long: `Install an app or runtime. Only its commit and metadata are fetched: files come
when the app first reads them, through the repository's daemon. REF may be a
bare ID, ID//BRANCH or a full ref, completed against the remote's refs as
flatpak completes it. An app's runtime is installed too, after asking unless -y.`,
		Example: `  arbor install -y origin org.example.Hello
  arbor install -y --from hello.flatpakref
  arbor run org.example.Hello`,
		Args: func(cmd *cobra.Command, args []string) error {
			if from != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			runtimeRepo := ""
			if from != "" {
				b, err := readLocation(cmd.Context(), from)
				if err != nil {
					return err
				}
				f, err := flatpak.ParseRefFile(b)
				if err != nil {
					return fmt.Errorf("%s: %w", from, err)
				}
				remote, err := remoteForRef(r, f)
				if err != nil {
					return err
				}
				args = []string{remote, f.Ref().String()}
				runtimeRepo = f.RuntimeRepo
			}
			d, err := a.installOne(cmd.Context(), r, in, args[0], args[1], flatpak.App, "", materialize)
			if err != nil {
				return err
			}
			if d.Metadata.Kind != flatpak.App || d.Metadata.Runtime == "" {
				return nil
			}
			rt, err := flatpak.ParsePartial(flatpak.Runtime, d.Metadata.Runtime)
			if err != nil {
				return err
			}
			if _, err := in.Get(rt); err == nil {
				return nil
			}
			if !yes {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return fmt.Errorf("%s needs the runtime %s: install it too with -y", d.Ref, rt)
				}
				fmt.Fprintf(a.Stdout, "%s needs the runtime %s. Install it? [Y/n] ", termtext.Line(d.Ref.ID), termtext.Line(rt.String()))
				line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if l := strings.TrimSpace(strings.ToLower(line)); l != "" && l != "y" && l != "yes" {
					return fmt.Errorf("%s is installed without its runtime %s", d.Ref, rt)
				}
			}
			remote, err := runtimeRemote(cmd.Context(), r, args[0], rt, runtimeRepo)
			if err != nil {
				return err
			}
			_, err = a.installOne(cmd.Context(), r, in, remote, rt.String(), flatpak.Runtime, "", materialize)
			return err
		}),
	}
	c.Flags().BoolVarP(&yes, "assumeyes", "y", false, "install what is needed without asking")
	c.Flags().StringVar(&from, "from", "", "install what a .flatpakref file names, adding its remote")
	c.Flags().BoolVar(&materialize, "materialize", false, "fetch everything and check it out (hardlinks), to run without mounts and offline")
	return c
}

// withInstallation wraps a command that works on the installation around
// the repository.
func (a *app) withInstallation(run func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error) func(*cobra.Command, []string) error {
	return a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
		return run(cmd, args, r, flatpak.NewInstallation(r.Path()))
	})
}

// installOne fetches a ref's commit (its signature checked as a pull
// checks it) and deploys it from its xa.metadata.
func (a *app) installOne(ctx context.Context, r *store.Repo, in *flatpak.Installation, remote, name string, kind flatpak.Kind, at string, materialize bool) (*flatpak.Deployed, error) {
	remoteRefs, err := fetch.RemoteRefs(ctx, r, remote)
	if err != nil {
		return nil, err
	}
	var cands []flatpak.Ref
	for n := range remoteRefs {
		if r, err := flatpak.ParseRef(n); err == nil {
			cands = append(cands, r)
		}
	}
	ref, err := flatpak.Complete(name, kind, cands)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", remote, err)
	}
	want := ref.String()
	if at != "" {
		want += "@" + at // a given commit, bound to the ref all the same
	}
	res, err := fetch.Pull(ctx, r, remote, fetch.PullOptions{Refs: []string{want}, CommitMetadataOnly: !materialize})
	if err != nil {
		return nil, err
	}
	c, ok := res.Refs[ref.String()]
	if !ok {
		return nil, fmt.Errorf("%s: the pull did not return it", ref)
	}
	cm, err := r.ReadCommit(c)
	if err != nil {
		return nil, err
	}
	v, ok := object.Lookup(cm.Metadata, "xa.metadata")
	meta, _ := v.Value.(string)
	if !ok || meta == "" {
		return nil, fmt.Errorf("%s (commit %s) has no xa.metadata: not an app or runtime", ref, c)
	}
	if !materialize {
		// The tree's own metadata file, for the comparison below.
		if _, err := fetch.Pull(ctx, r, remote, fetch.PullOptions{Refs: []string{want}, Subpath: "/metadata"}); err != nil {
			return nil, fmt.Errorf("%s: fetching its metadata file: %w", ref, err)
		}
	}
	file, err := r.ReadFile(c, "/metadata", 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	// What the user was shown (xa.metadata) is what runs: a commit whose
	// tree says otherwise is refused (CVE-2021-43860).
	if err := flatpak.CheckCommitMetadata(cm.Metadata, ref, file); err != nil {
		return nil, fmt.Errorf("%s (commit %s): %w", ref, c, err)
	}
	if ref.Kind == flatpak.App && !materialize {
		// The desktop files and icons: small, fetched now.
		if _, err := fetch.Pull(ctx, r, remote, fetch.PullOptions{Refs: []string{want}, Subpath: "/export"}); err != nil {
			return nil, fmt.Errorf("%s: fetching its exports: %w", ref, err)
		}
	}
	exe, err := frontExe()
	if err != nil {
		return nil, err
	}
	d, warnings, err := commits.Deploy(ctx, r, in, ref, c, commits.DeployOptions{Origin: remote, Metadata: []byte(meta), Materialize: materialize, Arbor: exe})
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.Stderr, "warning: %s: %s\n", termtext.Line(ref.String()), termtext.Line(w))
	}
	fmt.Fprintf(a.Stdout, "Installed %s (commit %s)\n", termtext.Line(ref.String()), c.String()[:12])
	return d, nil
}

func (a *app) listCmd() *cobra.Command {
	var apps, runtimes bool
	c := &cobra.Command{
		Use:     "list [--app|--runtime]",
		Short:   "List installed apps and runtimes",
		Example: `  arbor list --app`,
		Args:    cobra.NoArgs,
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			refs, err := in.Installed()
			if err != nil {
				return err
			}
			var out []map[string]string
			for _, ref := range refs {
				if apps && ref.Kind != flatpak.App || runtimes && ref.Kind != flatpak.Runtime {
					continue
				}
				d, err := in.Get(ref)
				if err != nil {
					return err
				}
				out = append(out, map[string]string{"ref": ref.String(), "commit": d.Commit.String(), "origin": d.Origin})
			}
			if a.json {
				if out == nil {
					out = []map[string]string{}
				}
				return a.printJSON(out)
			}
			for _, o := range out {
				fmt.Fprintf(a.Stdout, "%s\t%s\t%s\n", termtext.Line(o["ref"]), termtext.Line(o["origin"]), o["commit"][:12])
			}
			return nil
		}),
	}
	c.Flags().BoolVar(&apps, "app", false, "apps only")
	c.Flags().BoolVar(&runtimes, "runtime", false, "runtimes only")
	a.jsonFlag(c)
	return c
}

// ensureMount has the daemon mount a deployed commit (lazily, from its
// origin) where run expects it, unless it is mounted already. A mount
// left by a daemon that died is taken down first.
func (a *app) ensureMount(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) error {
	mp := in.MountDir(d.Commit)
	if mountinfo.Serving(mp) {
		return nil
	}
	repo, err := filepath.Abs(in.Repo)
	if err != nil {
		return err
	}
	if mountinfo.IsArbor(mp) {
		if err := mountd.Detach(repo, mp); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return err
	}
	argv, err := daemonArgv(repo)
	if err != nil {
		return err
	}
	cl, err := mountd.EnsureDaemon(ctx, repo, argv)
	if err != nil {
		return err
	}
	_, err = cl.Mount(ctx, mountd.MountRequest{Source: d.Origin + ":" + d.Ref.String() + "@" + d.Commit.String(), Mountpoint: mp})
	if errors.Is(err, mountd.ErrClosing) {
		return a.ensureMount(ctx, in, d)
	}
	return err
}

func (a *app) updateCmd() *cobra.Command {
	var commit string
	c := &cobra.Command{
		Use:   "update [--commit=CHECKSUM] [REF...]",
		Short: "Update installed apps and runtimes (or roll one back with --commit)",
		Long: `Fetch each installed ref's newest commit from its origin and switch to it in
one rename; an app already running keeps its old commit until it exits.`,
		Example: `  arbor update
  arbor update --commit=4f2a... org.example.Hello`,
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			installed, err := in.Installed()
			if err != nil {
				return err
			}
			targets := installed
			if len(args) > 0 {
				targets = nil
				for _, name := range args {
					ref, err := flatpak.Complete(name, "", installed)
					if err != nil {
						return err
					}
					targets = append(targets, ref)
				}
			}
			if commit != "" && len(targets) != 1 {
				return fmt.Errorf("--commit needs exactly one ref")
			}
			for _, ref := range targets {
				d, err := in.Get(ref)
				if err != nil {
					return err
				}
				_, materialized := in.FilesDir(d)
				nd, err := a.installOne(cmd.Context(), r, in, d.Origin, ref.String(), ref.Kind, commit, materialized)
				if err != nil {
					return err
				}
				if nd.Commit == d.Commit {
					fmt.Fprintf(a.Stdout, "%s is up to date\n", termtext.Line(ref.String()))
				}
			}
			return nil
		}),
	}
	c.Flags().StringVar(&commit, "commit", "", "deploy this commit of the ref (to roll back)")
	return c
}

func (a *app) uninstallCmd() *cobra.Command {
	var unused bool
	c := &cobra.Command{
		Use:     "uninstall [--unused] [REF...]",
		Short:   "Remove installed apps or runtimes; --unused removes runtimes no app needs",
		Example: `  arbor uninstall org.example.Hello && arbor uninstall --unused`,
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			installed, err := in.Installed()
			if err != nil {
				return err
			}
			var refs []flatpak.Ref
			for _, name := range args {
				ref, err := flatpak.Complete(name, "", installed)
				if err != nil {
					return err
				}
				refs = append(refs, ref)
			}
			if unused {
				u, err := in.Unused()
				if err != nil {
					return err
				}
				refs = append(refs, u...)
			}
			if len(refs) == 0 && !unused {
				return fmt.Errorf("nothing to uninstall: name a ref or use --unused")
			}
			for _, ref := range refs {
				d, err := in.Get(ref)
				if err != nil {
					return err
				}
				mp := in.MountDir(d.Commit)
				if mountinfo.IsArbor(mp) {
					if err := mountd.NewClient(r.Path()).Unmount(cmd.Context(), mp); err != nil {
						return fmt.Errorf("%s is in use: %w", ref, err)
					}
				}
				if err := in.Undeploy(ref); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "Uninstalled %s\n", termtext.Line(ref.String()))
			}
			return nil
		}),
	}
	c.Flags().BoolVar(&unused, "unused", false, "remove runtimes no installed app needs")
	return c
}

func (a *app) infoCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "info REF",
		Short:   "Show an installed app or runtime: commit, origin, runtime, permissions, sizes",
		Example: `  arbor info org.example.Hello`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			installed, err := in.Installed()
			if err != nil {
				return err
			}
			ref, err := flatpak.Complete(args[0], "", installed)
			if err != nil {
				return err
			}
			d, err := in.Get(ref)
			if err != nil {
				return err
			}
			cm, err := r.ReadCommit(d.Commit)
			if err != nil {
				return err
			}
			size := func(key string) uint64 {
				if v, ok := object.Lookup(cm.Metadata, key); ok {
					if n, ok := v.Value.(uint64); ok {
						return bits.ReverseBytes64(n)
					}
				}
				return 0
			}
			kf := keyfile.New()
			d.Metadata.Context.Keyfile(kf, false)
			info := map[string]any{"ref": ref.String(), "commit": d.Commit.String(), "origin": d.Origin,
				"runtime": d.Metadata.Runtime, "command": d.Metadata.Command,
				"installed_size": size("xa.installed-size"), "download_size": size("xa.download-size"),
				"permissions": string(kf.Bytes())}
			if a.json {
				return a.printJSON(info)
			}
			fmt.Fprintf(a.Stdout, "Ref: %s\nCommit: %s\nOrigin: %s\n", termtext.Line(ref.String()), d.Commit, termtext.Line(d.Origin))
			if d.Metadata.Runtime != "" {
				fmt.Fprintf(a.Stdout, "Runtime: %s\n", termtext.Line(d.Metadata.Runtime))
			}
			fmt.Fprintf(a.Stdout, "Installed size: %d\nDownload size: %d\n", info["installed_size"], info["download_size"])
			if p := strings.TrimSpace(string(kf.Bytes())); p != "" {
				fmt.Fprintf(a.Stdout, "\nPermissions:\n%s\n", termtext.Block(p))
			}
			return nil
		}),
	}
	a.jsonFlag(c)
	return c
}

func (a *app) remoteLsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "remote-ls REMOTE",
		Short:   "List the apps and runtimes a remote offers",
		Example: `  arbor remote-ls origin`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			refs, err := fetch.RemoteRefs(cmd.Context(), r, args[0])
			if err != nil {
				return err
			}
			var names []string
			for n := range refs {
				if _, err := flatpak.ParseRef(n); err == nil {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			if a.json {
				out := make([]map[string]string, 0, len(names))
				for _, n := range names {
					out = append(out, map[string]string{"ref": n, "commit": refs[n].String()})
				}
				return a.printJSON(out)
			}
			for _, n := range names {
				fmt.Fprintf(a.Stdout, "%s\t%s\n", termtext.Line(n), refs[n].String()[:12])
			}
			return nil
		}),
	}
	a.jsonFlag(c)
	return c
}

// addRemoteFrom adds a remote as a .flatpakrepo or .flatpakref describes
// it: its URL, its key (then commits and summary are verified), its
// display keys.
func addRemoteFrom(r *store.Repo, name, url string, key []byte, set map[string]string, ifNotExists bool) error {
	o := fetch.AddOptions{Set: set, IfNotExists: ifNotExists, NoGPGVerify: key == nil}
	if key != nil {
		f, err := os.CreateTemp("", "arbor-key-")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		if _, err := f.Write(key); err != nil {
			f.Close()
			return err
		}
		f.Close()
		o.GPGImport = f.Name()
		o.Set["gpg-verify-summary"] = "true"
	}
	return fetch.AddRemote(r, name, url, o)
}

func (a *app) flatpakRemoteAddCmd() *cobra.Command {
	var from, ifNotExists, noGPG bool
	c := &cobra.Command{
		Use:   "remote-add [--from] [--if-not-exists] NAME URL|FILE.flatpakrepo",
		Short: "Add a remote of apps, from a URL or a .flatpakrepo file",
		Example: `  arbor remote-add --if-not-exists example example.flatpakrepo
  arbor remote-add --no-gpg-verify local http://127.0.0.1:8000/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			name, loc := args[0], args[1]
			if !from && !strings.HasSuffix(loc, ".flatpakrepo") {
				return fetch.AddRemote(r, name, loc, fetch.AddOptions{NoGPGVerify: noGPG, IfNotExists: ifNotExists})
			}
			b, err := readLocation(cmd.Context(), loc)
			if err != nil {
				return err
			}
			f, err := flatpak.ParseRepoFile(b)
			if err != nil {
				return fmt.Errorf("%s: %w", loc, err)
			}
			return addRemoteFrom(r, name, f.URL, f.GPGKey, repoFileSettings(f), ifNotExists)
		},
	}
	c.Flags().BoolVar(&from, "from", false, "the location is a .flatpakrepo file")
	c.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "do nothing if the remote exists")
	c.Flags().BoolVar(&noGPG, "no-gpg-verify", false, "do not verify signatures (URL only)")
	return c
}

// repoFileSettings are the remote's config keys a .flatpakrepo sets.
func repoFileSettings(f *flatpak.RepoFile) map[string]string {
	set := map[string]string{}
	for k, v := range map[string]string{"xa.title": f.Title, "xa.comment": f.Comment, "xa.description": f.Description,
		"xa.homepage": f.Homepage, "xa.icon": f.Icon, "xa.default-branch": f.DefaultBranch, "collection-id": f.CollectionID} {
		if v != "" {
			set[k] = v
		}
	}
	return set
}

// readLocation reads a .flatpakref or .flatpakrepo from a path or a URL.
func readLocation(ctx context.Context, loc string) ([]byte, error) {
	if strings.Contains(loc, "://") {
		return fetch.GetURL(ctx, loc, 1<<20)
	}
	return os.ReadFile(loc)
}

// runtimeRemote finds the remote to install an app's runtime from, as
// flatpak looks for it: the app's remote, then the others, then the
// .flatpakrepo the app's .flatpakref named as RuntimeRepo, added as a
// remote named after its file.
func runtimeRemote(ctx context.Context, r *store.Repo, appRemote string, rt flatpak.Ref, runtimeRepo string) (string, error) {
	has := func(remote string) bool {
		refs, err := fetch.RemoteRefs(ctx, r, remote)
		if err != nil {
			return false
		}
		_, ok := refs[rt.String()]
		return ok
	}
	names := []string{appRemote}
	for _, n := range fetch.ListRemotes(r) {
		if n != appRemote {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if has(n) {
			return n, nil
		}
	}
	if runtimeRepo == "" {
		return "", fmt.Errorf("no remote has the runtime %s", rt)
	}
	b, err := readLocation(ctx, runtimeRepo)
	if err != nil {
		return "", fmt.Errorf("the runtime's repository: %w", err)
	}
	f, err := flatpak.ParseRepoFile(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", runtimeRepo, err)
	}
	if n, ok := remoteWithURL(r, f.URL); ok {
		return "", fmt.Errorf("remote %s (%s) has no runtime %s", n, f.URL, rt)
	}
	name := strings.TrimSuffix(path.Base(runtimeRepo), ".flatpakrepo")
	if err := refs.ValidateRemote(name); err != nil {
		return "", fmt.Errorf("%s: %w", runtimeRepo, err)
	}
	if err := addRemoteFrom(r, name, f.URL, f.GPGKey, repoFileSettings(f), false); err != nil {
		return "", err
	}
	if !has(name) {
		return "", fmt.Errorf("remote %s (%s) has no runtime %s", name, f.URL, rt)
	}
	return name, nil
}

// remoteWithURL finds the remote that fetches from url.
func remoteWithURL(r *store.Repo, url string) (string, bool) {
	for _, name := range fetch.ListRemotes(r) {
		if rm, err := fetch.LoadRemote(r, name); err == nil && strings.TrimSuffix(rm.URL, "/") == strings.TrimSuffix(url, "/") {
			return name, true
		}
	}
	return "", false
}

// remoteForRef finds or adds the remote a .flatpakref points at: one with
// the same URL is reused, as flatpak reuses it.
func remoteForRef(r *store.Repo, f *flatpak.RefFile) (string, error) {
	if name, ok := remoteWithURL(r, f.URL); ok {
		return name, nil
	}
	name := f.OriginRemoteName()
	set := map[string]string{"xa.noenumerate": "true", "xa.main-ref": f.Ref().String()}
	if f.Title != "" {
		set["xa.title"] = f.Title
	}
	return name, addRemoteFrom(r, name, f.URL, f.GPGKey, set, false)
}

func (a *app) overrideCmd() *cobra.Command {
	var reset, show bool
	var p launch.PermFlags
	var unshare []string
	c := &cobra.Command{
		Use:   "override [--user] [--reset|--show] ID [PERMISSION...]",
		Short: "Change an app's permissions for this installation",
		Example: `  arbor override --user org.example.Hello --unshare=network --filesystem=~/Music:ro
  arbor override --show org.example.Hello`,
		Args: cobra.ExactArgs(1),
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			id := args[0]
			switch {
			case reset:
				return in.ResetOverride(id)
			case show:
				c, err := in.Override(id)
				if err != nil {
					return err
				}
				kf := keyfile.New()
				c.Keyfile(kf, true)
				_, err = io.WriteString(a.Stdout, termtext.Block(string(kf.Bytes())))
				return err
			}
			more, err := p.Context()
			if err != nil {
				return err
			}
			for _, s := range unshare {
				more.Shared[s] = false
			}
			return in.SetOverride(id, more)
		}),
	}
	c.Flags().BoolVar(&reset, "reset", false, "drop the app's overrides")
	c.Flags().BoolVar(&show, "show", false, "print the app's overrides")
	c.Flags().StringArrayVar(&unshare, "unshare", nil, "unshare network or ipc")
	p.Add(c)
	return c
}

func (a *app) searchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "search TEXT",
		Short:   "Search the remotes' AppStream data for apps",
		Example: `  arbor search hello`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			branch := "appstream2/" + flatpak.Arch()
			type hit struct {
				appstream.Component
				Remote string `json:"remote"`
			}
			var hits []hit
			for _, remote := range fetch.ListRemotes(r) {
				if _, err := fetch.Pull(cmd.Context(), r, remote, fetch.PullOptions{Refs: []string{branch}}); err != nil {
					fmt.Fprintf(a.Stderr, "remote %s: no AppStream data: %s\n", termtext.Line(remote), termtext.Line(err.Error()))
					continue
				}
				c, err := r.Resolve(remote + ":" + branch)
				if err != nil {
					return err
				}
				doc, err := r.ReadFile(c, "/appstream.xml", 256<<20)
				if err != nil {
					return fmt.Errorf("remote %s: %w", remote, err)
				}
				comps, err := appstream.Parse(doc)
				if err != nil {
					return fmt.Errorf("remote %s: %w", remote, err)
				}
				for _, comp := range comps {
					if comp.Matches(args[0]) {
						hits = append(hits, hit{comp, remote})
					}
				}
			}
			if a.json {
				if hits == nil {
					hits = []hit{}
				}
				return a.printJSON(hits)
			}
			if len(hits) == 0 {
				fmt.Fprintln(a.Stdout, "No matches found")
				return nil
			}
			for _, h := range hits {
				branch := ""
				if ref, err := flatpak.ParseRef(h.Bundle); err == nil {
					branch = ref.Branch
				}
				fmt.Fprintf(a.Stdout, "%s\t%s\t%s\t%s\t%s\n", termtext.Line(h.Name), termtext.Line(h.Summary), termtext.Line(h.ID), termtext.Line(branch), termtext.Line(h.Remote))
			}
			return nil
		}),
	}
	a.jsonFlag(c)
	return c
}
