package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/deploy/apps"
	"arbor/deploy/flatpak"
	"arbor/store/keyfile"
)

// parseColumns reads a --columns list (comma-separated, as flatpak's)
// against the columns a listing has.
func parseColumns(spec string, known []string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(spec, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if c == "all" {
			return known, nil
		}
		found := false
		for _, k := range known {
			if k == c {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown column %q; the columns are %s", termtext.Line(c), strings.Join(known, ", "))
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--columns names no column; the columns are %s", strings.Join(known, ", "))
	}
	return out, nil
}

// printColumns prints rows' chosen columns, tab-separated.
func (a *app) printColumns(rows []map[string]string, cols []string) {
	for _, row := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = termtext.Line(row[c])
		}
		fmt.Fprintln(a.Stdout, strings.Join(vals, "\t"))
	}
}

// refColumns are the columns every ref has.
func refColumns(ref flatpak.Ref) map[string]string {
	return map[string]string{"ref": ref.String(), "application": ref.ID, "arch": ref.Arch, "branch": ref.Branch, "kind": string(ref.Kind)}
}

func (a *app) remotesCmd() *cobra.Command {
	var details, disabled bool
	c := &cobra.Command{
		Use:   "remotes [-d] [--show-disabled] [--json]",
		Short: "List the remotes of apps, highest priority first",
		Example: `  arbor remotes -d
  arbor remotes --json`,
		Args: cobra.NoArgs,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			var shown []apps.Remote
			for _, r := range m.Remotes() {
				if r.Enabled || disabled {
					shown = append(shown, r)
				}
			}
			if a.json {
				if shown == nil {
					shown = []apps.Remote{}
				}
				return a.printJSON(shown)
			}
			for _, r := range shown {
				var opts []string
				if !r.Enabled {
					opts = append(opts, "disabled")
				}
				if !r.GPGVerify {
					opts = append(opts, "no-gpg-verify")
				}
				fields := []string{r.Name}
				if details {
					fields = append(fields, r.Title, r.URL, fmt.Sprint(r.Priority))
				}
				fields = append(fields, strings.Join(opts, ","))
				for i := range fields {
					fields[i] = termtext.Line(fields[i])
				}
				fmt.Fprintln(a.Stdout, strings.Join(fields, "\t"))
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&details, "show-details", "d", false, "show the title, URL and priority too")
	c.Flags().BoolVar(&disabled, "show-disabled", false, "list disabled remotes too")
	a.jsonFlag(c)
	return c
}

func (a *app) remoteDeleteAppsCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "remote-delete [--force] NAME",
		Short: "Delete a remote of apps; refused while refs installed from it remain, unless --force",
		Example: `  arbor remote-delete example
  arbor remote-delete --force example`,
		Args: cobra.ExactArgs(1),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			return m.DeleteRemote(cmd.Context(), args[0], force)
		}),
	}
	c.Flags().BoolVar(&force, "force", false, "delete the remote even with refs installed from it (they can no longer update)")
	return c
}

func (a *app) remoteInfoCmd() *cobra.Command {
	var showCommit, showMeta bool
	var arch string
	c := &cobra.Command{
		Use:   "remote-info [-c|-m] [--json] REMOTE REF",
		Short: "Show what a remote's newest commit of an app or runtime says, before installing it",
		Example: `  arbor remote-info origin org.example.Hello
  arbor remote-info -c origin org.example.Hello`,
		Args: cobra.ExactArgs(2),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			ctx := cmd.Context()
			ref, err := m.CompleteRemote(ctx, args[0], flatpak.WithArch(args[1], arch), "")
			if err != nil {
				return err
			}
			info, err := m.RemoteCommit(ctx, args[0], ref)
			if err != nil {
				return err
			}
			switch {
			case a.json:
				return a.printJSON(map[string]any{"ref": ref.String(), "commit": info.Commit.String(), "parent": info.Parent.String(),
					"subject": info.Subject, "date": time.Unix(int64(info.Timestamp), 0).UTC().Format(time.RFC3339),
					"runtime": info.Metadata.Runtime, "installed_size": info.InstalledSize, "download_size": info.DownloadSize})
			case showCommit:
				fmt.Fprintln(a.Stdout, info.Commit)
				return nil
			case showMeta:
				_, err := a.Stdout.Write([]byte(termtext.Block(string(info.Metadata.Raw))))
				return err
			}
			fmt.Fprintf(a.Stdout, "        ID: %s\n       Ref: %s\n      Arch: %s\n    Branch: %s\n", termtext.Line(ref.ID), termtext.Line(ref.String()), termtext.Line(ref.Arch), termtext.Line(ref.Branch))
			fmt.Fprintf(a.Stdout, "  Download: %s\n Installed: %s\n", humanBytes(int64(info.DownloadSize)), humanBytes(int64(info.InstalledSize)))
			if info.Metadata.Runtime != "" {
				fmt.Fprintf(a.Stdout, "   Runtime: %s\n", termtext.Line(info.Metadata.Runtime))
			}
			fmt.Fprintf(a.Stdout, "\n    Commit: %s\n", info.Commit)
			if !info.Parent.IsZero() {
				fmt.Fprintf(a.Stdout, "    Parent: %s\n", info.Parent)
			}
			fmt.Fprintf(a.Stdout, "   Subject: %s\n      Date: %s\n", termtext.Line(info.Subject), time.Unix(int64(info.Timestamp), 0).UTC().Format("2006-01-02 15:04:05 -0700"))
			return nil
		}),
	}
	c.Flags().BoolVarP(&showCommit, "show-commit", "c", false, "print the commit's checksum only")
	c.Flags().BoolVarP(&showMeta, "show-metadata", "m", false, "print the commit's metadata only")
	c.Flags().StringVar(&arch, "arch", "", "the architecture (default: this machine's)")
	a.jsonFlag(c)
	return c
}

// permissionsText is an app's permissions as a metadata file's
// [Context] group.
func permissionsText(d *flatpak.Deployed) string {
	kf := keyfile.New()
	d.Metadata.Context.Keyfile(kf, false)
	return string(kf.Bytes())
}

func (a *app) makeCurrentCmd() *cobra.Command {
	var arch string
	c := &cobra.Command{
		Use:     "make-current [--arch=ARCH] APP BRANCH",
		Short:   "Make an installed branch of an app the one run starts and the desktop shows",
		Example: `  arbor make-current org.example.Hello stable`,
		Args:    cobra.ExactArgs(2),
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			_, err := m.MakeCurrent(cmd.Context(), args[0], arch, args[1])
			return err
		}),
	}
	c.Flags().StringVar(&arch, "arch", "", "the architecture (default: the one installed)")
	return c
}

func (a *app) repairCmd() *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "repair [--dry-run] [--json]",
		Short: "Check every object of the installation; delete corrupt ones and fetch again what installed refs need",
		Example: `  arbor repair --dry-run
  arbor repair`,
		Args: cobra.NoArgs,
		RunE: a.withManager(func(cmd *cobra.Command, args []string, m *apps.Manager) error {
			out := &workflowOutput{a: a, print: func(apps.Change) {}}
			rep, err := m.Repair(cmd.Context(), dryRun, out.event)
			out.endBar()
			if rep == nil {
				return err
			}
			if a.json {
				if perr := a.printJSON(rep); perr != nil && err == nil {
					err = perr
				}
				return err
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			fmt.Fprintf(a.Stdout, "Checked %d objects\n", rep.Objects)
			for _, o := range rep.Removed {
				fmt.Fprintf(a.Stdout, "%s corrupt object %s\n", verb, termtext.Line(o))
			}
			for _, r := range rep.Refetched {
				fmt.Fprintf(a.Stdout, "Fetched %s again\n", termtext.Line(r))
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(a.Stderr, "warning: %s\n", termtext.Line(p))
			}
			if err == nil && len(rep.Problems) > 0 {
				err = fmt.Errorf("%d problems left as they are", len(rep.Problems))
			}
			return err
		}),
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be done, change nothing")
	a.jsonFlag(c)
	return c
}
