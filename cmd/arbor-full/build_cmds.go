package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/sandbox"
	"arbor/store"
	"arbor/store/delta"
)

func (a *app) buildInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "build-init DIRECTORY APPNAME SDK RUNTIME [BRANCH]",
		Short: "Start building an app: DIRECTORY/files becomes /app, DIRECTORY/metadata names it",
		Example: `  arbor build-init build org.example.Hello org.example.Sdk org.example.Platform 1.0
  cp hello build/files/bin/ && arbor build-finish build --command=hello`,
		Args: cobra.RangeArgs(4, 5),
		RunE: func(cmd *cobra.Command, args []string) error {
			branch := ""
			if len(args) == 5 {
				branch = args[4]
			}
			return flatpak.BuildInit(args[0], args[1], args[2], args[3], branch)
		},
	}
}

func (a *app) buildFinishCmd() *cobra.Command {
	var command string
	var p launch.PermFlags
	c := &cobra.Command{
		Use:     "build-finish DIRECTORY [--command=CMD] [PERMISSION...]",
		Short:   "Finish an app build: its command, its permissions, and its exported desktop files",
		Example: `  arbor build-finish build --command=hello --share=network --socket=wayland --filesystem=xdg-music:ro`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			perms, err := p.Context()
			if err != nil {
				return err
			}
			return flatpak.BuildFinish(args[0], command, perms)
		},
	}
	c.Flags().StringVar(&command, "command", "", "the command the app runs (in /app/bin or /usr/bin)")
	p.Add(c)
	return c
}

func (a *app) buildExportCmd() *cobra.Command {
	var opts commits.ExportOptions
	var keyIDs []string
	var homedir string
	var noSummary bool
	c := &cobra.Command{
		Use:   "build-export REPO DIRECTORY [BRANCH]",
		Short: "Commit a finished build to a repository as app/ID/ARCH/BRANCH (or runtime/...)",
		Long: `Commit a finished build to a repository, made (in archive mode, to publish)
when it is not there, and update the repository's summary, as flatpak's
build-export does.`,
		Example: `  arbor build-export repo build 1.0
  arbor build-export --runtime repo platform-build 1.0`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 3 {
				opts.Branch = args[2]
			}
			r, err := store.OpenOrInit(args[0], store.ModeArchive)
			if err != nil {
				return err
			}
			defer r.Close()
			ref, c, err := commits.BuildExport(cmd.Context(), r, args[1], opts)
			if err != nil {
				return err
			}
			if err := signCommit(cmd.Context(), r, c, keyIDs, homedir); err != nil {
				return err
			}
			if !noSummary {
				if err := updateSummary(cmd.Context(), r, keyIDs, homedir); err != nil {
					return err
				}
			}
			if a.json {
				return a.printJSON(map[string]string{"ref": ref.String(), "commit": c.String()})
			}
			fmt.Fprintf(a.Stdout, "Commit: %s\nRef: %s\n", c, termtext.Line(ref.String()))
			return nil
		},
	}
	c.Flags().BoolVar(&opts.Runtime, "runtime", false, "export DIRECTORY/usr as a runtime")
	c.Flags().StringVarP(&opts.Subject, "subject", "s", "", "one line subject")
	c.Flags().StringVar(&opts.CollectionID, "collection-id", "", "collection the commit is bound to")
	c.Flags().BoolVar(&noSummary, "no-update-summary", false, "leave the repository's summary as it is")
	c.Flags().StringArrayVar(&keyIDs, "gpg-sign", nil, "sign the commit (and the summary) with this key")
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	a.jsonFlag(c)
	return c
}

func (a *app) buildCommitFromCmd() *cobra.Command {
	var opts commits.CommitFromOptions
	var keyIDs []string
	var homedir string
	var noSummary bool
	c := &cobra.Command{
		Use:   "build-commit-from [--src-repo=SRC] [--src-ref=REF] DST-REPO DST-REF...",
		Short: "Commit another ref's tree as DST-REF: promote a build to a branch or a repository",
		Example: `  arbor build-commit-from --src-ref=app/org.example.Hello/x86_64/beta repo app/org.example.Hello/x86_64/stable
  arbor build-commit-from --src-repo=build-repo repo app/org.example.Hello/x86_64/stable`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.SrcRef != "" && len(args) > 2 {
				return errors.New("--src-ref names the source of one DST-REF only")
			}
			r, err := store.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			changed := false
			for _, dst := range args[1:] {
				c, skipped, err := commits.CommitFrom(cmd.Context(), r, dst, opts)
				if err != nil {
					return err
				}
				if skipped {
					fmt.Fprintf(a.Stdout, "%s: no change, skipping\n", termtext.Line(dst))
					continue
				}
				if err := signCommit(cmd.Context(), r, c, keyIDs, homedir); err != nil {
					return err
				}
				changed = true
				fmt.Fprintf(a.Stdout, "%s: %s\n", termtext.Line(dst), c)
			}
			if changed && !noSummary {
				return updateSummary(cmd.Context(), r, keyIDs, homedir)
			}
			return nil
		},
	}
	c.Flags().StringVar(&opts.SrcRepo, "src-repo", "", "the repository the source ref is in (default: DST-REPO)")
	c.Flags().StringVar(&opts.SrcRef, "src-ref", "", "the source ref (default: DST-REF, in --src-repo)")
	c.Flags().StringVarP(&opts.Subject, "subject", "s", "", "one line subject (default: the source's)")
	c.Flags().StringVarP(&opts.Body, "body", "b", "", "full description")
	c.Flags().StringVar(&opts.EndOfLife, "end-of-life", "", "mark the ref as no longer maintained, with this reason")
	c.Flags().BoolVar(&opts.Force, "force", false, "commit even when nothing changed")
	c.Flags().BoolVar(&noSummary, "no-update-summary", false, "leave the repository's summary as it is")
	c.Flags().StringArrayVar(&keyIDs, "gpg-sign", nil, "sign the commits and the summary with this key")
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	return c
}

func (a *app) buildBundleCmd() *cobra.Command {
	var runtime bool
	var arch, keysFile string
	var o commits.BundleOptions
	c := &cobra.Command{
		Use:   "build-bundle [--runtime] [--repo-url=URL] [--gpg-keys=FILE] REPO FILENAME NAME [BRANCH]",
		Short: "Write an app (or runtime) of a repository to one file, as flatpak's bundles",
		Example: `  arbor build-bundle repo hello.flatpak org.example.Hello 1.0
  arbor build-import-bundle other-repo hello.flatpak`,
		Args: cobra.RangeArgs(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := store.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			kind := flatpak.App
			if runtime {
				kind = flatpak.Runtime
			}
			name := args[2]
			if len(args) == 4 {
				name += "//" + args[3]
			}
			refs, err := r.Refs()
			if err != nil {
				return err
			}
			var cands []flatpak.Ref
			for n := range refs {
				if ref, err := flatpak.ParseRef(n); err == nil {
					cands = append(cands, ref)
				}
			}
			ref, err := flatpak.Complete(flatpak.WithArch(name, arch), kind, cands)
			if err != nil {
				return fmt.Errorf("repo %s: %w", args[0], err)
			}
			if keysFile != "" {
				if o.GPGKeys, err = os.ReadFile(keysFile); err != nil {
					return err
				}
			}
			c, err := commits.BuildBundle(cmd.Context(), r, ref, args[1], o)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s: %s (commit %s)\n", termtext.Line(args[1]), termtext.Line(ref.String()), c)
			return nil
		},
	}
	c.Flags().BoolVar(&runtime, "runtime", false, "bundle a runtime, not an app")
	c.Flags().StringVar(&arch, "arch", "", "the architecture (default: this machine's, or the one there is)")
	c.Flags().StringVar(&o.RepoURL, "repo-url", "", "where updates come from: the remote an install of the bundle adds")
	c.Flags().StringVar(&o.RuntimeRepo, "runtime-repo", "", "a .flatpakrepo for the runtime")
	c.Flags().StringVar(&keysFile, "gpg-keys", "", "keys (a file) that verify the updates")
	return c
}

func (a *app) buildImportBundleCmd() *cobra.Command {
	var noSummary bool
	c := &cobra.Command{
		Use:     "build-import-bundle REPO FILENAME",
		Short:   "Store the ref a bundle holds in a repository, every object checked",
		Example: `  arbor build-import-bundle repo hello.flatpak`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := store.OpenOrInit(args[0], store.ModeArchive)
			if err != nil {
				return err
			}
			defer r.Close()
			ref, c, err := commits.ImportBundle(cmd.Context(), r, args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Importing %s (%s)\n", termtext.Line(ref.String()), c)
			if noSummary {
				return nil
			}
			return updateSummary(cmd.Context(), r, nil, "")
		},
	}
	c.Flags().BoolVar(&noSummary, "no-update-summary", false, "leave the repository's summary as it is")
	return c
}

func (a *app) buildUpdateRepoCmd() *cobra.Command {
	var keyIDs []string
	var homedir string
	var profiles []string
	var deltas bool
	c := &cobra.Command{
		Use:   "build-update-repo REPO",
		Short: "Update a repository of apps for publishing: AppStream branches, tree indexes, the summary",
		Example: `  arbor build-update-repo --gpg-sign=0123ABCD --gpg-homedir=~/.gnupg repo
  arbor run --record-profile=hello.profile org.example.Hello && arbor build-update-repo --profile=hello.profile repo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := store.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := commits.UpdateAppStream(cmd.Context(), r, flatpak.Arch())
			if err != nil {
				return err
			}
			if n > 0 {
				for _, b := range []string{"appstream/", "appstream2/"} {
					c, err := r.Resolve(b + flatpak.Arch())
					if err != nil {
						return err
					}
					if err := signCommit(cmd.Context(), r, c, keyIDs, homedir); err != nil {
						return err
					}
				}
			}
			for _, pf := range profiles {
				if err := a.writePacks(cmd.Context(), r, pf); err != nil {
					return err
				}
			}
			if deltas {
				refs, err := r.Refs()
				if err != nil {
					return err
				}
				for n := range refs {
					if strings.HasPrefix(n, "appstream") || strings.Contains(n, ":") {
						delete(refs, n)
					}
				}
				bigBuffers()
				made, err := delta.GenerateForRefs(cmd.Context(), r, refs)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "%d static deltas generated\n", len(made))
			}
			if err := updateSummary(cmd.Context(), r, keyIDs, homedir); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "AppStream data of %d apps; summary updated\n", n)
			return nil
		},
	}
	c.Flags().StringArrayVar(&keyIDs, "gpg-sign", nil, "sign the AppStream commits and the summary with this key")
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	c.Flags().BoolVar(&deltas, "generate-static-deltas", false, "write each ref's static deltas, from scratch and from its parent, where missing")
	c.Flags().StringArrayVar(&profiles, "profile", nil, "pack what a run recorded in `FILE` (arbor run --record-profile) for each ref's commit, for clients to fetch at install")
	return c
}

// writePacks packs, for each ref a profile names, what the run read of
// the ref's commit here.
func (a *app) writePacks(ctx context.Context, r *store.Repo, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	paths, order, err := store.ParseProfile(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, ref := range order {
		c, err := r.Resolve(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		n, size, err := r.WritePack(ctx, c, paths[ref])
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "Packed %d objects (%s) of %s for its first run\n", n, humanBytes(size), termtext.Line(ref))
	}
	return nil
}

func (a *app) buildSignCmd() *cobra.Command {
	var runtime bool
	var keyIDs []string
	var homedir string
	c := &cobra.Command{
		Use:     "build-sign REPO ID [BRANCH] --gpg-sign=KEYID",
		Short:   "Sign an exported app's (or --runtime's) commit",
		Example: `  arbor build-sign --gpg-sign=0123ABCD repo org.example.Hello 1.0`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyIDs) == 0 {
				return fmt.Errorf("no key given: use --gpg-sign=KEYID")
			}
			ref := flatpak.Ref{Kind: flatpak.App, ID: args[1], Arch: flatpak.Arch(), Branch: flatpak.DefaultBranch}
			if runtime {
				ref.Kind = flatpak.Runtime
			}
			if len(args) == 3 {
				ref.Branch = args[2]
			}
			if err := ref.Validate(); err != nil {
				return err
			}
			r, err := store.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			c, err := r.Resolve(ref.String())
			if err != nil {
				return err
			}
			if err := signCommit(cmd.Context(), r, c, keyIDs, homedir); err != nil {
				return err
			}
			return nil
		},
	}
	c.Flags().BoolVar(&runtime, "runtime", false, "sign runtime/ID/ARCH/BRANCH")
	c.Flags().StringArrayVar(&keyIDs, "gpg-sign", nil, "key to sign with")
	c.Flags().StringVar(&homedir, "gpg-homedir", "", "GnuPG home directory holding the key")
	return c
}

func (a *app) buildCmd() *cobra.Command {
	var p launch.PermFlags
	c := &cobra.Command{
		Use:   "build [PERMISSION...] DIRECTORY COMMAND [ARG...]",
		Short: "Run a build command in the sandbox: the SDK at /usr, DIRECTORY/files writable at /app",
		Long: `Run a command to build an app: in the sandbox, with the installed SDK that
build-init named at /usr (mounted lazily) and the build's files/ writable at /app.`,
		Example: `  arbor build build sh -c 'cc -o /app/bin/hello hello.c'`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(dir, "metadata"))
			if err != nil {
				return fmt.Errorf("%s is not a build directory (use build-init): %w", dir, err)
			}
			m, err := flatpak.ParseMetadata(b)
			if err != nil {
				return err
			}
			if m.Sdk == "" {
				return fmt.Errorf("%s/metadata names no sdk", dir)
			}
			r, err := a.openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			in := flatpak.NewInstallation(r.Path())
			sdkRef, err := flatpak.ParsePartial(flatpak.Runtime, m.Sdk)
			if err != nil {
				return err
			}
			sdk, err := in.Get(sdkRef)
			if err != nil {
				return fmt.Errorf("the SDK %s: %w (install it first)", sdkRef, err)
			}
			sdkFiles, materialized := in.FilesDir(sdk)
			if !materialized {
				if err := a.ensureMount(cmd.Context(), in, sdk); err != nil {
					return err
				}
			}
			perms := sandbox.NewContext()
			for k, v := range sdk.Metadata.Context.Env {
				perms.Env[k] = v
			}
			cli, err := p.Context()
			if err != nil {
				return err
			}
			perms.Merge(cli)
			spec := sandbox.Spec{Runtime: sdkFiles,
				App: filepath.Join(dir, "files"), AppWritable: true, Dir: "/app", Args: args[1:]}
			return a.RunSandboxed(cmd.Context(), spec, perms, "", "", nil, nil)
		},
	}
	c.Flags().SetInterspersed(false)
	p.Add(c)
	return c
}
