package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/fetch"
	"arbor/store"
)

func (a *app) fsckCmd() *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "fsck",
		Short: "Verify every object that a commit reaches",
		Long: `fsck re-hashes every object reachable from every commit and checks the
structure of metadata (including file names that could escape a checkout).
Corrupt and missing objects are named; the exit status is 1 if any is found.`,
		Example: `  arbor --repo=repo fsck`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			bar := a.newProgress("fsck objects", 0, false)
			res, err := fetch.Fsck(cmd.Context(), r, func(done, total int64) {
				if bar.bar != nil {
					bar.bar.ChangeMax64(total)
				}
				bar.set(done)
			})
			bar.done()
			if err != nil {
				return err
			}
			if a.json {
				probs := []map[string]string{}
				for _, p := range res.Problems {
					probs = append(probs, map[string]string{"object": p.Object, "error": p.Err.Error()})
				}
				if err := a.printJSON(map[string]any{"commits": res.Commits, "partial_commits": res.Partial,
					"objects": res.Objects, "problems": probs}); err != nil {
					return err
				}
			} else {
				// ostree's lines, which scripts read.
				full := res.Commits - res.Partial
				if !quiet {
					fmt.Fprintf(a.Stdout, "Validating refs...\nValidating refs in collections...\nEnumerating commits...\n"+
						"Verifying content integrity of %d commit objects...\n", full)
				}
				for _, p := range res.Problems {
					fmt.Fprintf(a.Stderr, "error: %s\n", termtext.Line(p.String()))
				}
				if res.Partial > 0 {
					fmt.Fprintf(a.Stdout, "%d partial commits not verified\n", res.Partial)
				}
				if len(res.Problems) == 0 {
					fmt.Fprintf(a.Stdout, "object fsck of %d commits completed successfully - no errors found.\n", full)
				} else if !quiet {
					fmt.Fprintf(a.Stdout, "%d objects of %d commits checked: %d errors\n", res.Objects, res.Commits, len(res.Problems))
				}
			}
			if len(res.Problems) > 0 {
				if !a.json {
					fmt.Fprintln(a.Stderr, "error: Repository corruption encountered")
				}
				return launch.ExitError{Code: 1}
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only errors")
	a.jsonFlag(c)
	return c
}

func (a *app) pruneCmd() *cobra.Command {
	var opts store.PruneOptions
	var keepYounger string
	c := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Delete objects that no kept commit reaches",
		Example: `  arbor --repo=repo prune --refs-only --depth=2
  arbor --repo=repo prune --keep-younger-than="30 days ago" --no-prune`,
		Args: cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			if keepYounger != "" {
				var err error
				if opts.KeepYoungerThan, err = parseTime(keepYounger, time.Now()); err != nil {
					return fmt.Errorf("--keep-younger-than: %w", err)
				}
			}
			res, err := r.Prune(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := fetch.PruneSummaryCache(r); err != nil {
				return err
			}
			if a.json {
				var commits []string
				for _, c := range res.DeletedCommits {
					commits = append(commits, c.String())
				}
				return a.printJSON(map[string]any{"total": res.Total, "deleted": res.Deleted, "freed_bytes": res.Freed,
					"deleted_commits": commits, "dry_run": opts.DryRun})
			}
			fmt.Fprintf(a.Stdout, "Total objects: %d\n", res.Total)
			// ostree's lines, sizes as glib formats them: scripts read them.
			switch {
			case res.Deleted == 0:
				fmt.Fprintln(a.Stdout, "No unreachable objects")
			case opts.DryRun:
				fmt.Fprintf(a.Stdout, "Would delete: %d objects, freeing %s\n", res.Deleted, siBytes(res.Freed))
			default:
				fmt.Fprintf(a.Stdout, "Deleted %d objects, %s freed\n", res.Deleted, siBytes(res.Freed))
			}
			return nil
		}),
	}
	f := c.Flags()
	f.BoolVar(&opts.RefsOnly, "refs-only", false, "keep only commits reachable from refs")
	f.IntVar(&opts.Depth, "depth", -1, "parents to keep for each ref (-1: all)")
	f.StringVar(&keepYounger, "keep-younger-than", "", "delete commits older than this date that no ref points at")
	f.BoolVar(&opts.DryRun, "no-prune", false, "only report what would be deleted")
	a.jsonFlag(c)
	return c
}
