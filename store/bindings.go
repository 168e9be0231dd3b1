package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// Commit metadata keys that bind a commit to the refs and collection it
// was published for, so a server cannot pass one branch off as another.
const (
	KeyRefBinding        = "ostree.ref-binding"
	KeyCollectionBinding = "ostree.collection-binding"
)

// RefBindings are the refs a commit's metadata binds it to; ok is false
// when it has no ref binding at all.
func RefBindings(md []object.MetaEntry) (bound []string, ok bool) {
	v, ok := object.Lookup(md, KeyRefBinding)
	if !ok {
		return nil, false
	}
	items, _ := v.Value.([]any)
	for _, it := range items {
		if s, ok := it.(string); ok {
			bound = append(bound, s)
		}
	}
	return bound, true
}

// CollectionBinding is the collection a commit's metadata binds it to.
func CollectionBinding(md []object.MetaEntry) (string, bool) {
	v, ok := object.Lookup(md, KeyCollectionBinding)
	if !ok {
		return "", false
	}
	s, ok := v.Value.(string)
	return s, ok
}

// VerifyBindings checks that a commit with metadata md may stand for ref
// (when set) of collection (when set): its ref binding lists ref and its
// collection binding is collection. A commit with no ref binding at all
// passes when no collection is asked for, as older commits have none.
// The messages are ostree's, which scripts match.
func VerifyBindings(md []object.MetaEntry, collection, ref string) error {
	bound, ok := RefBindings(md)
	if !ok {
		if collection == "" {
			return nil
		}
		return errors.New("Expected commit metadata to have ref binding information, found none")
	}
	if ref != "" && !contains(bound, ref) {
		list := "no refs"
		if len(bound) > 0 {
			q := make([]string, len(bound))
			for i, b := range bound {
				q[i] = "‘" + b + "’"
			}
			list = strings.Join(q, ", ")
		}
		return fmt.Errorf("Commit has no requested ref ‘%s’ in ref binding metadata (%s)", ref, list)
	}
	if collection != "" {
		id, ok := CollectionBinding(md)
		if !ok {
			return errors.New("Expected commit metadata to have collection ID binding information, found none")
		}
		if id != collection {
			return fmt.Errorf("Commit has collection ID ‘%s’ in collection binding metadata, while the remote it came from has collection ID ‘%s’", id, collection)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckRefs loads the commit each ref points at (remote refs included),
// failing at the first that is missing or bad; with verify, each commit
// must also be bound to its ref.
func (r *Repo) CheckRefs(verify bool) error {
	all, err := r.Refs()
	if err != nil {
		return err
	}
	for _, name := range refs.SortedNames(all) {
		ref := name
		if _, rest, ok := strings.Cut(name, ":"); ok {
			ref = rest
		}
		err := r.checkRefTarget(all[name], "", ref, verify)
		if errors.Is(err, ErrObjectMissing) {
			// ostree's words, which scripts match.
			return fmt.Errorf("Loading commit for ref %s: %w", name, err)
		}
		if err != nil {
			return fmt.Errorf("ref %s: %w", name, err)
		}
	}
	return nil
}

// CheckCollectionRefs is CheckRefs for the refs known by collection: the
// repository's own and the mirrored ones (not remotes').
func (r *Repo) CheckCollectionRefs(verify bool) error {
	m, err := r.localCollectionRefs("")
	if err != nil {
		return err
	}
	for _, cr := range refs.SortedCollectionRefs(m) {
		if err := r.checkRefTarget(m[cr], cr.Collection, cr.Ref, verify); err != nil {
			return fmt.Errorf("ref (%s, %s): %w", cr.Collection, cr.Ref, err)
		}
	}
	return nil
}

func (r *Repo) checkRefTarget(c object.Checksum, collection, ref string, verify bool) error {
	cm, err := r.ReadCommit(c)
	if err != nil {
		if verr := r.VerifyObject(index.Ref{Checksum: c, Type: object.TypeCommit}); errors.Is(verr, ErrCorrupt) {
			return nil // the objects' check names it, in ostree's words
		}
		return err
	}
	if verify {
		if err := VerifyBindings(cm.Metadata, collection, ref); err != nil {
			return fmt.Errorf("Commit %s: %w", c, err)
		}
	}
	return nil
}

// CheckBackRefs checks that every ref a stored commit is bound to exists
// and points at that commit: true of repositories regenerated whole for
// each commit, not of ones whose refs move on.
func (r *Repo) CheckBackRefs(ctx context.Context) error {
	commits, err := r.Commits(ctx)
	if err != nil {
		return err
	}
	for _, c := range commits {
		cm, err := r.ReadCommit(c)
		if err != nil {
			return err
		}
		bound, _ := RefBindings(cm.Metadata)
		id, hasID := CollectionBinding(cm.Metadata)
		for _, ref := range bound {
			var got object.Checksum
			if hasID {
				got, err = r.ReadCollectionRef(refs.CollectionRef{Collection: id, Ref: ref})
				if errors.Is(err, ErrRefNotFound) {
					return fmt.Errorf("Collection–ref (%s, %s) in bindings for commit %s does not exist", id, ref, c)
				}
			} else {
				got, err = r.ReadRef(ref)
				if errors.Is(err, ErrRefNotFound) {
					return fmt.Errorf("Ref ‘%s’ in bindings for commit %s does not exist", ref, c)
				}
			}
			if err != nil {
				return err
			}
			if got != c {
				return fmt.Errorf("Ref ‘%s’ in bindings for commit %s points to commit %s", ref, c, got)
			}
		}
	}
	return nil
}
