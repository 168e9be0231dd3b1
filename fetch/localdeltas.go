package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"arbor/store"
	"arbor/store/object"
)

// localDeltas finds deltas in a repository on this machine as a pull
// from its URL would: through its summary (read once, and checked
// first when the pull verifies it) and its delta indexes.
type localDeltas struct {
	root string
	sum  *store.Summary
}

var _ deltaSource = localDeltas{}

func (d localDeltas) Deltas(ctx context.Context, to object.Checksum) (map[string][32]byte, error) {
	return listedDeltas(ctx, d.sum, to, d.Get)
}

func (d localDeltas) Listed(ctx context.Context) (map[string][32]byte, bool, error) {
	m, indexed := summaryDeltas(d.sum)
	return m, indexed, nil
}

// Get reads a file of the repository, no larger than max; the path may
// not leave the repository, by .. or by a symbolic link.
func (d localDeltas) Get(ctx context.Context, path string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenInRoot(d.root, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, path, d.root)
	}
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", path, d.root, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s in %s: %w", path, d.root, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s in %s is over the %d bytes it may be", path, d.root, max)
	}
	return b, nil
}

// readLocalSummary reads the summary of the repository at src, nil when
// it has none; like Get, not through a symbolic link out of src.
func readLocalSummary(src string) ([]byte, error) {
	b, err := localDeltas{root: src}.Get(context.Background(), "summary", maxMeta)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the summary of %s: %w", src, err)
	}
	return b, nil
}

// localDeltaUse is how a pull from the repository at src uses its
// deltas, the summary's bytes given (nil: it has none, so no deltas are
// listed): each ref starts from what local names it here.
func localDeltaUse(r *store.Repo, src string, summary []byte, local func(ref string) string, warn func(string)) (*deltaUse, error) {
	if summary == nil {
		return nil, nil
	}
	sum, err := store.ParseSummary(summary)
	if err != nil {
		return nil, fmt.Errorf("the summary of %s: %w", src, err)
	}
	return &deltaUse{src: localDeltas{root: src, sum: sum}, warn: warn, from: func(ref string) object.Checksum {
		c, err := r.ReadRef(local(ref))
		if err != nil {
			return object.Zero
		}
		return c
	}}, nil
}
