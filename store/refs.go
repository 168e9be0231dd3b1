package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"arbor/store/object"
	"arbor/store/refs"
)

// ErrRefNotFound is returned for refs that do not exist.
var ErrRefNotFound = refs.ErrNotFound

func (r *Repo) refs() refs.Dir { return refs.Dir(r.path) }

// ReadRef reads a refspec ("ref" or "remote:ref").
func (r *Repo) ReadRef(spec string) (object.Checksum, error) { return r.refs().Read(spec) }

// SetRef points a refspec at a commit, atomically and durably; refs are the
// last thing a command writes.
func (r *Repo) SetRef(spec string, c object.Checksum) error { return r.refs().Set(spec, c, r.fsync) }

// DeleteRef removes a ref and any directories it leaves empty.
func (r *Repo) DeleteRef(spec string) error { return r.refs().Delete(spec) }

// Refs lists every ref: local ones by name, remote ones as "remote:ref".
func (r *Repo) Refs() (map[string]object.Checksum, error) { return r.refs().All() }

// LocalRefs lists the local refs below prefix (such as "deploy"), without
// walking the others.
func (r *Repo) LocalRefs(prefix string) (map[string]object.Checksum, error) {
	return r.refs().Local(prefix)
}

// Resolve turns a revision into a commit checksum as ostree does: a full
// checksum; a unique prefix of a stored commit's; "remote:ref"; a local
// ref, else the ref under any remote ("remote/ref" included); each
// optionally followed by '^' for parents.
func (r *Repo) Resolve(rev string) (object.Checksum, error) {
	base := strings.TrimRight(rev, "^")
	ups := len(rev) - len(base)
	if len(base) == 64 {
		if c, err := object.ParseChecksum(base); err == nil {
			return r.parents(c, ups, rev)
		}
	}
	if c, ok, err := r.commitByPrefix(base); err != nil {
		return object.Zero, fmt.Errorf("cannot resolve %q: %w", rev, err)
	} else if ok {
		return r.parents(c, ups, rev)
	}
	c, err := r.ReadRef(base)
	if errors.Is(err, ErrRefNotFound) && !strings.Contains(base, ":") {
		c, err = r.refs().ReadInRemotes(base)
	}
	if err != nil {
		return object.Zero, fmt.Errorf("cannot resolve %q: %w", rev, err)
	}
	return r.parents(c, ups, rev)
}

// commitByPrefix finds the one stored commit whose checksum starts with
// prefix, when prefix is hex; ok is false when none does.
func (r *Repo) commitByPrefix(prefix string) (object.Checksum, bool, error) {
	if prefix == "" || len(prefix) >= 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return object.Zero, false, nil
	}
	dirs := []string{}
	if len(prefix) >= 2 {
		dirs = append(dirs, prefix[:2])
	} else {
		for i := range 256 {
			if d := fmt.Sprintf("%02x", i); strings.HasPrefix(d, prefix) {
				dirs = append(dirs, d)
			}
		}
	}
	var found []object.Checksum
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(r.path, "objects", d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return object.Zero, false, err
		}
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".commit")
			if !ok || !strings.HasPrefix(d+name, prefix) {
				continue
			}
			if c, err := object.ParseChecksum(d + name); err == nil {
				found = append(found, c)
			}
		}
	}
	switch len(found) {
	case 0:
		return object.Zero, false, nil
	case 1:
		return found[0], true, nil
	}
	return object.Zero, false, fmt.Errorf("refspec %s not unique: %d commits start with it", prefix, len(found))
}

func (r *Repo) parents(c object.Checksum, n int, rev string) (object.Checksum, error) {
	for i := 0; i < n; i++ {
		cm, err := r.ReadCommit(c)
		if err != nil {
			return object.Zero, fmt.Errorf("resolving %q: %w", rev, err)
		}
		if cm.Parent.IsZero() {
			return object.Zero, fmt.Errorf("resolving %q: commit %s has no parent", rev, c)
		}
		c = cm.Parent
	}
	return c, nil
}

// RefAliases maps each local alias (refs -A) to the ref it names.
func (r *Repo) RefAliases() (map[string]string, error) { return r.refs().Aliases() }

// SetRefAlias makes alias name the local ref target.
func (r *Repo) SetRefAlias(alias, target string) error { return r.refs().SetAlias(alias, target) }

// CollectionRef names a ref within a collection.
type CollectionRef = refs.CollectionRef

// CollectionID is the repository's own collection (core.collection-id),
// empty when it has none.
func (r *Repo) CollectionID() string { return r.Config().String("core", "collection-id", "") }

// CollectionRefs lists the refs that belong to a collection: local refs
// under the repository's collection ID, remote refs of remotes that have
// one, and the mirrored refs of other collections. A non-empty collection
// keeps only that collection's refs.
func (r *Repo) CollectionRefs(collection string) (map[refs.CollectionRef]object.Checksum, error) {
	return r.collectionRefs(collection, true)
}

// localCollectionRefs is CollectionRefs without the remotes' refs.
func (r *Repo) localCollectionRefs(collection string) (map[refs.CollectionRef]object.Checksum, error) {
	return r.collectionRefs(collection, false)
}

func (r *Repo) collectionRefs(collection string, remotes bool) (map[refs.CollectionRef]object.Checksum, error) {
	out := map[refs.CollectionRef]object.Checksum{}
	all, err := r.Refs()
	if err != nil {
		return nil, err
	}
	own := r.CollectionID()
	for name, c := range all {
		id := own
		ref := name
		if remote, rest, ok := strings.Cut(name, ":"); ok {
			if !remotes {
				continue
			}
			id = r.Config().String(fmt.Sprintf("remote %q", remote), "collection-id", "")
			ref = rest
		}
		if id != "" && (collection == "" || collection == id) {
			out[refs.CollectionRef{Collection: id, Ref: ref}] = c
		}
	}
	mirrors, err := r.refs().Mirrors()
	if err != nil {
		return nil, err
	}
	for cr, c := range mirrors {
		if collection == "" || collection == cr.Collection {
			out[cr] = c
		}
	}
	return out, nil
}

// SetCollectionRef points a collection's ref at a commit: a local ref
// when the collection is the repository's own, else a mirrored one.
func (r *Repo) SetCollectionRef(cr refs.CollectionRef, c object.Checksum) error {
	if cr.Collection == r.CollectionID() {
		return r.SetRef(cr.Ref, c)
	}
	return r.refs().SetMirror(cr, c, r.fsync)
}

// ReadCollectionRef reads a collection's ref, as SetCollectionRef lays it out.
func (r *Repo) ReadCollectionRef(cr refs.CollectionRef) (object.Checksum, error) {
	m, err := r.CollectionRefs(cr.Collection)
	if err != nil {
		return object.Zero, err
	}
	if c, ok := m[cr]; ok {
		return c, nil
	}
	return object.Zero, fmt.Errorf("ref (%s, %s): %w", cr.Collection, cr.Ref, ErrRefNotFound)
}

// DeleteCollectionRef removes a collection's ref wherever it is kept: a
// local ref, a remote's ref, or a mirrored one.
func (r *Repo) DeleteCollectionRef(cr refs.CollectionRef) error {
	if cr.Collection == r.CollectionID() {
		if err := r.DeleteRef(cr.Ref); err == nil || !errors.Is(err, ErrRefNotFound) {
			return err
		}
	}
	all, err := r.Refs()
	if err != nil {
		return err
	}
	for name := range all {
		remote, rest, ok := strings.Cut(name, ":")
		if ok && rest == cr.Ref && r.Config().String(fmt.Sprintf("remote %q", remote), "collection-id", "") == cr.Collection {
			return r.DeleteRef(name)
		}
	}
	return r.refs().DeleteMirror(cr)
}

// OnlyCommit is the repository's one commit; it fails when there is none
// or more than one.
func (r *Repo) OnlyCommit(ctx context.Context) (object.Checksum, error) {
	commits, err := r.Commits(ctx)
	if err != nil {
		return object.Zero, err
	}
	switch len(commits) {
	case 0:
		return object.Zero, fmt.Errorf("No commit objects found in %s", r.path)
	case 1:
		return commits[0], nil
	}
	return object.Zero, fmt.Errorf("Multiple commit objects found in %s (%d)", r.path, len(commits))
}
