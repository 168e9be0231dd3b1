package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/deploy/history"
	"arbor/deploy/sysroot"
	"arbor/fetch"
	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/sandbox"
)

// adminCmd groups the OS deployment commands, spelled as ostree admin's.
func (a *app) adminCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "admin",
		Short: "Deploy operating system commits in a sysroot, upgrade and roll back",
		Example: `  arbor admin init-fs --sysroot=/mnt/sr /mnt/sr
  arbor admin os-init --sysroot=/mnt/sr exampleos
  arbor admin deploy --sysroot=/mnt/sr --os=exampleos --karg=root=LABEL=root exampleos/stable
  arbor admin status --sysroot=/mnt/sr`,
	}
	def := "/"
	if e := os.Getenv("OSTREE_SYSROOT"); e != "" {
		def = e // as ostree
	}
	c.PersistentFlags().StringVar(&a.sysroot, "sysroot", def, "the sysroot to work on (default $OSTREE_SYSROOT, else /)")
	var printDir bool
	c.PersistentFlags().BoolVar(&printDir, "print-current-dir", false, "print the first deployment's directory and exit")
	c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if !printDir {
			return nil
		}
		// As ostree's: whatever the subcommand, print and stop.
		s, err := sysroot.Open(a.sysroot)
		if err != nil {
			return err
		}
		defer s.Close()
		ds, err := s.Deployments()
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return fmt.Errorf("unable to find a deployment in sysroot %s", a.sysroot)
		}
		fmt.Fprintln(a.Stdout, s.Dir(ds[0]))
		return errPrinted
	}
	c.AddCommand(a.adminInitFSCmd(), a.adminOSInitCmd(), a.adminDeployCmd(), a.adminUpgradeCmd(), a.adminStatusCmd(),
		a.adminRollbackCmd(), a.adminUndeployCmd(), a.adminPinCmd(), a.adminCleanupCmd(), a.adminSetOriginCmd(), a.adminConfigDiffCmd(), a.adminEnterCmd(),
		a.adminSwitchCmd(), a.adminInstutilCmd(), a.adminKargsCmd())
	return c
}

// withSysroot opens the sysroot, and for commands that change it, holds
// its lock and has the daemon up when a deployment is lazy (so that its
// /usr is there to merge /etc against).
func (a *app) withSysroot(lock bool, run func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := sysroot.Open(a.sysroot)
		if err != nil {
			return err
		}
		defer s.Close()
		m := mountd.UsrMounter{Repo: s.Repo.Path(), Argv: daemonArgv}
		s.Mounter = m
		s.Debug = sysroot.ParseDebug(os.Getenv("OSTREE_SYSROOT_DEBUG"))
		s.Grub2Mkconfig = os.Getenv("OSTREE_GRUB2_EXEC") // as ostree's
		s.Written = func(w sysroot.BootWrite) {
			swap := "no"
			if w.Swap {
				swap = "yes"
			}
			fmt.Fprintf(a.Stdout, "Bootloader updated; bootconfig swap: %s; bootversion: boot.%d.%d, deployment count change: %d\n",
				swap, w.BootVersion, w.SubBootVersion, w.CountChange)
		}
		s.History = history.Open(s.HistoryPath())
		if lock {
			unlock, err := s.Lock()
			if err != nil {
				return err
			}
			defer unlock()
			ds, err := s.Deployments()
			if err != nil {
				return err
			}
			if slices.ContainsFunc(ds, (*sysroot.Deployment).Lazy) {
				if _, err := m.Client(cmd.Context()); err != nil {
					return err
				}
			}
		}
		return run(cmd, args, s)
	}
}

func (a *app) adminInitFSCmd() *cobra.Command {
	var modern bool
	c := &cobra.Command{
		Use:   "init-fs [--modern] DIR",
		Short: "Make an empty sysroot: root directories and a bare repository",
		Example: `  arbor admin init-fs /mnt/sr
  arbor admin init-fs --modern /mnt/sr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return sysroot.InitFS(args[0], modern) },
	}
	c.Flags().BoolVar(&modern, "modern", false, "only /boot and /ostree: the system makes the rest of its root itself")
	return c
}

func (a *app) adminOSInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "os-init STATEROOT",
		Aliases: []string{"stateroot-init"},
		Short:   "Make a stateroot: a place for an operating system's deployments and its /var",
		Example: `  arbor admin os-init --sysroot=/mnt/sr exampleos`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			if err := s.OSInit(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "ostree/deploy/%s initialized as OSTree root\n", args[0])
			return nil
		}),
	}
}

func (a *app) reportMerge(c sysroot.EtcCounts) {
	fmt.Fprintf(a.Stdout, "Copying /etc changes: %d modified, %d removed, %d added\n", c.Modified, c.Removed, c.Added)
}

func (a *app) adminDeployCmd() *cobra.Command {
	var osName string
	var kargs sysroot.KargEdit
	var retain, lazy, noMerge, notDefault, retainPending, retainRollback, stage bool
	c := &cobra.Command{
		Use:   "deploy [--os=STATEROOT] [--karg=ARG...] [--retain] [--lazy] REF",
		Short: "Check out a commit as a new deployment and make it the default",
		Long: `Check out a commit (a ref, remote:ref or checksum in the sysroot's repository) as a
new deployment, carry the local /etc changes of the current one over, write a new boot
configuration and switch to it in one atomic rename. The previous default is kept for
rollback; older ones are removed unless pinned or --retain is given.

With --lazy (thin clients), /usr is not checked out: the repository's daemon mounts the
commit's /usr, fetching files from REMOTE as they are first read, and mounts it again
whenever it restarts; /etc and the kernel are copied as for any deployment.`,
		Example: `  arbor admin deploy --sysroot=/mnt/sr --os=exampleos --karg=root=LABEL=root exampleos/stable
  arbor admin deploy --sysroot=/mnt/sr --lazy origin:exampleos/stable`,
		Args: cobra.ExactArgs(1),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			root, err := s.DefaultStateroot(osName)
			if err != nil {
				return err
			}
			o := sysroot.DeployOptions{Stateroot: root, Revision: args[0], Retain: retain, Merge: a.reportMerge, Lazy: lazy, NoMerge: noMerge,
				NotDefault: notDefault, RetainPending: retainPending, RetainRollback: retainRollback, Stage: stage}
			for _, f := range []string{"karg", "karg-append", "karg-delete", "karg-none", "karg-proc-cmdline"} {
				if cmd.Flags().Changed(f) {
					o.Kargs = &kargs
				}
			}
			if lazy {
				c, err := s.PullRefspec(cmd.Context(), args[0], true, nil)
				if err != nil {
					return err
				}
				o.Refspec, o.Revision, o.Source = args[0], c.String(), sysroot.MountSource(args[0], c)
			}
			d, err := s.Deploy(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Deployed %s %s as the default\n", d.Stateroot, d.Name())
			return nil
		}),
	}
	c.Flags().StringVar(&osName, "os", "", "the stateroot to deploy in")
	c.Flags().StringVar(&osName, "stateroot", "", "the stateroot to deploy in")
	c.Flags().StringArrayVar(&kargs.Replace, "karg", nil, "set a kernel argument KEY[=VALUE], replacing the current one of that key")
	c.Flags().StringArrayVar(&kargs.Append, "karg-append", nil, "append a kernel argument")
	c.Flags().StringArrayVar(&kargs.Delete, "karg-delete", nil, "delete a kernel argument (KEY=VALUE, or every one of KEY)")
	c.Flags().BoolVar(&kargs.None, "karg-none", false, "start from no kernel arguments, not the current deployment's")
	c.Flags().BoolVar(&kargs.ProcCmdline, "karg-proc-cmdline", false, "start from this boot's /proc/cmdline")
	c.Flags().BoolVar(&retain, "retain", false, "keep every other deployment")
	c.Flags().BoolVar(&retainPending, "retain-pending", false, "keep the deployments before the booted one")
	c.Flags().BoolVar(&retainRollback, "retain-rollback", false, "keep the deployments after the booted one")
	c.Flags().BoolVar(&notDefault, "not-as-default", false, "put the new deployment after the booted one, not first")
	c.Flags().BoolVar(&stage, "stage", false, "finish the deployment at shutdown (booted systems only)")
	c.Flags().BoolVar(&noMerge, "no-merge", false, "take neither /etc changes nor kernel arguments from the current deployment")
	c.Flags().BoolVar(&lazy, "lazy", false, "mount /usr through the daemon instead of checking it out (thin clients)")
	return c
}

func (a *app) adminUpgradeCmd() *cobra.Command {
	var osName string
	var check, pullOnly, deployOnly, allowDowngrade, stage bool
	var override string
	c := &cobra.Command{
		Use:   "upgrade [--os=STATEROOT] [--check|--pull-only|--deploy-only]",
		Short: "Pull the default deployment's ref and deploy it when it moved",
		Example: `  arbor admin upgrade --sysroot=/mnt/sr
  arbor admin upgrade --sysroot=/mnt/sr --check`,
		Args: cobra.NoArgs,
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			var u *sysroot.Upgrade
			var err error
			if check {
				u, err = s.CheckUpgrade(cmd.Context(), osName)
			} else {
				u, err = s.Upgrade(cmd.Context(), sysroot.UpgradeOptions{Stateroot: osName, PullOnly: pullOnly, DeployOnly: deployOnly, Merge: a.reportMerge, AllowDowngrade: allowDowngrade,
					OverrideCommit: override, Stage: stage || os.Getenv("OSTREE_EX_STAGE_DEPLOYMENTS") != ""})
			}
			switch {
			case err != nil:
				return err
			case !u.Available():
				fmt.Fprintln(a.Stdout, "No update available.")
			case u.Deployed == nil:
				fmt.Fprintf(a.Stdout, "Update available: %s %s\n", u.To, termtext.Line(u.Version))
			default:
				fmt.Fprintf(a.Stdout, "Deployed %s %s as the default\n", u.Deployed.Stateroot, u.Deployed.Name())
			}
			return nil
		}),
	}
	c.Flags().StringVar(&osName, "os", "", "the stateroot to upgrade")
	c.Flags().BoolVar(&check, "check", false, "only say whether an update is available")
	c.Flags().BoolVar(&pullOnly, "pull-only", false, "pull, do not deploy")
	c.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "take a commit older than the current deployment's")
	c.Flags().BoolVar(&deployOnly, "deploy-only", false, "deploy what was pulled, do not pull")
	c.Flags().StringVar(&override, "override-commit", "", "deploy this commit of the origin's ref instead of its newest")
	c.Flags().BoolVar(&stage, "stage", false, "finish the deployment at shutdown (booted systems only; also $OSTREE_EX_STAGE_DEPLOYMENTS)")
	c.MarkFlagsMutuallyExclusive("check", "pull-only", "deploy-only")
	return c
}

func (a *app) adminStatusCmd() *cobra.Command {
	var verify bool
	c := &cobra.Command{
		Use:     "status [--json]",
		Short:   "List deployments, the default first",
		Example: `  arbor admin status --sysroot=/mnt/sr --json`,
		Args:    cobra.NoArgs,
		RunE: a.withSysroot(false, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			ds, err := s.Deployments()
			if err != nil {
				return err
			}
			if a.json {
				type row struct {
					*sysroot.Deployment
					Checksum string `json:"checksum"` // the commit as hex, not the array a Checksum encodes as
					Version  string `json:"version,omitempty"`
					Refspec  string `json:"refspec,omitempty"`
					Pinned   bool   `json:"pinned"`
					Lazy     bool   `json:"lazy"`
				}
				out := []row{}
				for _, d := range ds {
					out = append(out, row{d, d.Commit.String(), s.Version(d.Commit), d.Refspec(), d.Pinned(), d.Lazy()})
				}
				return a.printJSON(out)
			}
			if len(ds) == 0 {
				fmt.Fprintln(a.Stdout, "No deployments.")
				return nil
			}
			for _, d := range ds {
				mark := " "
				if d.Booted {
					mark = "*"
				}
				fmt.Fprintf(a.Stdout, "%s %s %s\n", mark, termtext.Line(d.Stateroot), termtext.Line(d.Name()))
				if v := s.Version(d.Commit); v != "" {
					fmt.Fprintf(a.Stdout, "    Version: %s\n", termtext.Line(v))
				}
				if t := s.SourceTitle(d.Commit); t != "" {
					fmt.Fprintf(a.Stdout, "    `- %s\n", termtext.Line(t))
				}
				if d.Pinned() {
					fmt.Fprintln(a.Stdout, "    Pinned: yes")
				}
				if r := d.Refspec(); r != "" {
					fmt.Fprintf(a.Stdout, "    origin refspec: %s\n", termtext.Line(r))
				} else {
					fmt.Fprintln(a.Stdout, "    origin: none")
				}
				if err := a.printDeploymentSigs(s.Repo, d, verify); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&verify, "verify", "V", false, "fail unless each deployment's commit has a good signature from its remote")
	a.jsonFlag(c)
	return c
}

func (a *app) adminRollbackCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rollback",
		Short:   "Make the previous deployment the default again (the current one becomes the rollback)",
		Example: `  arbor admin rollback --sysroot=/mnt/sr`,
		Args:    cobra.NoArgs,
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			d, err := s.Rollback(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Default is now %s %s\n", d.Stateroot, d.Name())
			return nil
		}),
	}
}

func indexArg(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("deployment index %q: not a number", s)
	}
	return n, nil
}

func (a *app) adminUndeployCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "undeploy INDEX",
		Short:   "Remove a deployment",
		Example: `  arbor admin undeploy --sysroot=/mnt/sr 1`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			n, err := indexArg(args[0])
			if err != nil {
				return err
			}
			d, err := s.Undeploy(cmd.Context(), n)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Deleted deployment %s\n", d.Name())
			return nil
		}),
	}
}

func (a *app) adminPinCmd() *cobra.Command {
	var unpin bool
	c := &cobra.Command{
		Use:     "pin [--unpin] INDEX...",
		Short:   "Keep deployments from being removed to make room for new ones",
		Example: `  arbor admin pin --sysroot=/mnt/sr 1`,
		Args:    cobra.MinimumNArgs(1),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			var ns []int
			for _, arg := range args { // every index checked before any is changed
				n, err := indexArg(arg)
				if err != nil {
					return err
				}
				ns = append(ns, n)
			}
			for _, n := range ns {
				d, err := s.SetPinned(n, !unpin)
				if err != nil {
					return err
				}
				verb := "now pinned"
				if unpin {
					verb = "no longer pinned"
				}
				fmt.Fprintf(a.Stdout, "Deployment %s is %s\n", d.Name(), verb)
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&unpin, "unpin", "u", false, "unpin instead")
	return c
}

func (a *app) adminCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "cleanup",
		Short:   "Remove what no deployment uses: old boot configurations, deployments, kernels, objects",
		Example: `  arbor admin cleanup --sysroot=/mnt/sr`,
		Args:    cobra.NoArgs,
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			return s.Cleanup(cmd.Context())
		}),
	}
}

func (a *app) adminSetOriginCmd() *cobra.Command {
	var index int
	var sets []string
	c := &cobra.Command{
		Use:     "set-origin [--index=N] REMOTE URL [BRANCH]",
		Short:   "Add a remote and make a deployment follow REMOTE:BRANCH (by default its current branch)",
		Example: `  arbor admin set-origin --sysroot=/mnt/sr origin http://127.0.0.1:8000/repo exampleos/stable`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			ds, err := s.Deployments()
			if err != nil {
				return err
			}
			if index < 0 || index >= len(ds) {
				return fmt.Errorf("no deployment %d", index)
			}
			branch := ds[index].Refspec()
			if _, ref, ok := strings.Cut(branch, ":"); ok {
				branch = ref
			}
			if len(args) == 3 {
				branch = args[2]
			}
			if branch == "" {
				return fmt.Errorf("deployment %d follows nothing: give BRANCH", index)
			}
			o := fetch.AddOptions{IfNotExists: true}
			if o.Set, err = parseSets(sets); err != nil {
				return err
			}
			if err := fetch.AddRemote(s.Repo, args[0], args[1], o); err != nil {
				return err
			}
			_, err = s.SetRefspec(index, args[0]+":"+branch)
			return err
		}),
	}
	c.Flags().IntVar(&index, "index", 0, "the deployment to change")
	c.Flags().StringArrayVar(&sets, "set", nil, "set KEY=VALUE in the remote's config")
	return c
}

func (a *app) adminConfigDiffCmd() *cobra.Command {
	var osName string
	c := &cobra.Command{
		Use:     "config-diff [--os=STATEROOT]",
		Short:   "List the local changes to /etc: M modified, D deleted, A added",
		Example: `  arbor admin config-diff --sysroot=/mnt/sr`,
		Args:    cobra.NoArgs,
		RunE: a.withSysroot(false, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			changes, err := s.ConfigDiff(osName)
			if err != nil {
				return err
			}
			if a.json {
				type row struct {
					Kind string `json:"kind"`
					Path string `json:"path"`
				}
				out := []row{}
				for _, c := range changes {
					out = append(out, row{string(c.Kind), c.Path})
				}
				return a.printJSON(out)
			}
			for _, c := range changes {
				fmt.Fprintf(a.Stdout, "%c    %s\n", c.Kind, termtext.Line(c.Path))
			}
			return nil
		}),
	}
	c.Flags().StringVar(&osName, "os", "", "the stateroot")
	a.jsonFlag(c)
	return c
}

func (a *app) adminEnterCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "enter [INDEX] -- CMD [ARG...]",
		Short: "Run a command inside a deployment's root, as if it were booted",
		Long: `Run a command with a deployment as its root: its /usr read-only, its /etc and the
stateroot's /var writable, a new mount and PID namespace entered with pivot_root, and
every privilege kept. INDEX is the deployment's place in admin status (default 0).`,
		Example: `  arbor admin enter --sysroot=/mnt/sr -- cat /etc/os-release
  arbor admin enter --sysroot=/mnt/sr 1 -- sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.withSysroot(false, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			index := 0
			if dash := cmd.ArgsLenAtDash(); dash == 1 {
				n, err := indexArg(args[0])
				if err != nil {
					return err
				}
				index, args = n, args[1:]
			} else if dash != 0 {
				return fmt.Errorf("give the command after --")
			}
			if len(args) == 0 {
				return fmt.Errorf("no command")
			}
			ds, err := s.Deployments()
			if err != nil {
				return err
			}
			if index >= len(ds) {
				return fmt.Errorf("no deployment %d (there are %d)", index, len(ds))
			}
			d := ds[index]
			root := s.Dir(d)
			if d.Lazy() {
				// Its daemon answers once it has mounted the lazy /usr
				// again (after a restart, say).
				if err := (mountd.UsrMounter{Repo: s.Repo.Path(), Argv: daemonArgv}).Ready(cmd.Context()); err != nil {
					return fmt.Errorf("deployment %d's lazy /usr: %w", index, err)
				}
				if !mountinfo.Serving(filepath.Join(root, "usr")) {
					return fmt.Errorf("deployment %d's lazy /usr is not mounted at %s; see the daemon's log", index, filepath.Join(root, "usr"))
				}
			}
			spec := sandbox.Spec{
				System:  true,
				Runtime: filepath.Join(root, "usr"),
				Binds: []sandbox.Bind{
					{Source: filepath.Join(root, "etc"), Dest: "/etc", Writable: true},
					{Source: s.VarDir(d), Dest: "/var", Writable: true},
				},
				Network: true, IPC: true,
				Args: args,
				Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=" + os.Getenv("TERM")},
				Home: "/root",
			}
			code, err := sandbox.Run(cmd.Context(), spec, sandbox.Stdio{Stdin: os.Stdin, Stdout: a.Stdout, Stderr: a.Stderr})
			if err != nil {
				return err
			}
			if code != 0 {
				return launch.ExitError{Code: code}
			}
			return nil
		}),
	}
	return c
}

func (a *app) adminSwitchCmd() *cobra.Command {
	var osName string
	c := &cobra.Command{
		Use:   "switch [--os=STATEROOT] REMOTE:REF|REMOTE:|REF",
		Short: "Follow another ref or remote: fetch it and deploy it as the default",
		Example: `  arbor admin switch --sysroot=/mnt/sr exampleos/testing
  arbor admin switch --sysroot=/mnt/sr mirror:`,
		Args: cobra.ExactArgs(1),
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			d, err := s.Switch(cmd.Context(), sysroot.SwitchOptions{Stateroot: osName, Target: args[0], Merge: a.reportMerge})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Deployed %s %s as the default\n", d.Stateroot, d.Name())
			return nil
		}),
	}
	c.Flags().StringVar(&osName, "os", "", "the stateroot to switch")
	return c
}

func (a *app) adminInstutilCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "instutil",
		Short: "Tools for installers",
	}
	var merge, importProc bool
	var edit sysroot.KargEdit
	set := &cobra.Command{
		Use:   "set-kargs [--merge|--import-proc-cmdline] [--replace=KEY=VALUE...] [--append=ARG...] [ARG...]",
		Short: "Set the default deployment's kernel arguments (by default, only those given)",
		Example: `  arbor admin instutil set-kargs --sysroot=/mnt/sr root=LABEL=root quiet
  arbor admin instutil set-kargs --sysroot=/mnt/sr --merge --replace=console=ttyS0`,
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			e := edit
			e.None = !merge && !importProc
			e.ProcCmdline = importProc
			e.Append = append(append([]string(nil), e.Append...), args...)
			_, err := s.SetKargs(cmd.Context(), 0, &e)
			return err
		}),
	}
	set.Flags().BoolVar(&merge, "merge", false, "start from the deployment's current arguments")
	set.Flags().BoolVar(&importProc, "import-proc-cmdline", false, "start from this boot's /proc/cmdline")
	set.Flags().StringArrayVar(&edit.Replace, "replace", nil, "set KEY=VALUE, replacing every argument of that key")
	set.Flags().StringArrayVar(&edit.Append, "append", nil, "append an argument")
	set.MarkFlagsMutuallyExclusive("merge", "import-proc-cmdline")
	c.AddCommand(set)
	return c
}

func (a *app) adminKargsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "kargs",
		Short: "Change kernel arguments",
	}
	var edit sysroot.KargEdit
	inPlace := &cobra.Command{
		Use:     "edit-in-place --append-if-missing=ARG... ",
		Short:   "Edit every deployment's kernel arguments in its current boot entry",
		Example: `  arbor admin kargs edit-in-place --sysroot=/mnt/sr --append-if-missing=quiet`,
		RunE: a.withSysroot(true, func(cmd *cobra.Command, args []string, s *sysroot.Sysroot) error {
			return s.EditKargsInPlace(&edit)
		}),
	}
	inPlace.Flags().StringArrayVar(&edit.AppendIfMissing, "append-if-missing", nil, "append an argument unless one of its key is there")
	c.AddCommand(inPlace)
	return c
}
