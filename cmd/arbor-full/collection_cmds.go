package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/refs"
)

type collectionRefsOpts struct {
	create        string
	del, revision bool
}

// collectionRefs is refs --collections: refs named by (collection ID,
// ref), args being collection IDs to keep.
func (a *app) collectionRefs(r *store.Repo, args []string, o collectionRefsOpts) error {
	if o.create != "" {
		if len(args) != 1 {
			return errors.New("--create=COLLECTION:REF needs one existing ref or commit to point it at")
		}
		id, ref, ok := strings.Cut(o.create, ":")
		if !ok {
			return fmt.Errorf("--create=%s: want COLLECTION:REF", o.create)
		}
		cr := refs.CollectionRef{Collection: id, Ref: ref}
		if err := refs.ValidateCollectionID(id); err != nil {
			return err
		}
		if err := refs.Validate(ref); err != nil {
			return err
		}
		c, err := r.Resolve(args[0])
		if err != nil {
			return err
		}
		// As ostree: a collection ref is replaced, not refused.
		return r.SetCollectionRef(cr, c)
	}
	if o.del && len(args) == 0 {
		return errors.New("--delete needs the collection IDs whose refs to delete")
	}
	var match []string
	for _, id := range args {
		if err := refs.ValidateCollectionID(id); err != nil {
			return err
		}
		match = append(match, id)
	}
	if len(match) == 0 {
		match = []string{""}
	}
	for _, id := range match {
		m, err := r.CollectionRefs(id)
		if err != nil {
			return err
		}
		for _, cr := range refs.SortedCollectionRefs(m) {
			switch {
			case o.del:
				if err := r.DeleteCollectionRef(cr); err != nil {
					return err
				}
			case o.revision:
				fmt.Fprintf(a.Stdout, "(%s, %s)\t%s\n", termtext.Line(cr.Collection), termtext.Line(cr.Ref), m[cr])
			default:
				fmt.Fprintf(a.Stdout, "(%s, %s)\n", termtext.Line(cr.Collection), termtext.Line(cr.Ref))
			}
		}
	}
	return nil
}

func (a *app) findRemotesCmd() *cobra.Command {
	var finders []string
	var pull, mirror bool
	c := &cobra.Command{
		Use:   "find-remotes [--finders=config] [--pull [--mirror]] COLLECTION-ID REF [COLLECTION-ID REF...]",
		Short: "Find which remotes have the newest commits of collection refs, and optionally pull them",
		Example: `  arbor --repo=repo find-remotes org.example.Apps app1
  arbor --repo=repo find-remotes --pull org.example.Apps app1 org.example.Os os/amd64/main`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || len(args)%2 != 0 {
				return errors.New("At least one COLLECTION-ID REF pair must be specified")
			}
			return nil
		},
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			for _, f := range finders {
				if f != "config" {
					return fmt.Errorf("Unknown or unsupported finder ‘%s’: arbor finds remotes by its configuration only", f)
				}
			}
			var want []refs.CollectionRef
			for i := 0; i < len(args); i += 2 {
				cr := refs.CollectionRef{Collection: args[i], Ref: args[i+1]}
				if err := refs.ValidateCollectionID(cr.Collection); err != nil {
					return err
				}
				if err := refs.Validate(cr.Ref); err != nil {
					return err
				}
				want = append(want, cr)
			}
			found, err := fetch.FindInRemotes(cmd.Context(), r, want)
			if err != nil {
				return err
			}
			a.printFound(found, want)
			if !pull {
				return nil
			}
			n := 0
			for _, cr := range want {
				for _, f := range found {
					if !f.Refs[cr].IsZero() {
						n++
						break
					}
				}
			}
			pulled, err := fetch.PullFound(cmd.Context(), r, found, mirror)
			fmt.Fprintf(a.Stdout, "Pulled %d/%d refs successfully.\n", pulled, n)
			if err != nil {
				return fmt.Errorf("Failed to pull some refs from the remotes: %w", err)
			}
			return nil
		}),
	}
	f := c.Flags()
	f.StringSliceVar(&finders, "finders", nil, "where to look for remotes (config: the configured remotes)")
	f.BoolVar(&pull, "pull", false, "pull the newest commits found")
	f.BoolVar(&mirror, "mirror", false, "with --pull, keep the refs as mirrored collection refs")
	return c
}

// printFound prints find-remotes' results in ostree's lines, which
// scripts read.
func (a *app) printFound(found []fetch.Found, want []refs.CollectionRef) {
	for i, f := range found {
		fmt.Fprintf(a.Stdout, "Result %d: %s\n", i, termtext.Line(f.URL))
		fmt.Fprintf(a.Stdout, " - Finder: config\n - Keyring: %s\n - Priority: %d\n", termtext.Line(f.Keyring), 50)
		if f.LastModified != 0 {
			fmt.Fprintf(a.Stdout, " - Summary last modified: %s\n", isoTime(f.LastModified))
		}
		fmt.Fprintln(a.Stdout, " - Refs:")
		for _, cr := range want {
			c := f.Refs[cr]
			s := "(not found)"
			if !c.IsZero() {
				s = c.String()
			}
			fmt.Fprintf(a.Stdout, "    - (%s, %s) = %s\n", cr.Collection, termtext.Line(cr.Ref), s)
		}
		fmt.Fprintln(a.Stdout)
	}
	var missing []refs.CollectionRef
	for _, cr := range want {
		ok := false
		for _, f := range found {
			ok = ok || !f.Refs[cr].IsZero()
		}
		if !ok {
			missing = append(missing, cr)
		}
	}
	if len(missing) == len(want) {
		fmt.Fprintln(a.Stdout, "No results.")
	} else if len(missing) > 0 {
		fmt.Fprintln(a.Stdout, "Refs not found in any remote:")
		for _, cr := range missing {
			fmt.Fprintf(a.Stdout, " - (%s, %s)\n", cr.Collection, termtext.Line(cr.Ref))
		}
	}
	fmt.Fprintf(a.Stdout, "%d/%d refs were found.\n", len(want)-len(missing), len(want))
}

func (a *app) createUSBCmd() *cobra.Command {
	var dest string
	c := &cobra.Command{
		Use:     "create-usb [--destination-repo=PATH] MOUNT-PATH COLLECTION-ID REF [COLLECTION-ID REF...]",
		Short:   "Copy collection refs onto a removable volume, for machines to pull from",
		Example: `  arbor --repo=repo create-usb /run/media/user/stick org.example.Os os/amd64/main`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 || len(args)%2 != 1 {
				return errors.New("A MOUNT-PATH and at least one COLLECTION-ID REF pair must be specified")
			}
			return nil
		},
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			var crs []refs.CollectionRef
			for i := 1; i < len(args); i += 2 {
				cr := refs.CollectionRef{Collection: args[i], Ref: args[i+1]}
				if err := refs.ValidateCollectionID(cr.Collection); err != nil {
					return err
				}
				if err := refs.Validate(cr.Ref); err != nil {
					return err
				}
				crs = append(crs, cr)
			}
			return fetch.CopyToVolume(cmd.Context(), r, args[0], dest, crs)
		}),
	}
	c.Flags().StringVar(&dest, "destination-repo", "", "the repository's path inside the volume (default .ostree/repo)")
	return c
}
