package delta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"arbor/store"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// Ref names a delta in a repository.
type Ref struct{ From, To object.Checksum }

func (d Ref) String() string { return Name(d.From, d.To) }

// Dir is its directory, relative to the repository.
func (d Ref) Dir() string { return Dir(d.From, d.To) }

// List lists the deltas of the repository at root that have a
// superblock, sorted by name.
func List(ctx context.Context, root string) ([]Ref, error) {
	var out []Ref
	err := twoLevels(ctx, filepath.Join(root, "deltas"), func(pre, name string) {
		from, to, err := ParseDir(pre + "/" + name)
		if err != nil {
			return // not a delta's
		}
		if d := (Ref{from, to}); d.Exists(root) {
			out = append(out, d)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

// twoLevels calls fn for each entry of each directory in dir (deltas/XX/,
// delta-indexes/XX/); a missing dir has none.
func twoLevels(ctx context.Context, dir string, fn func(pre, name string)) error {
	pres, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range pres {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			return err
		}
		for _, e := range ents {
			fn(p.Name(), e.Name())
		}
	}
	return nil
}

// Find is the delta of the repository at root a name (FROM-TO or TO,
// in hex) means.
func Find(root, name string) (Ref, error) {
	from, to, err := ParseName(name)
	if err != nil {
		return Ref{}, err
	}
	d := Ref{from, to}
	if !d.Exists(root) {
		return Ref{}, &notFoundError{name}
	}
	return d, nil
}

// notFoundError is a delta the repository lacks, in ostree's words; it
// is an fs.ErrNotExist.
type notFoundError struct{ name string }

func (e *notFoundError) Error() string        { return "Can't find delta " + e.name }
func (e *notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// Exists says whether the repository at root has the delta: its
// superblock, written last.
func (d Ref) Exists(root string) bool {
	_, err := os.Lstat(filepath.Join(root, d.Dir(), "superblock"))
	return err == nil
}

// Read reads and decodes a delta's superblock.
func Read(root string, d Ref) (*Superblock, []byte, error) {
	b, err := os.ReadFile(filepath.Join(root, d.Dir(), "superblock"))
	if err != nil {
		return nil, nil, err
	}
	sb, err := ParseSuperblock(b)
	if err != nil {
		return nil, nil, fmt.Errorf("static delta %s: %w", d, err)
	}
	if sb.From != d.From || sb.To != d.To {
		return nil, nil, fmt.Errorf("static delta %s: %w: its superblock is of %s", d, ErrCorrupt, Name(sb.From, sb.To))
	}
	return sb, b, nil
}

// Reindex writes delta-indexes/ for the repository's deltas (one index
// per target commit, naming each delta to it with its superblock's
// sha256, as ostree's) and returns every delta by name with that sum, for
// the summary.
func Reindex(ctx context.Context, r *store.Repo) (map[string][32]byte, error) {
	root := r.Path()
	ds, err := List(ctx, root)
	if err != nil {
		return nil, err
	}
	all := map[string][32]byte{}
	byTo := map[object.Checksum][]Ref{}
	for _, d := range ds {
		b, err := os.ReadFile(filepath.Join(root, d.Dir(), "superblock"))
		if err != nil {
			return nil, err
		}
		all[d.String()] = Checksum(b)
		byTo[d.To] = append(byTo[d.To], d)
	}
	for to, refs := range byTo {
		sums := map[string][32]byte{}
		for _, d := range refs {
			sums[d.String()] = all[d.String()]
		}
		if err := r.WriteFile(IndexPath(to), IndexBytes(sums)); err != nil {
			return nil, err
		}
	}
	// An index of a target whose deltas were deleted would go on
	// offering them.
	keep := map[string]bool{}
	for to := range byTo {
		keep[IndexPath(to)] = true
	}
	stale, err := filepath.Glob(filepath.Join(root, "delta-indexes", "*", "*.index"))
	if err != nil {
		return nil, err
	}
	for _, p := range stale {
		rel, err := filepath.Rel(root, p)
		if err != nil || keep[filepath.ToSlash(rel)] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale delta index %s: %w", rel, err)
		}
	}
	return all, nil
}

// SummaryDeltas reindexes the repository's deltas and returns what its
// summary lists of them, as ostree.static-deltas: nil when it has none,
// or when core.no-deltas-in-summary is set (clients then find them
// through the indexes alone).
func SummaryDeltas(ctx context.Context, r *store.Repo) (*gvariant.Variant, error) {
	sums, err := Reindex(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("indexing the static deltas: %w", err)
	}
	off, err := r.Config().Bool("core", "no-deltas-in-summary", false)
	if err != nil {
		return nil, fmt.Errorf("core.no-deltas-in-summary: %w", err)
	}
	if off || len(sums) == 0 {
		return nil, nil
	}
	v := DeltasVariant(sums)
	return &v, nil
}

// IndexBytes is an index or summary entry's a{sv}:
// {"ostree.static-deltas": {NAME: <sha256>...}}, names sorted.
func IndexBytes(sums map[string][32]byte) []byte {
	return gvariant.MustEncode(gvariant.MustType("a{sv}"), []any{[]any{"ostree.static-deltas", DeltasVariant(sums)}})
}

// DeltasVariant is the a{sv} of delta names to superblock sums.
func DeltasVariant(sums map[string][32]byte) gvariant.Variant {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	items := make([]any, len(names))
	for i, n := range names {
		s := sums[n]
		items[i] = []any{n, gvariant.Variant{Type: gvariant.MustType("ay"), Value: append([]byte(nil), s[:]...)}}
	}
	return gvariant.Variant{Type: gvariant.MustType("a{sv}"), Value: items}
}

// Indexes lists the commits the repository has a delta index for.
func Indexes(ctx context.Context, root string) ([]object.Checksum, error) {
	var out []object.Checksum
	err := twoLevels(ctx, filepath.Join(root, "delta-indexes"), func(pre, name string) {
		if rest, ok := strings.CutSuffix(name, ".index"); ok {
			if c, err := unb64(pre + rest); err == nil {
				out = append(out, c)
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

// Delete removes the delta from the repository at root: the superblock
// first, since without it the rest is no delta.
func (d Ref) Delete(root string) error {
	dir := filepath.Join(root, d.Dir())
	if err := os.Remove(filepath.Join(dir, "superblock")); err != nil {
		return fmt.Errorf("deleting delta %s: %w", d, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("deleting delta %s: %w", d, err)
	}
	return nil
}

// DeleteTo removes every delta of the repository at root that leads to
// commit to, and says which.
func DeleteTo(ctx context.Context, root string, to object.Checksum) ([]Ref, error) {
	all, err := List(ctx, root)
	if err != nil {
		return nil, err
	}
	var gone []Ref
	for _, d := range all {
		if d.To != to {
			continue
		}
		if err := d.Delete(root); err != nil {
			return gone, err
		}
		gone = append(gone, d)
	}
	return gone, nil
}
