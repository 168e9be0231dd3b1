package store

import (
	"errors"
	"fmt"
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

// Resolve turns a revision into a commit checksum: a full checksum, a ref,
// "remote:ref", "remote/ref", each optionally followed by '^' for parents.
func (r *Repo) Resolve(rev string) (object.Checksum, error) {
	base := strings.TrimRight(rev, "^")
	ups := len(rev) - len(base)
	var c object.Checksum
	var err error
	if len(base) == 64 {
		if c, err = object.ParseChecksum(base); err == nil {
			return r.parents(c, ups, rev)
		}
	}
	c, err = r.ReadRef(base)
	if errors.Is(err, ErrRefNotFound) && !strings.Contains(base, ":") && strings.Contains(base, "/") {
		// ostree also finds refs/remotes/REMOTE/REF given as REMOTE/REF.
		i := strings.IndexByte(base, '/')
		if c2, err2 := r.ReadRef(base[:i] + ":" + base[i+1:]); err2 == nil {
			c, err = c2, nil
		}
	}
	if err != nil {
		return object.Zero, fmt.Errorf("cannot resolve %q: %w", rev, err)
	}
	return r.parents(c, ups, rev)
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
