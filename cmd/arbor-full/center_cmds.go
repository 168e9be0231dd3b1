package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/deploy/apps"
	"arbor/deploy/flatpak"
	"arbor/mountd"
	"arbor/sandbox"
	"arbor/sandbox/cgroup"
)

func (a *app) centerCmd() *cobra.Command {
	var urlOnly bool
	var sysrootPath string
	c := &cobra.Command{
		Use:   "center [--url] [--sysroot=PATH]",
		Short: "Open the software center: browse, install, update and roll back apps and the OS",
		Long: `Open the software center in the default browser. The repository's daemon
serves it on loopback to this user only; the address holds the session's
secret, without which every request is refused.`,
		Example: `  arbor center
  arbor center --url --sysroot=/mnt/sr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openRepo() // an installation's repository is made on first use
			if err != nil {
				return err
			}
			r.Close()
			repo, err := a.repoForDaemon()
			if err != nil {
				return err
			}
			argv, err := daemonArgv(repo)
			if err != nil {
				return err
			}
			var ci *mountd.CenterInfo
			for attempt := 0; ; attempt++ {
				cl, err := mountd.EnsureDaemon(cmd.Context(), repo, argv)
				if err != nil {
					return err
				}
				ci, err = cl.Center(cmd.Context(), mountd.CenterRequest{Sysroot: sysrootPath})
				if errors.Is(err, mountd.ErrClosing) && attempt < 50 {
					time.Sleep(100 * time.Millisecond) // an idle daemon on its way out
					continue
				}
				if err != nil {
					return err
				}
				break
			}
			if a.json {
				return a.printJSON(ci)
			}
			if urlOnly {
				fmt.Fprintln(a.Stdout, ci.URL)
				return nil
			}
			opener, err := exec.LookPath("xdg-open")
			if err != nil {
				fmt.Fprintf(a.Stdout, "Open %s in a browser\n", ci.URL)
				return nil
			}
			if err := exec.CommandContext(cmd.Context(), opener, ci.URL).Run(); err != nil {
				return fmt.Errorf("opening the center with %s: %w (open %s yourself)", opener, err, ci.URL)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&urlOnly, "url", false, "print the address to open (with its secret) and open nothing")
	c.Flags().StringVar(&sysrootPath, "sysroot", "", "also manage the OS deployed in this sysroot")
	a.jsonFlag(c)
	return c
}

func (a *app) remoteModifyCmd() *cobra.Command {
	var enable, disable bool
	var prio int
	c := &cobra.Command{
		Use:     "remote-modify [--enable|--disable] [--prio=N] NAME",
		Short:   "Enable, disable or reprioritise a remote of apps",
		Example: `  arbor remote-modify --disable --prio=5 example`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			var ch apps.RemoteChange
			if enable || disable {
				ch.Enabled = &enable
			}
			if cmd.Flags().Changed("prio") {
				ch.Priority = &prio
			}
			return m.ModifyRemote(cmd.Context(), args[0], ch)
		}),
	}
	c.Flags().BoolVar(&enable, "enable", false, "use the remote again")
	c.Flags().BoolVar(&disable, "disable", false, "leave the remote out of searches, the center and updates")
	c.Flags().IntVar(&prio, "prio", 1, "the remote's priority: higher is listed and searched first")
	c.MarkFlagsMutuallyExclusive("enable", "disable")
	return c
}

func (a *app) killCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "kill INSTANCE|APP",
		Short: "Stop a running app: one instance by its number (arbor ps), or every instance of an app",
		Example: `  arbor kill org.example.App
  arbor kill 2718281828`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := flatpak.InstancesRoot()
			if err != nil {
				return err
			}
			killed, err := flatpak.KillInstances(root, args[0])
			if a.json && err == nil {
				return a.printJSON(killed)
			}
			for _, k := range killed {
				fmt.Fprintf(a.Stdout, "killed %s (%s, pid %d)\n", termtext.Line(k.ID), termtext.Line(k.App), k.PID)
			}
			return err
		},
	}
	a.jsonFlag(c)
	return c
}

func (a *app) limitCmd() *cobra.Command {
	var memory, cpu, pids string
	c := &cobra.Command{
		Use:   "limit INSTANCE|APP [--memory=SIZE] [--cpu=PERCENT] [--pids=N]",
		Short: "Bound what a running app may take: memory, CPU (percent of one core) and processes; 'max' lifts a limit",
		Example: `  arbor limit org.example.App --memory=512M --cpu=50
  arbor limit 2718281828 --pids=max`,
		Args: cobra.ExactArgs(1),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			var l cgroup.Limits
			var err error
			if l.MemoryBytes, err = limitValue("--memory", memory, parseSize); err != nil {
				return err
			}
			n, err := limitValue("--cpu", strings.TrimSuffix(cpu, "%"), parseInt10)
			if err != nil {
				return err
			}
			l.CPUPercent = int(n)
			if n, err = limitValue("--pids", pids, parseInt10); err != nil {
				return err
			}
			l.Processes = int(n)
			if l == (cgroup.Limits{}) {
				return errors.New("nothing to limit: give --memory, --cpu or --pids")
			}
			limited, err := m.Limit(cmd.Context(), args[0], l)
			if a.json && err == nil {
				return a.printJSON(limited)
			}
			for _, in := range limited {
				fmt.Fprintf(a.Stdout, "limited %s (%s): %s\n", termtext.Line(in.InstanceID), termtext.Line(in.Ref.ID), describeLimits(in.Usage))
			}
			return err
		}),
	}
	c.Flags().StringVar(&memory, "memory", "", "the most memory it may use (bytes, or with K, M, G), or max")
	c.Flags().StringVar(&cpu, "cpu", "", "the CPU time it may use, in percent of one core (200: two cores), or max")
	c.Flags().StringVar(&pids, "pids", "", "the most processes and threads it may have, or max")
	a.jsonFlag(c)
	return c
}

// limitValue parses a limit flag: "" is none (0), max lifts it (-1).
func limitValue(flag, s string, parse func(string) (int64, error)) (int64, error) {
	switch s {
	case "":
		return 0, nil
	case "max":
		return -1, nil
	}
	n, err := parse(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%s: not a positive number or max", flag, s)
	}
	return n, nil
}

// parseSize reads 512M, 2G, 4096.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if i := strings.IndexAny(s, "KMGkmg"); i == len(s)-1 && i > 0 {
		mult = map[byte]int64{'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}[s[i]|0x20]
		s = s[:i]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q", s)
	}
	return n * mult, nil
}

// describeLimits says in words what an instance is held to.
func describeLimits(u *cgroup.Usage) string {
	if u == nil {
		return "limits unknown"
	}
	var parts []string
	if u.Limits.MemoryBytes > 0 {
		parts = append(parts, "memory "+humanBytes(u.Limits.MemoryBytes))
	}
	if u.Limits.CPUPercent > 0 {
		parts = append(parts, fmt.Sprintf("CPU %d%% of a core", u.Limits.CPUPercent))
	}
	if u.Limits.Processes > 0 {
		parts = append(parts, fmt.Sprintf("%d processes", u.Limits.Processes))
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func (a *app) enterCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "enter INSTANCE|APP COMMAND [ARG...]",
		Short: "Run a command inside a running app's sandbox, with its environment and no more rights than it has",
		Example: `  arbor enter org.example.App sh
  arbor enter 2718281828 ls /app`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := flatpak.InstancesRoot()
			if err != nil {
				return err
			}
			ri, perms, err := flatpak.FindInstance(root, args[0])
			if err != nil {
				return err
			}
			code, err := sandbox.Enter(cmd.Context(), ri.ChildPID, args[1:], perms.Namespaces(sandbox.Spec{}).Features,
				sandbox.Stdio{Stdin: os.Stdin, Stdout: a.Stdout, Stderr: a.Stderr})
			if err != nil {
				return fmt.Errorf("entering instance %s (%s): %w", termtext.Line(ri.ID), termtext.Line(ri.App), err)
			}
			if code != 0 {
				return launch.ExitError{Code: code}
			}
			return nil
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

func (a *app) psCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ps [--json]",
		Short: "List the apps running (instance, pid, app, runtime, commit), and those to restart to use the version installed since they started",
		Example: `  arbor ps
  arbor kill org.example.App`,
		Args: cobra.NoArgs,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			run, err := m.Running(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				type row struct {
					apps.Instance
					Ref    string `json:"ref"`
					Commit string `json:"commit"`
				}
				out := []row{}
				for _, r := range run {
					out = append(out, row{r, r.Ref.String(), r.Commit.String()})
				}
				return a.printJSON(out)
			}
			// flatpak ps's columns (instance, pid, application, runtime),
			// then the commit it runs.
			for _, r := range run {
				id := r.InstanceID
				if id == "" {
					id = "-"
				}
				line := fmt.Sprintf("%s\t%d\t%s\t%s\t%s", termtext.Line(id), r.PID, termtext.Line(r.Ref.ID), termtext.Line(r.Runtime), r.Commit.String()[:12])
				if r.UpdateLanded {
					line += "\trestart to use the new version"
				}
				fmt.Fprintln(a.Stdout, line)
			}
			return nil
		}),
	}
	a.jsonFlag(c)
	return c
}

func parseInt10(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
