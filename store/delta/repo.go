package delta

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

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
	pres, err := os.ReadDir(filepath.Join(root, "deltas"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, p := range pres {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !p.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, "deltas", p.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			from, to, err := ParseDir(p.Name() + "/" + e.Name())
			if err != nil {
				continue // not a delta's
			}
			if _, err := os.Lstat(filepath.Join(root, Dir(from, to), "superblock")); err == nil {
				out = append(out, Ref{from, to})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// Find is the delta of the repository at root a name (FROM-TO or TO,
// in hex) means.
func Find(root, name string) (Ref, error) {
	from, to, err := ParseName(name)
	if err != nil {
		return Ref{}, err
	}
	d := Ref{from, to}
	if _, err := os.Lstat(filepath.Join(root, d.Dir(), "superblock")); err != nil {
		return Ref{}, fmt.Errorf("static delta %s: not in the repository", name)
	}
	return d, nil
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
