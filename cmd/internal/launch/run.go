package launch

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"arbor/deploy/flatpak"
	"arbor/mountd/mountinfo"
	"arbor/sandbox"
)

// RunCmd is `arbor run`; mount brings up the mount of a deployed commit
// that is neither materialized nor mounted.
func RunCmd(g *Globals, mount Mounter, rec Recorder) *cobra.Command {
	var command, branch, profile string
	var devel bool
	var p PermFlags
	c := &cobra.Command{
		Use:   "run [--command=CMD] [--branch=B] [--devel] [PERMISSION...] ID [ARG...]",
		Short: "Run an installed app in the sandbox, its files and runtime mounted lazily",
		Example: `  arbor run org.example.Hello
  arbor run --share=network --filesystem=~/Music:ro org.example.Player song.ogg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
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
			if profile != "" {
				if rec == nil {
					return mount(cmd.Context(), in, nil) // arbor-full records
				}
				for _, d := range plan.Lazy {
					if err := rec.Fresh(cmd.Context(), in, d); err != nil {
						return err
					}
				}
				defer func() {
					if werr := writeProfile(cmd.Context(), rec, in, plan.Lazy, profile); err == nil {
						err = werr
					}
				}()
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
			// Described for portals, ps and kill while it runs.
			root, err := flatpak.InstancesRoot()
			if err != nil {
				return err
			}
			inst, err := flatpak.NewInstanceDir(root)
			if err != nil {
				return err
			}
			defer inst.Remove()
			spec := sandbox.Spec{Runtime: plan.RuntimeFiles, App: plan.AppFiles, Args: append([]string{plan.Command}, args[1:]...)}
			// Its own cgroup, where this user may make one: ps shows what
			// it uses.
			return g.RunSandboxed(cmd.Context(), spec, plan.Perms, plan.Ref.ID, "app-arbor-"+plan.Ref.ID+"-"+inst.ID, func(s *sandbox.Spec) error {
				r, err := in.Hold(os.Getpid(), plan.Commits()...)
				if err != nil {
					return err
				}
				release = r
				exts, err := plan.ExtensionBinds(inst.Path)
				if err != nil {
					return err
				}
				s.Binds = append(exts, s.Binds...)
				s.Info = plan.Info(*s, inst.ID)
				return inst.WriteInfo(s.Info)
			}, func(child int, cg string) error {
				if err := inst.Started(os.Getpid(), child); err != nil {
					return err
				}
				if cg == "" {
					return nil
				}
				return inst.InCgroup(cg)
			})
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&command, "command", "", "run this instead of the app's command")
	c.Flags().StringVar(&branch, "branch", "", "the installed branch to run")
	c.Flags().BoolVar(&devel, "devel", false, "allow ptrace and perf (the devel feature)")
	c.Flags().StringVar(&profile, "record-profile", "", "write what the run read first to `FILE`, a line REF<TAB>PATH each, for build-update-repo --profile")
	p.Add(c)
	return c
}

// writeProfile writes what each lazily mounted deployment's mount read,
// as REF<TAB>PATH lines.
func writeProfile(ctx context.Context, rec Recorder, in *flatpak.Installation, lazy []*flatpak.Deployed, path string) error {
	var b strings.Builder
	for _, d := range lazy {
		paths, err := rec.Profile(ctx, in, d)
		if err != nil {
			return fmt.Errorf("the profile of %s: %w", d.Ref, err)
		}
		for _, p := range paths {
			fmt.Fprintf(&b, "%s\t%s\n", d.Ref, p)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the profile: %w", err)
	}
	return nil
}
