package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/deploy/apps"
	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/appstream"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/store"
	"arbor/store/keyfile"
)

// manager is the installation's workflows, with the daemon to unmount
// what is removed and the small arbor binary for launchers.
func (a *app) manager(r *store.Repo, in *flatpak.Installation) (*apps.Manager, error) {
	exe, err := frontExe()
	if err != nil {
		return nil, err
	}
	m := apps.NewManager(r, in)
	m.Arbor, m.Mounts = exe, mountd.NewClient(r.Path())
	return m, nil
}

// withManager wraps a command that runs a workflow on the installation.
func (a *app) withManager(run func(cmd *cobra.Command, args []string, m *apps.Manager) error) func(*cobra.Command, []string) error {
	return a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
		m, err := a.manager(r, in)
		if err != nil {
			return err
		}
		return run(cmd, args, m)
	})
}

// stdinTerminal says whether questions can be asked.
func stdinTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// ask prints a question and reads a yes or no; def is the answer to an
// empty line.
func (a *app) ask(question string, def bool) bool {
	fmt.Fprint(a.Stdout, question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	switch strings.TrimSpace(strings.ToLower(line)) {
	case "":
		return def
	case "y", "yes":
		return true
	}
	return false
}

// workflowOutput shows a workflow's progress on a terminal's stderr and
// prints each ref's change as it is done (unless --json, where the
// changes are printed at the end).
type workflowOutput struct {
	a       *app
	bar     *progress
	changes []apps.Change
	print   func(apps.Change)
}

func (w *workflowOutput) event(e apps.Event) {
	if e.Phase == apps.PhaseDone {
		w.endBar()
		if e.Change != nil {
			w.changes = append(w.changes, *e.Change)
			if !w.a.json {
				for _, warning := range e.Change.Warnings {
					fmt.Fprintf(w.a.Stderr, "warning: %s: %s\n", termtext.Line(e.Change.Ref.String()), termtext.Line(warning))
				}
				w.print(*e.Change)
			}
		}
		return
	}
	msg := termtext.Line(e.Message)
	if w.bar == nil {
		w.bar = w.a.newProgress(msg, -1, true)
	}
	w.bar.describe(msg)
	w.bar.set(e.Bytes)
}

func (w *workflowOutput) endBar() {
	if w.bar != nil {
		w.bar.done()
		w.bar = nil
	}
}

// finish prints the changes as JSON with --json; err is passed on.
func (w *workflowOutput) finish(err error) error {
	w.endBar()
	if w.a.json {
		if w.changes == nil {
			w.changes = []apps.Change{}
		}
		if perr := w.a.printJSON(w.changes); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

func (a *app) printInstalled(ch apps.Change) {
	fmt.Fprintf(a.Stdout, "Installed %s (commit %s)\n", termtext.Line(ch.Ref.String()), ch.To.String()[:12])
}

func (a *app) installCmd() *cobra.Command {
	var yes, materialize, reinstall, orUpdate, noDeps, appsOnly, runtimes bool
	var from, arch, bundle string
	c := &cobra.Command{
		Use:   "install [-y] [--json] [REMOTE] REF... | --from FILE.flatpakref | --bundle FILE.flatpak",
		Short: "Install apps (and the runtimes they need) to run from lazily fetched mounts",
		Long: `Install apps or runtimes. Only their commits and metadata are fetched: files
come when an app first reads them, through the repository's daemon. A REF may
be a bare ID, ID//BRANCH or a full ref, completed against the remote's refs as
flatpak completes it; without a REMOTE, the remotes that offer it are found
(with several, -y takes the first). An app's runtime is installed too, after
asking unless -y. A ref installed already is skipped, unless --or-update
(update it) or --reinstall (deploy it afresh from REMOTE). A bundle (flatpak
build-bundle's single file) is installed from a remote named ID-origin with
its origin URL and keys; with keys, its commit must be signed by them.`,
		Example: `  arbor install -y origin org.example.Hello
  arbor install -y org.example.Hello org.example.Other
  arbor install -y --from hello.flatpakref
  arbor install -y --bundle hello.flatpak
  arbor run org.example.Hello`,
		Args: func(cmd *cobra.Command, args []string) error {
			if from != "" || bundle != "" {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) == 1 && strings.HasSuffix(args[0], ".flatpakref") {
				from = args[0] // flatpak install FILE.flatpakref
				return nil
			}
			if len(args) == 1 && strings.HasSuffix(args[0], ".flatpak") {
				bundle = args[0] // flatpak install FILE.flatpak
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			ctx := cmd.Context()
			var kind flatpak.Kind
			switch {
			case appsOnly && !runtimes:
				kind = flatpak.App
			case runtimes && !appsOnly:
				kind = flatpak.Runtime
			}
			base := apps.InstallRequest{Kind: kind, Materialize: materialize, NoDeps: noDeps}
			switch {
			case reinstall:
				base.Installed = apps.Reinstall
			case orUpdate:
				base.Installed = apps.OrUpdate
			}
			out := &workflowOutput{a: a, print: a.printUpdated} // --or-update updates
			if bundle != "" {
				return out.finish(a.installWith(yes, func(rt func(flatpak.Ref) bool) ([]apps.Change, error) {
					return m.InstallBundle(ctx, apps.BundleRequest{Path: bundle, Runtime: rt, NoDeps: noDeps, Reinstall: reinstall}, out.event)
				}))
			}
			var reqs []apps.InstallRequest
			if from != "" {
				b, err := apps.ReadLocation(ctx, from)
				if err != nil {
					return err
				}
				req, err := m.RefFileRequest(ctx, b)
				if err != nil {
					return fmt.Errorf("%s: %w", from, err)
				}
				req.Materialize, req.NoDeps, req.Installed = base.Materialize, base.NoDeps, base.Installed
				reqs = append(reqs, req)
			} else {
				remote, names := "", args
				if slices.Contains(fetch.ListRemotes(m.Repo), args[0]) && len(args) > 1 {
					remote, names = args[0], args[1:]
				}
				for _, name := range names {
					req := base
					req.Name = flatpak.WithArch(name, arch)
					req.Remote = remote
					if remote == "" {
						var err error
						if req.Remote, err = a.chooseRemote(ctx, m, req.Name, kind, yes); err != nil {
							return err
						}
					}
					reqs = append(reqs, req)
				}
			}
			var errs []error
			for _, req := range reqs {
				errs = append(errs, a.installOne(ctx, m, req, yes, out))
			}
			return out.finish(errors.Join(errs...))
		}),
	}
	yesFlags(c, &yes, "install what is needed without asking")
	c.Flags().StringVar(&from, "from", "", "install what a .flatpakref file names, adding its remote")
	c.Flags().StringVar(&bundle, "bundle", "", "install the ref a bundle file (flatpak build-bundle's) holds")
	c.Flags().BoolVar(&materialize, "materialize", false, "fetch everything and check it out (hardlinks), to run without mounts and offline")
	c.Flags().BoolVar(&reinstall, "reinstall", false, "deploy a ref installed already afresh from the remote named")
	c.Flags().BoolVar(&orUpdate, "or-update", false, "update a ref installed already")
	c.Flags().BoolVar(&noDeps, "no-deps", false, "install the refs alone: not their runtimes nor extensions")
	c.Flags().BoolVar(&appsOnly, "app", false, "look for apps only")
	c.Flags().BoolVar(&runtimes, "runtime", false, "look for runtimes only")
	c.Flags().StringVar(&arch, "arch", "", "the architecture to install (default: this machine's)")
	c.MarkFlagsMutuallyExclusive("reinstall", "or-update")
	a.jsonFlag(c)
	return c
}

// installOne runs one install, asking about its runtime unless yes; a ref
// installed already is said to be skipped, as flatpak says it.
func (a *app) installOne(ctx context.Context, m *apps.Manager, req apps.InstallRequest, yes bool, out *workflowOutput) error {
	return a.installWith(yes, func(runtime func(flatpak.Ref) bool) ([]apps.Change, error) {
		req.Runtime = runtime
		return m.Install(ctx, req, out.event)
	})
}

// installWith runs an install, with the question to ask before a missing
// runtime is installed (nil with yes: it is).
func (a *app) installWith(yes bool, install func(runtime func(flatpak.Ref) bool) ([]apps.Change, error)) error {
	var ask func(flatpak.Ref) bool
	var rt flatpak.Ref
	asked := false
	if !yes {
		ask = func(r flatpak.Ref) bool {
			rt = r
			if a.json || !stdinTerminal() {
				return false
			}
			asked = true
			return a.ask(fmt.Sprintf("%s needs the runtime %s. Install it? [Y/n] ", termtext.Line(r.ID), termtext.Line(r.String())), true)
		}
	}
	changes, err := install(ask)
	switch {
	case errors.Is(err, apps.ErrAlreadyInstalled):
		if !a.json {
			fmt.Fprintf(a.Stderr, "Skipping: %s\n", termtext.Line(err.Error()))
		}
		return nil
	case errors.Is(err, apps.ErrRuntimeDeclined) && len(changes) > 0:
		if asked {
			return fmt.Errorf("%s is installed without its runtime %s", changes[0].Ref, rt)
		}
		return fmt.Errorf("%s needs the runtime %s: install it too with -y", changes[0].Ref, rt)
	}
	return err
}

// chooseRemote finds the remote to install name from when none is given:
// the one remote that offers it, else the first with yes, else the one
// the user picks on a terminal.
func (a *app) chooseRemote(ctx context.Context, m *apps.Manager, name string, kind flatpak.Kind, yes bool) (string, error) {
	found, err := m.RemotesOffering(ctx, name, kind)
	if err != nil {
		return "", err
	}
	switch {
	case len(found) == 0:
		return "", fmt.Errorf("nothing matches %s in the remotes (%s)", termtext.Line(name), strings.Join(fetch.ListRemotes(m.Repo), ", "))
	case len(found) == 1 || yes:
		return found[0].Remote, nil
	}
	var names []string
	for _, f := range found {
		names = append(names, f.Remote)
	}
	if a.json || !stdinTerminal() {
		return "", fmt.Errorf("%s is offered by several remotes (%s): name one", termtext.Line(name), strings.Join(names, ", "))
	}
	fmt.Fprintf(a.Stdout, "Remotes found with refs similar to %s:\n", termtext.Line(name))
	for i, f := range found {
		fmt.Fprintf(a.Stdout, "   %d) %s (%s)\n", i+1, termtext.Line(f.Remote), termtext.Line(f.Ref.String()))
	}
	fmt.Fprintf(a.Stdout, "Which do you want to use (0 to abort)? [0-%d]: ", len(found))
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(found) {
		return "", fmt.Errorf("no remote chosen for %s", termtext.Line(name))
	}
	return found[n-1].Remote, nil
}

// withInstallation wraps a command that works on the installation around
// the repository.
func (a *app) withInstallation(run func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error) func(*cobra.Command, []string) error {
	return a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
		return run(cmd, args, r, flatpak.NewInstallation(r.Path()))
	})
}

// completeInstalled completes names against the installed refs.
func completeInstalled(in *flatpak.Installation, names []string) ([]flatpak.Ref, error) {
	installed, err := in.Installed()
	if err != nil {
		return nil, err
	}
	var refs []flatpak.Ref
	for _, name := range names {
		ref, err := flatpak.Complete(name, "", installed)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func (a *app) updateCmd() *cobra.Command {
	var commit string
	var yes, downloadOnly bool
	c := &cobra.Command{
		Use:   "update [-y] [--download-only] [--commit=CHECKSUM] [--json] [REF...]",
		Short: "Update installed apps and runtimes (or roll one back with --commit)",
		Long: `Fetch each installed ref's newest commit from its origin and switch to it in
one rename; an app already running keeps its old commit until it exits.

An update that grants the app new permissions is held back: on a terminal
arbor asks, otherwise it prints what the update would grant and leaves the
app as it is; -y accepts. --download-only (flatpak's --no-deploy) fetches
the updates and deploys nothing; the next update applies them without
fetching again.`,
		Example: `  arbor update
  arbor update --download-only && arbor update
  arbor update --commit=4f2a... org.example.Hello`,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			refs, err := completeInstalled(m.In, args)
			if err != nil {
				return err
			}
			req := apps.UpdateRequest{Refs: refs, Commit: commit, DownloadOnly: downloadOnly, AllowNewPermissions: yes}
			out := &workflowOutput{a: a, print: a.printUpdated}
			changes, err := m.Update(cmd.Context(), req, out.event)
			if err != nil || a.json || !stdinTerminal() {
				return out.finish(err)
			}
			var allowed []flatpak.Ref
			for _, ch := range changes {
				if ch.Held() && a.ask(fmt.Sprintf("Update %s and grant it these permissions? [y/N] ", termtext.Line(ch.Ref.String())), false) {
					allowed = append(allowed, ch.Ref)
				}
			}
			if len(allowed) == 0 {
				return out.finish(nil)
			}
			req.Refs, req.AllowNewPermissions = allowed, true
			_, err = m.Update(cmd.Context(), req, out.event)
			return out.finish(err)
		}),
	}
	c.Flags().StringVar(&commit, "commit", "", "deploy this commit of the ref (to roll back)")
	yesFlags(c, &yes, "apply updates that ask for new permissions without asking")
	c.Flags().BoolVar(&downloadOnly, "download-only", false, "fetch the updates, deploy nothing (the next update applies them)")
	c.Flags().BoolVar(&downloadOnly, "no-deploy", false, "flatpak's spelling of --download-only")
	a.jsonFlag(c)
	return c
}

// printUpdated prints what became of one ref in an update.
func (a *app) printUpdated(ch apps.Change) {
	ref := termtext.Line(ch.Ref.String())
	switch {
	case ch.Held():
		fmt.Fprintf(a.Stdout, "%s is held back: the update asks for new permissions:\n", ref)
		for _, p := range ch.NewPermissions {
			fmt.Fprintf(a.Stdout, "    %s\n", termtext.Line(p))
		}
	case ch.Downloaded:
		fmt.Fprintf(a.Stdout, "Downloaded %s (commit %s): the next arbor update applies it\n", ref, ch.To.String()[:12])
	case ch.From == ch.To:
		fmt.Fprintf(a.Stdout, "%s is up to date\n", ref)
	default:
		if len(ch.NewPermissions) > 0 {
			fmt.Fprintf(a.Stdout, "%s now also has:\n", ref)
			for _, p := range ch.NewPermissions {
				fmt.Fprintf(a.Stdout, "    %s\n", termtext.Line(p))
			}
		}
		a.printInstalled(ch)
	}
}

func (a *app) uninstallCmd() *cobra.Command {
	var unused, yes bool
	c := &cobra.Command{
		Use:     "uninstall [--unused] [--json] [REF...]",
		Short:   "Remove installed apps or runtimes; --unused removes runtimes no app needs",
		Example: `  arbor uninstall org.example.Hello && arbor uninstall --unused`,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			refs, err := completeInstalled(m.In, args)
			if err != nil {
				return err
			}
			out := &workflowOutput{a: a, print: func(ch apps.Change) {
				fmt.Fprintf(a.Stdout, "Uninstalled %s\n", termtext.Line(ch.Ref.String()))
			}}
			req := apps.UninstallRequest{Refs: refs, Unused: unused, Needed: func(rt flatpak.Ref, users []flatpak.Ref) bool {
				var names []string
				for _, u := range users {
					names = append(names, termtext.Line(u.String()))
				}
				if yes {
					fmt.Fprintf(a.Stderr, "warning: removing %s, which %s use\n", termtext.Line(rt.String()), strings.Join(names, ", "))
					return true
				}
				if a.json || !stdinTerminal() {
					return false
				}
				fmt.Fprintf(a.Stdout, "Info: applications using the runtime %s:\n   %s\n", termtext.Line(rt.String()), strings.Join(names, ", "))
				return a.ask("Really remove? [y/N] ", false)
			}}
			_, err = m.Uninstall(cmd.Context(), req, out.event)
			return out.finish(err)
		}),
	}
	c.Flags().BoolVar(&unused, "unused", false, "remove runtimes no installed app needs")
	yesFlags(c, &yes, "remove a runtime installed apps use without asking")
	a.jsonFlag(c)
	return c
}

// yesFlags are flatpak's -y/--assumeyes and --noninteractive (which
// answers yes too, as flatpak's does).
func yesFlags(c *cobra.Command, yes *bool, usage string) {
	c.Flags().BoolVarP(yes, "assumeyes", "y", false, usage)
	c.Flags().BoolVar(yes, "noninteractive", false, "as -y, for scripts")
}

func (a *app) historyCmd() *cobra.Command {
	var n int
	c := &cobra.Command{
		Use:   "history [--json] [-n N]",
		Short: "Show what was installed, updated and removed, and when",
		Long: `Show the installation's history, as flatpak history does: the time, the
change, the application or runtime, its branch, the installation, the remote,
and the commits before and after. The newest entry is printed last (first in
--json, which is the history API's order).`,
		Example: `  arbor history -n 20
  arbor history --json`,
		Args: cobra.NoArgs,
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			entries, err := history.Open(apps.HistoryPath(in)).Read(cmd.Context(), n)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(entries)
			}
			installation := installationName(in)
			fmt.Fprintln(a.Stdout, "Time\tChange\tApplication\tBranch\tInstallation\tRemote\tCommit\tOld commit")
			for _, e := range slices.Backward(entries) {
				app, branch := e.Ref, ""
				if ref, err := flatpak.ParseRef(e.Ref); err == nil {
					app, branch = ref.ID, ref.Branch
				}
				change := e.Op
				if e.Error != "" {
					change += " (failed: " + e.Error + ")"
				}
				fmt.Fprintf(a.Stdout, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), termtext.Line(change),
					termtext.Line(app), termtext.Line(branch), termtext.Line(installation), termtext.Line(e.Remote),
					termtext.Line(shortCommit(e.To)), termtext.Line(shortCommit(e.From)))
			}
			return nil
		}),
	}
	c.Flags().IntVarP(&n, "count", "n", 0, "show the newest N entries only (0: all)")
	a.jsonFlag(c)
	return c
}

// installationName is how history names an installation, as flatpak
// does: system, user, or its directory.
func installationName(in *flatpak.Installation) string {
	repo, _ := filepath.Abs(in.Repo)
	if repo == flatpak.SystemRepo {
		return "system"
	}
	if u, err := flatpak.UserRepo(); err == nil && u == repo {
		return "user"
	}
	return in.Dir
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func (a *app) flatpakRemoteAddCmd() *cobra.Command {
	var from, ifNotExists, noGPG bool
	c := &cobra.Command{
		Use:   "remote-add [--from] [--if-not-exists] NAME URL|FILE.flatpakrepo",
		Short: "Add a remote of apps, from a URL or a .flatpakrepo file",
		Example: `  arbor remote-add --if-not-exists example example.flatpakrepo
  arbor remote-add --no-gpg-verify local http://127.0.0.1:8000/`,
		Args: cobra.ExactArgs(2),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			name, loc := args[0], args[1]
			if !from && !strings.HasSuffix(loc, ".flatpakrepo") {
				return m.AddRemote(cmd.Context(), name, loc, fetch.AddOptions{NoGPGVerify: noGPG, IfNotExists: ifNotExists})
			}
			b, err := apps.ReadLocation(cmd.Context(), loc)
			if err != nil {
				return err
			}
			if err := m.AddRepo(cmd.Context(), name, b, ifNotExists); err != nil {
				return fmt.Errorf("%s: %w", loc, err)
			}
			return nil
		}),
	}
	c.Flags().BoolVar(&from, "from", false, "the location is a .flatpakrepo file")
	c.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "do nothing if the remote exists")
	c.Flags().BoolVar(&noGPG, "no-gpg-verify", false, "do not verify signatures (URL only)")
	return c
}

// listColumns are list's --columns.
func listColumns() []string {
	return []string{"ref", "application", "arch", "branch", "kind", "origin", "commit", "active", "runtime", "installation"}
}

func (a *app) listCmd() *cobra.Command {
	var appsOnly, runtimes, details, all bool
	var columns, arch string
	c := &cobra.Command{
		Use:   "list [--app|--runtime] [-d] [-a]",
		Short: "List installed apps and runtimes; -d adds what each takes on disk and whether it is unused",
		Example: `  arbor list --app
  arbor list -d --json`,
		Args: cobra.NoArgs,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			in := m.In
			var cols []string
			if columns != "" {
				var err error
				if cols, err = parseColumns(columns, listColumns()); err != nil {
					return err
				}
			}
			refs, err := in.Installed()
			if err != nil {
				return err
			}
			use := map[string]apps.Use{}
			if details {
				uses, err := m.DiskUse(cmd.Context())
				if err != nil {
					return err
				}
				for _, u := range uses {
					use[u.Ref.String()] = u
				}
			}
			var out []map[string]string
			for _, ref := range refs {
				if appsOnly && ref.Kind != flatpak.App || runtimes && ref.Kind != flatpak.Runtime {
					continue
				}
				if !all && flatpak.Auxiliary(ref) || arch != "" && ref.Arch != arch {
					continue
				}
				d, err := in.Get(ref)
				if err != nil {
					// As flatpak: the rest are listed.
					fmt.Fprintf(a.Stderr, "warning: %s\n", termtext.Line(err.Error()))
					continue
				}
				o := map[string]string{"ref": ref.String(), "commit": d.Commit.String(), "origin": d.Origin}
				if cols != nil {
					for k, v := range refColumns(ref) {
						o[k] = v
					}
					o["active"], o["runtime"], o["installation"] = d.Commit.String()[:12], d.Metadata.Runtime, installationName(in)
				}
				if of := d.Metadata.ExtensionOf(); of != "" {
					o["extension_of"] = of
				}
				if u, ok := use[ref.String()]; ok {
					o["disk_bytes"], o["unused"] = strconv.FormatUint(u.Bytes, 10), strconv.FormatBool(u.Unused)
				}
				out = append(out, o)
			}
			if a.json {
				if out == nil {
					out = []map[string]string{}
				}
				return a.printJSON(out)
			}
			if cols != nil {
				a.printColumns(out, cols)
				return nil
			}
			for _, o := range out {
				line := fmt.Sprintf("%s\t%s\t%s", termtext.Line(o["ref"]), termtext.Line(o["origin"]), o["commit"][:12])
				if details {
					n, _ := strconv.ParseUint(o["disk_bytes"], 10, 64)
					line += "\t" + humanBytes(int64(n))
					if o["unused"] == "true" {
						line += "\tunused"
					}
				}
				if of := o["extension_of"]; of != "" {
					line += "\textension of " + termtext.Line(of)
				}
				fmt.Fprintln(a.Stdout, line)
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&details, "show-details", "d", false, "show what each takes on disk, and the runtimes no app needs")
	c.Flags().BoolVar(&appsOnly, "app", false, "apps only")
	c.Flags().BoolVar(&runtimes, "runtime", false, "runtimes only")
	c.Flags().BoolVarP(&all, "all", "a", false, "also the locale, debug and sources extensions, hidden as flatpak hides them")
	c.Flags().StringVar(&columns, "columns", "", "print these columns, comma-separated: "+strings.Join(listColumns(), ",")+" (or all)")
	c.Flags().StringVar(&arch, "arch", "", "list this architecture's refs only")
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

func (a *app) infoCmd() *cobra.Command {
	var showCommit, showMeta, showRef, showOrigin, showSize bool
	var arch string
	c := &cobra.Command{
		Use:   "info [-c|-m|-r|-o|-s] REF",
		Short: "Show an installed app or runtime: commit, origin, runtime, permissions, sizes",
		Example: `  arbor info org.example.Hello
  arbor info --show-commit org.example.Hello`,
		Args: cobra.ExactArgs(1),
		RunE: a.withInstallation(func(cmd *cobra.Command, args []string, r *store.Repo, in *flatpak.Installation) error {
			installed, err := in.Installed()
			if err != nil {
				return err
			}
			ref, err := flatpak.Complete(flatpak.WithArch(args[0], arch), "", installed)
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
			installedSize, downloadSize := flatpak.CommitSizes(cm.Metadata)
			// flatpak's one-item options print that item alone, one per
			// line in this order, for scripts.
			if showRef || showCommit || showOrigin || showSize || showMeta {
				if showRef {
					fmt.Fprintln(a.Stdout, termtext.Line(ref.String()))
				}
				if showCommit {
					fmt.Fprintln(a.Stdout, d.Commit)
				}
				if showOrigin {
					fmt.Fprintln(a.Stdout, termtext.Line(d.Origin))
				}
				if showSize {
					fmt.Fprintln(a.Stdout, installedSize)
				}
				if showMeta {
					_, err = io.WriteString(a.Stdout, termtext.Block(string(d.Metadata.Raw)))
				}
				return err
			}
			perms := permissionsText(d)
			info := map[string]any{"ref": ref.String(), "commit": d.Commit.String(), "origin": d.Origin,
				"runtime": d.Metadata.Runtime, "command": d.Metadata.Command,
				"installed_size": installedSize, "download_size": downloadSize,
				"subject": cm.Subject, "permissions": perms}
			if a.json {
				return a.printJSON(info)
			}
			fmt.Fprintf(a.Stdout, "Ref: %s\nCommit: %s\nOrigin: %s\n", termtext.Line(ref.String()), d.Commit, termtext.Line(d.Origin))
			if d.Metadata.Runtime != "" {
				fmt.Fprintf(a.Stdout, "Runtime: %s\n", termtext.Line(d.Metadata.Runtime))
			}
			fmt.Fprintf(a.Stdout, "Subject: %s\nDate: %s\n", termtext.Line(cm.Subject), time.Unix(int64(cm.Timestamp), 0).UTC().Format("2006-01-02 15:04:05 -0700"))
			fmt.Fprintf(a.Stdout, "Installed size: %d\nDownload size: %d\n", installedSize, downloadSize)
			if p := strings.TrimSpace(perms); p != "" {
				fmt.Fprintf(a.Stdout, "\nPermissions:\n%s\n", termtext.Block(p))
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&showCommit, "show-commit", "c", false, "print the deployed commit only")
	c.Flags().BoolVarP(&showMeta, "show-metadata", "m", false, "print the metadata file only")
	c.Flags().BoolVarP(&showRef, "show-ref", "r", false, "print the full ref only")
	c.Flags().BoolVarP(&showOrigin, "show-origin", "o", false, "print the remote it came from only")
	c.Flags().BoolVarP(&showSize, "show-size", "s", false, "print the installed size only")
	c.Flags().StringVar(&arch, "arch", "", "the architecture (default: any installed)")
	a.jsonFlag(c)
	return c
}

// remoteLsColumns are remote-ls's --columns.
func remoteLsColumns() []string {
	return []string{"ref", "application", "arch", "branch", "kind", "commit", "origin"}
}

func (a *app) remoteLsCmd() *cobra.Command {
	var updates, appsOnly, runtimes bool
	var columns, arch string
	c := &cobra.Command{
		Use:   "remote-ls REMOTE | --updates",
		Short: "List the apps and runtimes a remote offers, or the updates of what is installed",
		Example: `  arbor remote-ls origin
  arbor remote-ls --updates --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if updates {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if updates {
				return a.listUpdates(cmd, r)
			}
			var cols []string
			if columns != "" {
				var err error
				if cols, err = parseColumns(columns, remoteLsColumns()); err != nil {
					return err
				}
			}
			refs, err := fetch.RemoteRefs(cmd.Context(), r, args[0])
			if err != nil {
				return err
			}
			var names []string
			for n := range refs {
				ref, err := flatpak.ParseRef(n)
				if err != nil || appsOnly && ref.Kind != flatpak.App || runtimes && ref.Kind != flatpak.Runtime || arch != "" && ref.Arch != arch {
					continue
				}
				names = append(names, n)
			}
			sort.Strings(names)
			if cols != nil && !a.json {
				rows := make([]map[string]string, 0, len(names))
				for _, n := range names {
					ref, _ := flatpak.ParseRef(n)
					row := refColumns(ref)
					row["commit"], row["origin"] = refs[n].String(), args[0]
					rows = append(rows, row)
				}
				a.printColumns(rows, cols)
				return nil
			}
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
	c.Flags().BoolVar(&updates, "updates", false, "list the installed refs whose origin has a newer commit, and the permissions each asks for")
	c.Flags().BoolVar(&appsOnly, "app", false, "apps only")
	c.Flags().BoolVar(&runtimes, "runtime", false, "runtimes only")
	c.Flags().StringVar(&columns, "columns", "", "print these columns, comma-separated: "+strings.Join(remoteLsColumns(), ",")+" (or all)")
	c.Flags().StringVar(&arch, "arch", "", "this architecture's refs only")
	a.jsonFlag(c)
	return c
}

// listUpdates prints what `update` would change.
func (a *app) listUpdates(cmd *cobra.Command, r *store.Repo) error {
	m, err := a.manager(r, flatpak.NewInstallation(r.Path()))
	if err != nil {
		return err
	}
	ups, err := m.Updates(cmd.Context())
	if err != nil {
		return err
	}
	if a.json {
		if ups == nil {
			ups = []apps.Update{}
		}
		return a.printJSON(ups)
	}
	for _, u := range ups {
		line := fmt.Sprintf("%s\t%s\t%s -> %s", termtext.Line(u.Ref.String()), termtext.Line(u.Origin), u.From.String()[:12], u.To.String()[:12])
		if len(u.NewPermissions) > 0 {
			line += "\tasks for: " + termtext.Line(strings.Join(u.NewPermissions, ", "))
		}
		fmt.Fprintln(a.Stdout, line)
	}
	return nil
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

// recorder is run --record-profile's side in the daemon.
type recorder struct{ a *app }

// Fresh takes a deployed commit's mount down, if it is up.
func (r recorder) Fresh(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) error {
	mp := in.MountDir(d.Commit)
	if !mountinfo.IsArbor(mp) {
		return nil
	}
	repo, err := filepath.Abs(in.Repo)
	if err != nil {
		return err
	}
	if err := mountd.NewClient(repo).Unmount(ctx, mp); err == nil {
		return nil
	}
	return mountd.Detach(repo, mp) // its daemon is gone
}

// Profile is what a deployed commit's mount read first.
func (r recorder) Profile(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) ([]string, error) {
	repo, err := filepath.Abs(in.Repo)
	if err != nil {
		return nil, err
	}
	return mountd.NewClient(repo).Profile(ctx, in.MountDir(d.Commit))
}
