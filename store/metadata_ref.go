package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"arbor/store/object"
)

// MetadataRef is the ref whose commits carry a collection repository's
// summary metadata, so peers that share the collection can pass it on
// with the binding and signatures a commit has.
const MetadataRef = "ostree-metadata"

// CommitMetadataRef commits md (with the ref and collection bindings) on
// MetadataRef, over an empty tree, after the ref's current commit.
func (r *Repo) CommitMetadataRef(ctx context.Context, md []object.MetaEntry) (object.Checksum, error) {
	if r.CollectionID() == "" {
		return object.Zero, fmt.Errorf("%s: the repository has no collection ID", MetadataRef)
	}
	dir, err := os.MkdirTemp(filepath.Join(r.path, "tmp"), "metadata-")
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", MetadataRef, err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", MetadataRef, err)
	}
	c, _, err := r.CommitDir(ctx, dir, CommitOptions{Branch: MetadataRef, OwnerUID: 0, OwnerGID: 0, NoXattrs: true, Metadata: md})
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", MetadataRef, err)
	}
	return c, nil
}
