package fetch

import (
	"errors"
	"fmt"

	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// openLocalCache opens the repository a pull takes objects from before
// asking the remote (--localcache-repo); nil without one.
func openLocalCache(path string) (*store.Repo, error) {
	if path == "" {
		return nil, nil
	}
	r, err := store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("local cache repository %s: %w", path, err)
	}
	return r, nil
}

// metaFromCache copies a metadata object from the local cache, checked
// against its checksum as a fetched one is; false when the cache lacks it.
func (p *puller) metaFromCache(ref index.Ref) (bool, error) {
	if p.cache == nil {
		return false, nil
	}
	b, err := localSource{p.cache}.Meta(p.ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := p.txn.AddMeta(ref, b); err != nil {
		return false, err
	}
	p.nMetaLocal.Add(1)
	return true, nil
}

// contentFromCache is metaFromCache for a content object, hashed as it
// is written.
func (p *puller) contentFromCache(c object.Checksum) (bool, error) {
	if p.cache == nil {
		return false, nil
	}
	h, size, body, err := localSource{p.cache}.Content(p.ctx, c)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer body.Close()
	if err := p.txn.AddContent(c, h, size, body); err != nil {
		return false, err
	}
	p.nContentLocal.Add(1)
	return true, nil
}
