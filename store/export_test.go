package store

import (
	"context"

	"arbor/store/index"
	"arbor/store/object"
)

// Seams for the tests of package store_test: the walks with the reader
// they read dirtrees through given by the test.

func ReachWith(ctx context.Context, src TreeReader, root Root) ([]index.Ref, error) {
	return reach(ctx, src, root, false)
}

func (r *Repo) TolerantReachWith(ctx context.Context, wrap func(TreeReader) TreeReader, commit object.Checksum, report func(index.Ref, error)) ([]index.Ref, error) {
	return r.tolerantReach(ctx, wrap(verifiedTrees{r}), commit, report)
}

type MetaReader = metaReader

func (r *Repo) BuildTreeIndexWith(ctx context.Context, src MetaReader, commit object.Checksum) ([]byte, error) {
	return r.buildTreeIndex(ctx, src, commit)
}

func DiffWith(ctx context.Context, src TreeReader, a, b Root, fn func(Change) error) error {
	return diff(ctx, src, a, b, fn)
}
