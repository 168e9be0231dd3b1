package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/launch"
	"arbor/cmd/internal/termtext"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/delta"
)

func (a *app) fsckCmd() *cobra.Command {
	var quiet, del, verifyBindings, verifyBackRefs, addTombstones bool
	c := &cobra.Command{
		Use:   "fsck",
		Short: "Verify every object that a commit reaches",
		Long: `fsck re-hashes every object reachable from every commit and checks the
structure of metadata (including file names that could escape a checkout).
Corrupt and missing objects are named; the exit status is 1 if any is found.`,
		Example: `  arbor --repo=repo fsck`,
		Args:    cobra.NoArgs,
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			verifyBindings = verifyBindings || verifyBackRefs
			if !quiet && !a.json {
				fmt.Fprintln(a.Stdout, "Validating refs...")
			}
			// A bad ref ends the check, as ostree's; --json says so too.
			refsBad := func(err error) error {
				if !a.json {
					return err
				}
				if perr := a.printJSON(map[string]any{"problems": []map[string]string{{"object": "refs", "error": err.Error()}}}); perr != nil {
					return perr
				}
				return launch.ExitError{Code: 1}
			}
			if err := r.CheckRefs(verifyBindings); err != nil {
				return refsBad(err)
			}
			if !quiet && !a.json {
				fmt.Fprintln(a.Stdout, "Validating refs in collections...")
			}
			if err := r.CheckCollectionRefs(verifyBindings); err != nil {
				return refsBad(err)
			}
			if verifyBackRefs {
				if err := r.CheckBackRefs(cmd.Context()); err != nil {
					return err
				}
			}
			bar := a.newProgress("fsck objects", 0, false)
			res, err := fetch.Fsck(cmd.Context(), r, store.FsckOptions{Delete: del, Progress: func(done, total int64) {
				if bar.bar != nil {
					bar.bar.ChangeMax64(total)
				}
				bar.set(done)
			}})
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
					fmt.Fprintf(a.Stdout, "Enumerating commits...\n"+
						"Verifying content integrity of %d commit objects...\n", full)
				}
				for _, p := range res.Problems {
					if del {
						// Dealt with, as ostree words it: not an error line.
						fmt.Fprintln(a.Stderr, termtext.Line(p.String()))
						continue
					}
					fmt.Fprintf(a.Stderr, "error: %s\n", termtext.Line(p.String()))
				}
				for _, d := range res.Deleted {
					fmt.Fprintf(a.Stderr, "Deleted corrupted object %s\n", d)
				}
				for _, c := range res.MarkedPartial {
					fmt.Fprintf(a.Stderr, "Marking commit as partial: %s\n", c)
				}
				if res.Partial > 0 {
					fmt.Fprintf(a.Stdout, "%d partial commits not verified\n", res.Partial)
				}
				if len(res.Problems) == 0 && res.FsckPartial == 0 {
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
			if res.FsckPartial > 0 {
				// Found by an earlier fsck and not yet pulled again.
				if !a.json {
					fmt.Fprintf(a.Stderr, "error: %d partial commits from fsck-detected corruption\n", res.FsckPartial)
				}
				return launch.ExitError{Code: 1}
			}
			if addTombstones {
				return a.addTombstones(cmd.Context(), r)
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only errors")
	c.Flags().BoolVar(&del, "delete", false, "delete corrupt objects (a later pull fetches them again)")
	// Every problem is reported anyway: accepted for ostree's scripts.
	c.Flags().BoolP("all", "a", false, "report every problem, not only the first (always done)")
	c.Flags().BoolVar(&verifyBindings, "verify-bindings", false, "check that each ref's commit is bound to that ref (and collection)")
	c.Flags().BoolVar(&verifyBackRefs, "verify-back-refs", false, "check that each ref a commit is bound to points at it (implies --verify-bindings)")
	c.Flags().BoolVar(&addTombstones, "add-tombstones", false, "mark the missing parents of stored commits as deleted")
	a.jsonFlag(c)
	return c
}

func (a *app) pruneCmd() *cobra.Command {
	var opts store.PruneOptions
	var keepYounger, deleteCommit string
	var staticDeltasOnly bool
	var retainDepth []string
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
			for _, rd := range retainDepth {
				name, d, ok := strings.Cut(rd, "=")
				if !ok {
					return fmt.Errorf("Invalid value %s, must specify BRANCH=DEPTH", rd)
				}
				n, err := strconv.Atoi(d)
				if err != nil {
					return fmt.Errorf("Invalid depth %s", d)
				}
				if opts.RetainDepth == nil {
					opts.RetainDepth = map[string]int{}
				}
				opts.RetainDepth[name] = n
			}
			if deleteCommit != "" {
				c, err := r.Resolve(deleteCommit)
				if err != nil {
					return err
				}
				if staticDeltasOnly {
					if _, err := delta.DeleteTo(cmd.Context(), r.Path(), c); err != nil {
						return err
					}
				} else {
					opts.DeleteCommit = c
				}
			} else if staticDeltasOnly {
				return errors.New("--static-deltas-only requires --delete-commit")
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
	f.StringVar(&deleteCommit, "delete-commit", "", "delete this commit (no ref may point at it), leaving a tombstone")
	f.BoolVar(&staticDeltasOnly, "static-deltas-only", false, "with --delete-commit, delete only the static deltas to it")
	f.StringArrayVar(&retainDepth, "retain-branch-depth", nil, "keep DEPTH parents of BRANCH (BRANCH=DEPTH; -1: all), whatever --depth and --keep-younger-than say")
	f.StringArrayVar(&opts.OnlyBranches, "only-branch", nil, "prune only this branch's history; others keep theirs")
	f.BoolVar(&opts.CommitOnly, "commit-only", false, "delete only commit objects (a later prune deletes what they reached)")
	a.jsonFlag(c)
	return c
}

// addTombstones marks each missing parent of a stored commit as deleted
// on purpose, turning tombstones on when there is one.
func (a *app) addTombstones(ctx context.Context, r *store.Repo) error {
	missing, err := r.MissingParents(ctx)
	if err != nil || len(missing) == 0 {
		return err
	}
	if err := r.EnableTombstones(); err != nil {
		return err
	}
	for _, c := range missing {
		fmt.Fprintf(a.Stdout, "Adding tombstone for commit %s\n", c)
		if err := r.WriteTombstone(c); err != nil {
			return err
		}
	}
	return nil
}
