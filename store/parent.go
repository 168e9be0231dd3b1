package store

import (
	"fmt"
	"path/filepath"

	"arbor/store/index"
	"arbor/store/object"
)

// maxParents bounds a chain of parent repositories (core.parent), so a
// loop of them cannot make every lookup recurse forever.
const maxParents = 8

// openParent opens the repository's parent (core.parent), whose objects
// the repository reads as its own and does not store again; nil when
// there is none.
func (r *Repo) openParent(depth int) (*Repo, error) {
	p := r.Config().String("core", "parent", "")
	if p == "" {
		return nil, nil
	}
	if depth >= maxParents {
		return nil, fmt.Errorf("repo %s: more than %d parent repositories", r.path, maxParents)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.path, p)
	}
	pr, err := openDepth(p, depth+1)
	if err != nil {
		return nil, fmt.Errorf("repo %s: parent: %w", r.path, err)
	}
	return pr, nil
}

// inParents says whether a parent repository holds the object.
func (r *Repo) inParents(ref index.Ref) bool {
	for p := r.parent; p != nil; p = p.parent {
		if ref.Type == object.TypeFile && p.archive() != r.archive() {
			// Content in another layout is stored again, in this one.
			return false
		}
		if ok, _ := p.HasObject(ref.Checksum, ref.Type); ok {
			return true
		}
	}
	return false
}
