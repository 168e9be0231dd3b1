package fetch

import (
	"context"
	"fmt"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// Fetcher brings single objects into the store on demand, for lazy mounts:
// concurrent requests for one object cause one download, and every object
// is verified before it is stored.
type Fetcher struct {
	repo  *store.Repo
	src   Source
	group httpc.Group
}

// NewFetcher fetches from a configured remote.
func NewFetcher(r *store.Repo, remote string) (*Fetcher, error) {
	rm, err := LoadRemote(r, remote)
	if err != nil {
		return nil, err
	}
	src, err := newHTTPSource(rm)
	if err != nil {
		return nil, err
	}
	return &Fetcher{repo: r, src: src}, nil
}

// Fetch makes sure the object is in the store.
func (f *Fetcher) Fetch(ctx context.Context, ref index.Ref) error {
	key := object.Name(ref.Checksum, ref.Type)
	_, err := f.group.Do(ctx, key, func(ctx context.Context) ([]byte, error) {
		if has, err := f.repo.HasObject(ref.Checksum, ref.Type); err != nil || has {
			return nil, err
		}
		txn, err := f.repo.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer txn.Abort()
		if ref.Type == object.TypeFile {
			h, size, body, err := f.src.Content(ctx, ref.Checksum)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			defer body.Close()
			if err := txn.AddContent(ref.Checksum, h, size, body); err != nil {
				return nil, err
			}
		} else {
			b, err := f.src.Meta(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			if err := txn.AddMeta(ref, b); err != nil {
				return nil, err
			}
		}
		return nil, txn.Commit()
	})
	return err
}
