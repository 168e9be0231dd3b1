// Command arbor manages OSTree repositories: the same objects, layout and
// command-line spelling as ostree, so scripts switch by changing the name.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/store"
	"arbor/store/object"
)

// app carries what every command shares; there is no package-level state.
type app struct {
	launch.Globals
	sysroot       string // --sysroot of the admin commands
	remoteSysroot string // remote's --sysroot: "" for none (admin's default is /)
	json          bool
}

// bigBuffers keeps the heap near what is alive, for work whose garbage
// is whole files and parts, as a delta's generation: at the raised heap
// target it would be most of the memory (920 MB generating 1 GiB). The
// soft limit leaves room beside it for liblzma's encoders (two at once,
// 95 MiB) within 256 MiB. GOGC and GOMEMLIMIT still override them.
func bigBuffers() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}

func main() {
	if os.Getenv("GOGC") == "" {
		// Commits and pulls allocate per file and keep little alive: a
		// larger heap target cuts the collector's share of a pull by a
		// third. GOGC still overrides it.
		debug.SetGCPercent(400)
	}
	ctx := cancelOnSignal()
	a := &app{Globals: launch.Globals{Stdout: os.Stdout, Stderr: os.Stderr}}
	err := a.rootCmd().ExecuteContext(ctx)
	if errors.Is(err, errPrinted) {
		err = nil
	}
	var sig signalled
	if errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &sig) {
		// As a shell reports a command a signal ended: 130 for SIGINT,
		// 143 for SIGTERM, so scripts tell a cancel from a failure.
		fmt.Fprintf(os.Stderr, "error: cancelled by %s: %s\n", unix.SignalName(sig.Signal), termtext.Line(err.Error()))
		os.Exit(128 + int(sig.Signal))
	}
	launch.Exit(err)
}

// errPrinted ends a command that did all it had to in a hook (admin
// --print-current-dir), successfully.
var errPrinted = errors.New("printed")

// signalled is why a command's context was cancelled.
type signalled struct{ syscall.Signal }

func (s signalled) Error() string { return s.Signal.String() }

// cancelOnSignal is the context of every command: SIGINT or SIGTERM
// cancels it, and every walk, pull and wait checks it. A second signal
// ends the process at once.
func cancelOnSignal() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		signal.Stop(sigs)
		cancel(signalled{s.(syscall.Signal)})
	}()
	return ctx
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   launch.ProgName(),
		Short: "Content-addressed filesystem trees, compatible with OSTree repositories",
		Long: `arbor keeps whole filesystem trees in OSTree repositories: commit a directory,
check it out by hardlinks, browse, diff, verify and prune. Objects and checksums
are OSTree's byte for byte, and commands accept ostree's flags.`,
		Example: `  arbor --repo=repo init --mode=archive
  arbor --repo=repo commit -b main -s "first" --tree=dir=./rootfs
  arbor --repo=repo ls -R main /etc`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	a.AddFlags(root)
	// ostree's -v prints its debug log; arbor's errors already name what
	// failed, so the flag is taken and changes nothing.
	root.PersistentFlags().BoolP("verbose", "v", false, "accepted for ostree's scripts")
	root.Version = ostreeVersion
	root.SetVersionTemplate(versionYAML())
	root.AddCommand(
		a.initCmd(), a.commitCmd(), a.checkoutCmd(),
		a.logCmd(), a.showCmd(), a.lsCmd(), a.catCmd(), a.diffCmd(), a.exportCmd(),
		a.refsCmd(), a.revParseCmd(),
		a.fsckCmd(), a.pruneCmd(), a.reindexCmd(),
		a.remoteCmd(), a.pullCmd(), a.pullLocalCmd(), a.summaryCmd(), a.gpgSignCmd(), a.signCmd(), a.serveCmd(),
		a.mountCmd(), a.umountCmd(), a.mountsCmd(), launch.SandboxCmd(&a.Globals),
		a.buildInitCmd(), a.buildCmd(), a.buildFinishCmd(), a.buildExportCmd(), a.buildUpdateRepoCmd(), a.buildSignCmd(), a.buildCommitFromCmd(), a.buildBundleCmd(), a.buildImportBundleCmd(),
		a.installCmd(), a.listCmd(), launch.RunCmd(&a.Globals, a.ensureMount, recorder{a}), a.updateCmd(), a.uninstallCmd(), a.historyCmd(), a.infoCmd(), a.remoteLsCmd(), a.flatpakRemoteAddCmd(), a.overrideCmd(), a.searchCmd(),
		a.adminCmd(), a.centerCmd(), a.remoteModifyCmd(), a.psCmd(), a.killCmd(), a.enterCmd(), a.limitCmd(), a.staticDeltaCmd(), a.configCmd(), a.resetCmd(), a.findRemotesCmd(), a.createUSBCmd(), a.checksumCmd(),
		a.remotesCmd(), a.remoteDeleteAppsCmd(), a.remoteInfoCmd(), a.makeCurrentCmd(), a.repairCmd(),
		a.patternsCmd("mask", "masked", "Keep refs matching patterns from updating and from being installed with others", "  arbor mask org.example.Hello\n  arbor mask --remove org.example.Hello"),
		a.patternsCmd("pin", "pinned", "Keep runtimes matching patterns from being removed as unused", "  arbor pin runtime/org.example.Platform//1.0\n  arbor pin"),
	)
	root.AddCommand(a.permissionCmds()...)
	for _, c := range root.Commands() {
		if ostreeCommand(c.Name()) {
			c.Annotations = map[string]string{repoAnnotation: "ostree"}
		}
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		for c := cmd; c != nil; c = c.Parent() {
			if c.Annotations[repoAnnotation] == "ostree" {
				a.OstreeRepo = true
			}
		}
		return nil
	}
	// ostree's heading for subcommands, which its scripts read.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "Available Commands:", "Builtin Commands:", 1))
	// cobra adds these as it runs; added now, they follow the same rules.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	refuseUnknown(a, root)
	return root
}

// ostreeCommands are ostree's own: without --repo they find the
// repository as ostree does, and say so when there is none, where the
// flatpak- and mount-style commands use the installation's.
func ostreeCommand(name string) bool {
	switch name {
	case "init", "commit", "checkout", "log", "show", "ls", "cat", "diff", "export", "refs", "rev-parse", "fsck", "prune",
		"remote", "pull", "pull-local", "summary", "gpg-sign", "sign", "static-delta", "config", "reset", "find-remotes", "create-usb":
		return true
	}
	return false
}

const repoAnnotation = "arbor-repo"

// ostreeVersion is the ostree release whose formats and command line
// arbor follows: its installed test suite is arbor's measure as a drop-in.
const ostreeVersion = "2022.7"

// versionYAML is --version as ostree prints it (YAML, which scripts parse
// for the version and for features to skip on), naming only features
// arbor has, then arbor's own build.
func versionYAML() string {
	rev := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	return fmt.Sprintf("libostree:\n Version: '%s'\n Features:\n  - gpgme\n  - sign-ed25519\n  - libarchive\narbor:\n Revision: '%s'\n", ostreeVersion, rev)
}

// refuseUnknown makes every group of commands (the root, admin,
// remote...) fail, as ostree's do, when given no subcommand or one it does
// not have, with the usage on stderr; cobra would print help and succeed.
func refuseUnknown(a *app, c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknown(a, sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Parent() == nil && len(args) > 0 {
			// A command arbor lacks may be an extension on PATH, named
			// after the program and the command, as ostree's are.
			if err := execExtension(launch.ProgName(), args); err != nil {
				return err
			}
		}
		fmt.Fprint(a.Stderr, cmd.UsageString())
		what := "command"
		if cmd.Parent() != nil {
			what = fmt.Sprintf("%q subcommand", cmd.Name())
		}
		if len(args) == 0 {
			return fmt.Errorf("No %s specified; see %s --help", what, cmd.CommandPath())
		}
		if cmd.Parent() == nil {
			return fmt.Errorf("Unknown command '%s'; see %s --help", termtext.Line(args[0]), cmd.CommandPath())
		}
		return fmt.Errorf("Unknown %s %q; see %s --help", what, termtext.Line(args[0]), cmd.CommandPath())
	}
}

// jsonFlag adds --json to a command whose output scripts read.
func (a *app) jsonFlag(c *cobra.Command) {
	c.Flags().BoolVar(&a.json, "json", false, "print machine-readable JSON")
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.Stdout.Write(append(termtext.JSON(b), '\n'))
	return err
}

// resolveRepoPath is the repository the command works on (see
// launch.Globals.RepoPath), an installation's made on first use.
func (a *app) resolveRepoPath() (string, error) {
	p, installation, err := a.RepoPath()
	if err != nil || !installation {
		return p, err
	}
	return p, store.EnsureRepo(p)
}

func (a *app) openRepo() (*store.Repo, error) {
	p, err := a.resolveRepoPath()
	if err != nil {
		return nil, err
	}
	return store.Open(p)
}

// openAt opens the repository and resolves a revision in it.
func (a *app) openAt(rev string) (*store.Repo, object.Checksum, error) {
	r, err := a.openRepo()
	if err != nil {
		return nil, object.Zero, err
	}
	c, err := r.Resolve(rev)
	if err != nil {
		r.Close()
		return nil, object.Zero, err
	}
	return r, c, nil
}

// withRepo wraps a command that works on the repository: open it, run,
// close it.
func (a *app) withRepo(run func(cmd *cobra.Command, args []string, r *store.Repo) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		r, err := a.openRepo()
		if err != nil {
			return err
		}
		defer r.Close()
		return run(cmd, args, r)
	}
}

// execExtension replaces arbor with prog-NAME from PATH, given NAME and
// its arguments; it returns nil when there is no such program, so the
// caller reports an unknown command.
func execExtension(prog string, args []string) error {
	name := args[0]
	if name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, "-") {
		return nil
	}
	path, err := exec.LookPath(prog + "-" + name)
	// A relative directory the user put on PATH is searched, as the
	// shell and ostree search it.
	if err != nil && !errors.Is(err, exec.ErrDot) {
		return nil
	}
	argv := append([]string{prog + "-" + name}, args[1:]...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("running extension %s: %w", path, err)
	}
	return nil
}
