package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/gpg"
)

// summaryCacheDir is where a remote's last verified summary and its
// signature are kept (REMOTE and REMOTE.sig), so a pull whose remote has
// not changed fetches only the small signature.
const summaryCacheDir = "tmp/cache/summaries"

// cachedSummary fetches the remote's summary as fetchSummary does, but
// takes the cached copy when the remote's signature is byte for byte the
// cached one and still verifies the cached summary. Only summaries whose
// signatures were checked (GPG, or the remote's sign-verify-summary sp)
// are cached, and only they are reused.
// dir is the cache directory: CACHEDIR/summaries when one is given,
// else the repository's.
func cachedSummary(ctx context.Context, dir string, c *httpc.Client, rm *Remote, keyring *gpg.Keyring, sp *signPolicy, failInvalid bool) (*store.Summary, []byte, []byte, error) {
	if !rm.GPGVerifySummary && sp == nil {
		return fetchSummary(ctx, c, rm, keyring)
	}
	check := func(b, sig []byte) error {
		if rm.GPGVerifySummary {
			if err := verifySigs(keyring, b, sig); err != nil {
				return err
			}
		}
		if sp != nil {
			return sp.verifySummary(b, sig)
		}
		return nil
	}
	name := filepath.Join(dir, rm.Name)
	oldSum, errSum := os.ReadFile(name)
	oldSig, errSig := os.ReadFile(name + ".sig")
	if errSum == nil && errSig == nil {
		sig, err := c.Get(ctx, "summary.sig", maxMeta)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, nil, nil, fmt.Errorf("remote %s: %w", rm.Name, err)
		}
		if err == nil && bytes.Equal(sig, oldSig) {
			err := check(oldSum, oldSig)
			if err == nil {
				if s, err := store.ParseSummary(oldSum); err == nil {
					return s, oldSum, oldSig, nil
				}
			} else if failInvalid {
				return nil, nil, nil, fmt.Errorf("remote %s: OSTREE_REPO_TEST_ERROR_INVALID_CACHE: the kept summary %s does not verify: %w", rm.Name, name, err)
			}
		}
	}
	s, b, sig, err := fetchSummary(ctx, c, rm, keyring) // GPG checked there
	if err != nil {
		return nil, nil, nil, err
	}
	if s == nil {
		return nil, nil, nil, fmt.Errorf("remote %s: sign-verify-summary is set but the remote has no summary", rm.Name)
	}
	if sp != nil {
		if err := sp.verifySummary(b, sig); err != nil {
			return nil, nil, nil, fmt.Errorf("remote %s: %w", rm.Name, err)
		}
	}
	if sig == nil {
		return s, b, sig, nil
	}
	// Verified above; a cache that cannot be written costs only a fetch.
	if os.MkdirAll(dir, 0o755) == nil {
		if !bytes.Equal(b, oldSum) {
			atomic.WriteFile(name, b, 0o644, false)
		}
		if !bytes.Equal(sig, oldSig) {
			atomic.WriteFile(name+".sig", sig, 0o644, false)
		}
	}
	return s, b, sig, nil
}

// summaryCachePath is the summary cache directory for a repository, or
// below cacheDir when one is given.
func summaryCachePath(r *store.Repo, cacheDir string) string {
	if cacheDir != "" {
		return filepath.Join(cacheDir, "summaries")
	}
	return filepath.Join(r.Path(), filepath.FromSlash(summaryCacheDir))
}

// PruneSummaryCache removes the cached summaries of remotes that are no
// longer configured.
func PruneSummaryCache(r *store.Repo) error {
	dir := summaryCachePath(r, "")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("summary cache: %w", err)
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".sig")
		if r.Config().HasGroup(group(name)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("summary cache: %w", err)
		}
	}
	return nil
}
