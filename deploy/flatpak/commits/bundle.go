package commits

import (
	"context"
	"fmt"
	"slices"

	"arbor/deploy/flatpak"
	"arbor/store"
	"arbor/store/delta"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// A bundle is flatpak's single file of one ref: an inline static delta
// from scratch whose superblock's metadata says which ref it is, with
// what xa.metadata, and optionally where updates come from.

// bundleMagic is the value flatpak's bundles carry under "flatpak".
const bundleMagic uint32 = 0xe5890001

// BundleOptions are what a bundle may carry besides the ref.
type BundleOptions struct {
	RepoURL     string // where updates come from: the origin remote's URL
	RuntimeRepo string // a .flatpakrepo for the runtime
	GPGKeys     []byte // keys that verify the origin's commits
}

// BuildBundle writes ref's commit in repo, and everything it reaches, to
// the file out as a flatpak bundle.
func BuildBundle(ctx context.Context, repo *store.Repo, ref flatpak.Ref, out string, o BundleOptions) (object.Checksum, error) {
	c, err := repo.Resolve(ref.String())
	if err != nil {
		return object.Zero, err
	}
	cm, err := repo.ReadCommit(c)
	if err != nil {
		return object.Zero, err
	}
	meta, ok := object.Lookup(cm.Metadata, "xa.metadata")
	text, _ := meta.Value.(string)
	if !ok || text == "" {
		return object.Zero, fmt.Errorf("%s (commit %s) has no xa.metadata: not a flatpak commit", ref, c)
	}
	collection := ""
	if v, ok := object.Lookup(cm.Metadata, "ostree.collection-binding"); ok {
		collection, _ = v.Value.(string)
	}
	md := []object.MetaEntry{
		{Key: "flatpak", Value: gvariant.Variant{Type: gvariant.MustType("u"), Value: bundleMagic}},
		object.String("ref", ref.String()),
		object.String("metadata", text),
		object.String("collection-id", collection),
	}
	if o.RepoURL != "" {
		md = append(md, object.String("origin", o.RepoURL))
	}
	if o.RuntimeRepo != "" {
		md = append(md, object.String("runtime-repo", o.RuntimeRepo))
	}
	if len(o.GPGKeys) > 0 {
		md = append(md, object.MetaEntry{Key: "gpg-keys", Value: gvariant.Variant{Type: gvariant.MustType("ay"), Value: o.GPGKeys}})
	}
	g := delta.DefaultGenerateOptions()
	g.To, g.Inline, g.MinFallbackSize, g.Metadata, g.Output = c, true, 0, md, out
	if _, _, err := delta.Generate(ctx, repo, g); err != nil {
		return object.Zero, fmt.Errorf("bundle of %s: %w", ref, err)
	}
	return c, nil
}

// Bundle is what a bundle file holds and says of itself.
type Bundle struct {
	Ref    flatpak.Ref
	Commit object.Checksum
	// Origin is the URL updates come from; RuntimeRepo a .flatpakrepo
	// for the runtime; GPGKeys the keys the origin's commits are signed
	// with. Each may be empty.
	Origin, RuntimeRepo string
	GPGKeys             []byte
}

// ImportBundle stores the commit a bundle holds and points the ref at it:
// ReadBundle, then the ref.
func ImportBundle(ctx context.Context, repo *store.Repo, path string) (flatpak.Ref, object.Checksum, error) {
	b, err := ReadBundle(ctx, repo, path)
	if err != nil {
		return flatpak.Ref{}, object.Zero, err
	}
	if err := repo.SetRef(b.Ref.String(), b.Commit); err != nil {
		return flatpak.Ref{}, object.Zero, err
	}
	return b.Ref, b.Commit, nil
}

// ReadBundle stores the commit a bundle holds, every object checked
// against its checksum, and refuses it when the bundle's ref and
// metadata are not the commit's own. No ref is set.
func ReadBundle(ctx context.Context, repo *store.Repo, path string) (*Bundle, error) {
	c, sb, err := delta.ApplyOfflineFile(ctx, repo, path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	str := func(key string) string {
		v, _ := object.Lookup(sb.Metadata, key)
		s, _ := v.Value.(string)
		return s
	}
	ref, err := flatpak.ParseRef(str("ref"))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: its ref: %w", path, err)
	}
	cm, err := repo.ReadCommit(c)
	if err != nil {
		return nil, err
	}
	// What the bundle says of itself is not trusted: the commit,
	// checked against its checksum, is.
	if v, ok := object.Lookup(cm.Metadata, "xa.metadata"); !ok || v.Value != str("metadata") {
		return nil, fmt.Errorf("bundle %s: its metadata is not its commit's xa.metadata", path)
	}
	if v, ok := object.Lookup(cm.Metadata, "xa.ref"); ok && v.Value != ref.String() {
		return nil, fmt.Errorf("bundle %s: it says %s, its commit %s is of %v", path, ref, c, v.Value)
	}
	if v, ok := object.Lookup(cm.Metadata, "ostree.ref-binding"); ok {
		if bound, _ := v.Value.([]any); !slices.Contains(bound, any(ref.String())) {
			return nil, fmt.Errorf("bundle %s: it says %s, its commit %s is bound to %v", path, ref, c, bound)
		}
	}
	b := &Bundle{Ref: ref, Commit: c, Origin: str("origin"), RuntimeRepo: str("runtime-repo")}
	if v, ok := object.Lookup(sb.Metadata, "gpg-keys"); ok {
		b.GPGKeys, _ = v.Value.([]byte)
	}
	return b, nil
}
