package main

import (
	"errors"
	"fmt"
	"strings"

	"arbor/cmd/internal/termtext"
	"arbor/store"
	"arbor/store/refs"
)

type collectionRefsOpts struct {
	create               string
	del, force, revision bool
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
		if _, err := r.ReadCollectionRef(cr); err == nil && !o.force {
			return fmt.Errorf("--create specified but ref (%s, %s) already exists", id, ref)
		}
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
