package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"arbor/store/object"
)

// CheckTreeIndexes checks every tree index the repository keeps (its own,
// or those kept by lazy mounts): each parses, with its dirtrees, dirmetas
// and symlinks matching their checksums; each file it describes that is
// here has the header and size it claims; and a signature beside it, when
// verify is given, verifies. Problems are named by the index's path.
func (r *Repo) CheckTreeIndexes(ctx context.Context, verify func(data, sig []byte) error) ([]Problem, error) {
	dir := filepath.Join(r.path, filepath.Dir(TreeIndexPath(object.Zero)))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".treeindex")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		name := filepath.Join(filepath.Dir(TreeIndexPath(object.Zero)), e.Name())
		c, err := object.ParseChecksum(hex)
		if err != nil {
			out = append(out, Problem{Object: name, Err: errors.New("not named by a commit checksum")})
			continue
		}
		if err := r.checkTreeIndex(ctx, c, verify); err != nil {
			out = append(out, Problem{Object: name, Err: err})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out, nil
}

func (r *Repo) checkTreeIndex(ctx context.Context, c object.Checksum, verify func(data, sig []byte) error) error {
	b, err := os.ReadFile(filepath.Join(r.path, TreeIndexPath(c)))
	if err != nil {
		return err
	}
	if verify != nil {
		sig, err := os.ReadFile(filepath.Join(r.path, TreeIndexSigPath(c)))
		if err == nil {
			if err := verify(b, sig); err != nil {
				return fmt.Errorf("%w: its signature: %v", ErrForgedIndex, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	ti, err := ParseTreeIndex(b)
	if err != nil {
		return err
	}
	for i, f := range ti.Files {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		h, size, err := r.StatContent(f.Checksum)
		if errors.Is(err, ErrObjectMissing) {
			continue // not here to compare with
		}
		if err != nil {
			return fmt.Errorf("%s: %w", object.Name(f.Checksum, object.TypeFile), err)
		}
		if size != f.Size || string(h.Marshal()) != string(f.Header.Marshal()) {
			return fmt.Errorf("%w: it describes %s as mode %o, owner %d:%d, %d bytes; the object is mode %o, owner %d:%d, %d bytes",
				ErrForgedIndex, object.Name(f.Checksum, object.TypeFile), f.Header.Mode, f.Header.UID, f.Header.GID, f.Size,
				h.Mode, h.UID, h.GID, size)
		}
	}
	return nil
}
