// Package launch is what both arbor command binaries share: the global
// options, and the commands that start sandboxes (sandbox, run). The small
// `arbor` binary runs those itself, linking nothing of the object store,
// FUSE or OpenPGP, so that an app starts without paying to load them; it
// hands every other command to arbor-full.
package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/flatpak"
)

// Globals are the options every command takes, and where output goes.
type Globals struct {
	Repo         string // --repo
	System, User bool   // --system, --user: which installation
	Installation string // --installation=NAME
	// OstreeRepo makes a command without --repo find its repository as
	// ostree's commands do, with no installation to fall back on.
	OstreeRepo bool
	Stdout     io.Writer
	Stderr     io.Writer
}

// AddFlags defines the global options on root.
// ProgName is the name arbor was run by: arbor, or ostree where it stands
// in for it, so that help and errors speak of the command typed.
func ProgName() string {
	if n := filepath.Base(os.Args[0]); n == "ostree" {
		return n
	}
	return "arbor"
}

func (g *Globals) AddFlags(root *cobra.Command) {
	root.PersistentFlags().BoolVar(&g.System, "system", false, "use the system installation (/var/lib/arbor)")
	root.PersistentFlags().BoolVar(&g.User, "user", false, "use the per-user installation ($XDG_DATA_HOME/arbor, else ~/.local/share/arbor)")
	root.PersistentFlags().StringVar(&g.Installation, "installation", "", "use the installation NAME: default (the system's), or one configured in /etc/arbor/installations.d")
	root.MarkFlagsMutuallyExclusive("system", "user", "installation")
	root.PersistentFlags().StringVar(&g.Repo, "repo", "", "path to the repository (default: $OSTREE_REPO, else the current directory if it is one, else the per-user repository, or /var/lib/arbor/repo for root)")
}

// RepoPath is the repository a command works on: --repo, else the
// --system or --user installation's, else $OSTREE_REPO, else the current
// directory when it is a repository, else the default installation's.
// installation says it is an installation's, which is made on first use.
func (g *Globals) RepoPath() (path string, installation bool, err error) {
	if g.Repo != "" {
		return g.Repo, false, nil
	}
	if g.Installation != "" {
		p, err := flatpak.NamedInstallationRepo(g.Installation)
		return p, true, err
	}
	if g.System || g.User {
		if g.System {
			return flatpak.SystemRepo, true, nil
		}
		p, err := flatpak.UserRepo()
		return p, true, err
	}
	if g.OstreeRepo {
		return ostreeDefaultRepo()
	}
	if p := os.Getenv("OSTREE_REPO"); p != "" {
		return p, false, nil
	}
	if isRepo(".") {
		return ".", false, nil
	}
	p, err := flatpak.DefaultRepo()
	if err != nil {
		return "", false, fmt.Errorf("no repository given (--repo=PATH or OSTREE_REPO): %w", err)
	}
	return p, true, nil
}

// ostreeDefaultRepo is ostree's default: the current directory when it
// is a repository, else $OSTREE_REPO, else the default sysroot's
// ($OSTREE_SYSROOT, else /) ostree/repo.
func ostreeDefaultRepo() (string, bool, error) {
	if isRepo(".") {
		return ".", false, nil
	}
	if p := os.Getenv("OSTREE_REPO"); p != "" {
		return p, false, nil
	}
	// The default sysroot's repository: $OSTREE_SYSROOT's, else /'s.
	sys := ostreeSystemRepo
	if root := os.Getenv("OSTREE_SYSROOT"); root != "" {
		sys = filepath.Join(root, "ostree", "repo")
	}
	if isRepo(sys) {
		return sys, false, nil
	}
	return "", false, errors.New("Command requires a --repo argument")
}

// ostreeSystemRepo is where an ostree-booted system keeps its repository.
const ostreeSystemRepo = "/ostree/repo"

// isRepo says whether dir looks like a repository, as ostree tells one.
func isRepo(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "objects"))
	if err != nil || !st.IsDir() {
		return false
	}
	st, err = os.Stat(filepath.Join(dir, "config"))
	return err == nil && st.Mode().IsRegular()
}

// ExitError ends the program with a code after output was already printed.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Exit ends the program after a command returned err: quietly with an
// ExitError's code, else printing err.
func Exit(err error) {
	if err == nil {
		os.Exit(0)
	}
	var ee ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.Code)
	}
	fmt.Fprintln(os.Stderr, "error:", termtext.Block(err.Error()))
	os.Exit(1)
}

// Mounter makes a deployed commit's files available at its mount.
type Mounter func(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) error

// Recorder records what a run reads, for a publisher's packs: Fresh takes
// a deployed commit's mount down so that the run's mount records from its
// start, Profile is what that mount read. Only arbor-full has one.
type Recorder interface {
	Fresh(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) error
	Profile(ctx context.Context, in *flatpak.Installation, d *flatpak.Deployed) ([]string, error)
}
