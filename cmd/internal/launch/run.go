package launch

import (
	"os"

	"github.com/spf13/cobra"

	"arbor/deploy/flatpak"
	"arbor/mountd/mountinfo"
	"arbor/sandbox"
)

// RunCmd is `arbor run`; mount brings up the mount of a deployed commit
// that is neither materialized nor mounted.
func RunCmd(g *Globals, mount Mounter) *cobra.Command {
	var command, branch string
	var devel bool
	var p PermFlags
	c := &cobra.Command{
		Use:   "run [--command=CMD] [--branch=B] [--devel] [PERMISSION...] ID [ARG...]",
		Short: "Run an installed app in the sandbox, its files and runtime mounted lazily",
		Example: `  arbor run org.example.Hello
  arbor run --share=network --filesystem=~/Music:ro org.example.Player song.ogg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, _, err := g.RepoPath()
			if err != nil {
				return err
			}
			cli, err := p.Context()
			if err != nil {
				return err
			}
			if devel {
				cli.Features["devel"] = true
			}
			in := flatpak.NewInstallation(repo)
			plan, err := in.Plan(flatpak.RunRequest{Name: args[0], Branch: branch, Command: command, Perms: cli})
			if err != nil {
				return err
			}
			for _, d := range plan.Lazy {
				if !mountinfo.Serving(in.MountDir(d.Commit)) {
					if err := mount(cmd.Context(), in, d); err != nil {
						return err
					}
				}
			}
			// While it runs, its commits survive a prune run meanwhile (an
			// update may have moved the deploy refs on). The refs are
			// written while the sandbox's namespaces are made.
			release := func() {}
			defer func() { release() }()
			spec := sandbox.Spec{Runtime: plan.RuntimeFiles, App: plan.AppFiles, Args: append([]string{plan.Command}, args[1:]...)}
			return g.RunSandboxed(cmd.Context(), spec, plan.Perms, plan.Ref.ID, func(s *sandbox.Spec) error {
				r, err := in.Hold(os.Getpid(), plan.App.Commit, plan.Runtime.Commit)
				if err != nil {
					return err
				}
				release = r
				s.Info = plan.Info(*s)
				return nil
			})
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&command, "command", "", "run this instead of the app's command")
	c.Flags().StringVar(&branch, "branch", "", "the installed branch to run")
	c.Flags().BoolVar(&devel, "devel", false, "allow ptrace and perf (the devel feature)")
	p.Add(c)
	return c
}
