package fetch

import (
	"context"
	"sort"

	"arbor/store"
	"arbor/store/gpg"
)

// Fsck checks the repository as store's Fsck does, and every tree index
// it keeps, whose signatures must verify with the keys of one of its
// remotes.
func Fsck(ctx context.Context, r *store.Repo, opts store.FsckOptions, progress func(done, total int64)) (*store.FsckResult, error) {
	res, err := r.FsckWith(ctx, opts, progress)
	if err != nil {
		return res, err
	}
	keys, err := TrustedKeys(r)
	if err != nil {
		return nil, err
	}
	var verify func(data, sig []byte) error
	if keys.Len() > 0 {
		verify = func(data, sig []byte) error { return verifySigs(keys, data, sig) }
	}
	probs, err := r.CheckTreeIndexes(ctx, verify)
	if err != nil {
		return res, err
	}
	res.Problems = append(res.Problems, probs...)
	sort.Slice(res.Problems, func(i, j int) bool { return res.Problems[i].Object < res.Problems[j].Object })
	return res, nil
}

// TrustedKeys are the keys of every remote of the repository.
func TrustedKeys(r *store.Repo) (*gpg.Keyring, error) {
	all, err := gpg.ParseKeyring(nil)
	if err != nil {
		return nil, err
	}
	for _, name := range ListRemotes(r) {
		rm, err := LoadRemote(r, name)
		if err != nil {
			return nil, err
		}
		k, err := rm.Keyring(r)
		if err != nil {
			return nil, err
		}
		all.Merge(k)
	}
	return all, nil
}
