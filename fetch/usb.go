package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"arbor/store"
	"arbor/store/object"
)

// volumeRepos are where a removable volume's repository is looked for
// without a link to it.
func volumeRepos() []string { return []string{".ostree/repo", "ostree/repo", "var/lib/flatpak/repo"} }

// CopyToVolume copies collection refs of r, with everything their
// commits reach, into an archive repository at mount/dest (created when
// missing) so the volume can be carried to machines that pull from it;
// the copied refs are kept by collection and the summary rewritten. A
// repository outside the usual places gets a link in .ostree/repos.d.
func CopyToVolume(ctx context.Context, r *store.Repo, mount, dest string, crs []store.CollectionRef) error {
	if dest == "" {
		dest = volumeRepos()[0]
	}
	if filepath.IsAbs(dest) || !filepath.IsLocal(dest) {
		return fmt.Errorf("destination repository %s: want a path inside the volume", dest)
	}
	commits := map[store.CollectionRef]object.Checksum{}
	var revs []string
	for _, cr := range crs {
		c, err := r.ReadCollectionRef(cr)
		if err != nil {
			return err
		}
		commits[cr] = c
		revs = append(revs, c.String())
	}
	path := filepath.Join(mount, dest)
	var dr *store.Repo
	if _, err := os.Stat(filepath.Join(path, "config")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("destination repository %s: %w", path, err)
		}
		dr, err = store.Init(path, store.ModeArchive)
		if err != nil {
			return fmt.Errorf("destination repository %s: %w", path, err)
		}
	} else if dr, err = store.Open(path); err != nil {
		return fmt.Errorf("destination repository %s: %w", path, err)
	}
	defer dr.Close()
	// By checksum: the refs are set below, by collection.
	if _, err := PullLocal(ctx, dr, r.Path(), revs, PullOptions{Depth: 0}); err != nil {
		return err
	}
	for _, cr := range crs {
		if err := dr.SetCollectionRef(cr, commits[cr]); err != nil {
			return err
		}
	}
	if err := dr.UpdateSummary(ctx, time.Now(), nil); err != nil {
		return err
	}
	for _, std := range volumeRepos() {
		if filepath.Clean(dest) == std {
			return nil
		}
	}
	links := filepath.Join(mount, ".ostree", "repos.d")
	if err := os.MkdirAll(links, 0o755); err != nil {
		return fmt.Errorf("linking %s: %w", dest, err)
	}
	link := filepath.Join(links, "00-generated")
	target := filepath.Join("..", "..", dest)
	if old, err := os.Readlink(link); err == nil && old == target {
		return nil
	}
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("linking %s: %w", dest, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("linking %s: %w", dest, err)
	}
	return nil
}
