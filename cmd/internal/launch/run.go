package launch

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"arbor/deploy/flatpak"
	"arbor/mountd/mountinfo"
	"arbor/sandbox"
	"arbor/store/keyfile"
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
			in := flatpak.NewInstallation(repo)
			installed, err := in.InstalledOf(flatpak.App)
			if err != nil {
				return err
			}
			name := args[0]
			if branch != "" {
				name += "//" + branch
			}
			ref, err := flatpak.Complete(name, flatpak.App, installed)
			if err != nil {
				return err
			}
			app, err := in.Get(ref)
			if err != nil {
				return err
			}
			rtRef, err := flatpak.ParsePartial(flatpak.Runtime, app.Metadata.Runtime)
			if err != nil {
				return err
			}
			rt, err := in.Get(rtRef)
			if err != nil {
				return fmt.Errorf("%s needs %s: %w", ref, rtRef, err)
			}
			files := map[*flatpak.Deployed]string{}
			for _, d := range []*flatpak.Deployed{app, rt} {
				dir, materialized := in.FilesDir(d)
				files[d] = dir
				if materialized {
					continue
				}
				if mountinfo.Serving(in.MountDir(d.Commit)) {
					continue
				}
				if err := mount(cmd.Context(), in, d); err != nil {
					return err
				}
			}
			// Layers as flatpak: the runtime's environment only, the app's
			// metadata, the user's overrides, then the command line.
			perms := sandbox.NewContext()
			for k, v := range rt.Metadata.Context.Env {
				perms.Env[k] = v
			}
			perms.Merge(app.Metadata.Context)
			over, err := in.Override(ref.ID)
			if err != nil {
				return err
			}
			perms.Merge(over)
			cli, err := p.Context()
			if err != nil {
				return err
			}
			if devel {
				cli.Features["devel"] = true
			}
			perms.Merge(cli)
			if command == "" {
				command = app.Metadata.Command
			}
			if command == "" {
				return fmt.Errorf("%s has no command; give --command", ref)
			}
			// While it runs, its commits survive a prune run meanwhile (an
			// update may have moved the deploy refs on). The refs are
			// written while the sandbox's namespaces are made.
			release := func() {}
			defer func() { release() }()
			spec := sandbox.Spec{Runtime: files[rt], App: files[app], Args: append([]string{command}, args[1:]...)}
			return g.RunSandboxed(cmd.Context(), spec, perms, ref.ID, func(s *sandbox.Spec) error {
				r, err := in.Hold(os.Getpid(), app.Commit, rt.Commit)
				if err != nil {
					return err
				}
				release = r
				s.Info = flatpakInfo(ref, app, rt, *s, perms)
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

// flatpakInfo is /.flatpak-info with the keys flatpak writes.
func flatpakInfo(ref flatpak.Ref, app, rt *flatpak.Deployed, spec sandbox.Spec, perms *sandbox.Context) []byte {
	kf := keyfile.New()
	kf.Set("Application", "name", ref.ID)
	kf.Set("Application", "runtime", rt.Ref.String())
	kf.Set("Instance", "app-path", spec.App)
	kf.Set("Instance", "app-commit", app.Commit.String())
	kf.Set("Instance", "runtime-path", spec.Runtime)
	kf.Set("Instance", "runtime-commit", rt.Commit.String())
	kf.Set("Instance", "branch", ref.Branch)
	kf.Set("Instance", "arch", ref.Arch)
	kf.Set("Instance", "session-bus-proxy", "true")
	kf.Set("Instance", "system-bus-proxy", "true")
	perms.Keyfile(kf, false)
	return kf.Bytes()
}
