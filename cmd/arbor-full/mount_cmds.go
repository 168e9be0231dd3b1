package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/store"
)

func (a *app) mountCmd() *cobra.Command {
	var req mountd.MountRequest
	var foreground, update bool
	c := &cobra.Command{
		Use:   "mount [REMOTE:]REF|CHECKSUM MOUNTPOINT | --browse MOUNTPOINT | --update [MOUNTPOINT]",
		Short: "Mount a commit read-only, fetching its files when they are first read",
		Long: `Mount a commit as a read-only tree. For REMOTE:REF only the commit is fetched
before the mount answers; directories and files are fetched when first used, and
in the background, verified, and kept in the repository for every other mount.
The repository's daemon (arbord) owns the mount; it is started when needed.
With --browse, MOUNTPOINT shows every remote's refs as REMOTE/REF/... and any
commit as commits/CHECKSUM/..., each mounted when first looked up.
A mount of a ref follows it: a pull or commit that moves the ref here moves the
mount, and --update asks the remote for the ref's newest commit (every mount of
a ref without MOUNTPOINT). Only the directories that changed are fetched; what
programs hold open stays as it was.`,
		Example: `  arbor remote add --no-gpg-verify origin https://example.org/repo
  arbor mount origin:os/x86_64/stable /mnt/os
  cat /mnt/os/usr/lib/os-release
  arbor umount /mnt/os
  arbor mount --browse /mnt/arbor && ls /mnt/arbor/origin/os/x86_64/stable
  arbor mount --update /mnt/os`,
		Args: func(cmd *cobra.Command, args []string) error {
			if update {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			if req.Browse {
				return cobra.ExactArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.repoForDaemon()
			if err != nil {
				return err
			}
			if update {
				return a.updateMounts(cmd.Context(), repo, args)
			}
			if !req.Browse {
				req.Source, args = args[0], args[1:]
			}
			mp, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			req.Mountpoint = mp
			show := func(mi *mountd.MountInfo) {
				if a.json {
					a.printJSON(mi)
					return
				}
				if req.Browse {
					fmt.Fprintf(a.Stdout, "mounted the browse root at %s\n", termtext.Line(mi.Mountpoint))
					return
				}
				fmt.Fprintf(a.Stdout, "mounted %s (commit %s) at %s\n", termtext.Line(mi.Source), termtext.Line(mi.Commit), termtext.Line(mi.Mountpoint))
			}
			if foreground {
				logf := func(f string, args ...any) { fmt.Fprintln(a.Stderr, termtext.Block(fmt.Sprintf(f, args...))) }
				return mountd.Foreground(cmd.Context(), mountd.Options{Repo: repo, Logf: logf}, req, show)
			}
			argv, err := daemonArgv(repo)
			if err != nil {
				return err
			}
			for attempt := 0; ; attempt++ {
				cl, err := mountd.EnsureDaemon(cmd.Context(), repo, argv)
				if err != nil {
					return err
				}
				mi, err := cl.Mount(cmd.Context(), req)
				if errors.Is(err, mountd.ErrClosing) && attempt < 50 {
					// An idle daemon is on its way out: start the next one.
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if err != nil {
					return err
				}
				show(mi)
				return nil
			}
		},
	}
	c.Flags().BoolVar(&update, "update", false, "move mounts of refs to the refs' newest commits on their remotes")
	c.Flags().BoolVar(&foreground, "foreground", false, "serve the mount from this process until it is unmounted or interrupted")
	c.Flags().StringVar(&req.FetchTimeout, "fetch-timeout", "", "how long a read waits for an object before failing with EIO (default 30s)")
	c.Flags().BoolVar(&req.Browse, "browse", false, "mount a directory of every remote's refs and of commits by checksum")
	c.Flags().BoolVar(&req.Passthrough, "passthrough", false, "let the kernel read files of 1 MiB and more straight from the store (root, Linux 6.9+): one page cache copy for all mounts, but a round trip per open")
	c.Flags().BoolVar(&req.NoPrefetch, "no-prefetch", false, "fetch only what is used, never the rest of the tree in the background")
	c.Flags().BoolVar(&req.Setuid, "setuid", false, "honour setuid bits and file capabilities (root), serving only verified file attributes")
	c.MarkFlagsMutuallyExclusive("update", "browse")
	c.MarkFlagsMutuallyExclusive("update", "foreground")
	a.jsonFlag(c)
	return c
}

// refsMoved has the daemon's mounts of refs follow them; a mount that
// cannot is a warning, the refs having moved all the same.
func (a *app) refsMoved(ctx context.Context, r *store.Repo, refs []string) {
	repo, err := filepath.Abs(r.Path())
	if err != nil {
		return
	}
	ups, err := mountd.RefsMoved(ctx, repo, refs)
	if err != nil {
		fmt.Fprintf(a.Stderr, "warning: mounts of %s not updated: %s\n", termtext.Line(strings.Join(refs, ", ")), termtext.Line(err.Error()))
	}
	for _, u := range ups {
		if u.Error != "" {
			fmt.Fprintf(a.Stderr, "warning: %s still shows %s: %s\n", termtext.Line(u.Mountpoint), termtext.Line(u.From), termtext.Line(u.Error))
		}
	}
}

// updateMounts is mount --update: the mount at args[0], or every one.
func (a *app) updateMounts(ctx context.Context, repo string, args []string) error {
	var req mountd.UpdateRequest
	if len(args) == 1 {
		mp, err := filepath.Abs(args[0])
		if err != nil {
			return err
		}
		req.Mountpoint = mp
	}
	ups, err := mountd.NewClient(repo).Update(ctx, req)
	if errors.Is(err, mountd.ErrNoDaemon) {
		if req.Mountpoint != "" {
			return fmt.Errorf("%s: %w", req.Mountpoint, mountd.ErrNotMounted)
		}
		ups, err = []mountd.UpdateInfo{}, nil
	}
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(ups)
	}
	failed := 0
	for _, u := range ups {
		switch {
		case u.Error != "":
			failed++
			fmt.Fprintf(a.Stderr, "error: %s (%s): %s\n", termtext.Line(u.Mountpoint), termtext.Line(u.Source), termtext.Line(u.Error))
		case u.From == u.To:
			fmt.Fprintf(a.Stdout, "%s: %s is up to date at %s\n", termtext.Line(u.Mountpoint), termtext.Line(u.Source), termtext.Line(u.To))
		default:
			fmt.Fprintf(a.Stdout, "%s: %s moved from %s to %s\n", termtext.Line(u.Mountpoint), termtext.Line(u.Source), termtext.Line(u.From), termtext.Line(u.To))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d mounts not updated", failed, len(ups))
	}
	return nil
}

func (a *app) umountCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "umount MOUNTPOINT",
		Aliases: []string{"unmount"},
		Short:   "Unmount an arbor mount (also one left behind by a daemon that died)",
		Example: `  arbor umount /mnt/os`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.repoForDaemon()
			if err != nil {
				return err
			}
			mp, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			err = mountd.NewClient(repo).Unmount(cmd.Context(), mp)
			if errors.Is(err, mountd.ErrNoDaemon) || errors.Is(err, mountd.ErrNotMounted) {
				if mountinfo.IsArbor(mp) {
					return mountd.Detach(repo, mp)
				}
				return fmt.Errorf("%s is not an arbor mount", mp)
			}
			return err
		},
	}
}

func (a *app) mountsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "mounts",
		Short:   "List the daemon's mounts, with what each has read and fetched",
		Example: `  arbor mounts --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := a.repoForDaemon()
			if err != nil {
				return err
			}
			list, err := mountd.NewClient(repo).List(cmd.Context())
			if errors.Is(err, mountd.ErrNoDaemon) {
				list, err = nil, nil
			}
			if err != nil {
				return err
			}
			if a.json {
				if list == nil {
					list = []mountd.MountInfo{}
				}
				return a.printJSON(list)
			}
			for _, m := range list {
				what := termtext.Line(m.Source) + "\t" + termtext.Line(m.Commit)
				if m.Source == "" {
					what = "(browse)"
				}
				fmt.Fprintf(a.Stdout, "%s\t%s\tread %d B", termtext.Line(m.Mountpoint), what, m.BytesRead)
				if m.Fetch != nil {
					fmt.Fprintf(a.Stdout, "\tfetched %d objects, %d B, %d pending", m.Fetch.Objects, m.Fetch.Bytes, m.Fetch.Pending)
				}
				fmt.Fprintf(a.Stdout, "\tup %s\n", time.Since(m.Started).Round(time.Second))
			}
			return nil
		},
	}
	a.jsonFlag(c)
	return c
}

// repoForDaemon is the repository path the daemon is keyed by: absolute,
// and created (bare-user) when it is the default one and missing.
func (a *app) repoForDaemon() (string, error) {
	p, err := a.resolveRepoPath()
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// daemonArgv finds arbord beside this binary, else on PATH.
func daemonArgv(repo string) ([]string, error) {
	bin := "arbord"
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "arbord"); fileExists(p) {
			bin = p
		}
	}
	if !filepath.IsAbs(bin) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return nil, fmt.Errorf("arbord (the arbor daemon) is neither beside arbor nor on PATH")
		}
		bin = p
	}
	return []string{bin, "--repo=" + repo, "--exit-when-idle"}, nil
}

// frontExe is the arbor that launchers and desktop files run: the small
// one beside this binary, which starts apps fastest, else this one.
func frontExe() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if p := filepath.Join(filepath.Dir(exe), "arbor"); fileExists(p) {
		return p, nil
	}
	return exe, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
