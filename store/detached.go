package store

import (
	"context"
	"fmt"

	"arbor/store/atomic"
	"arbor/store/gvariant"
	"arbor/store/index"
	"arbor/store/object"
)

// GPGSigsKey is where ostree keeps GPG signatures in detached metadata and
// in summary.sig.
const GPGSigsKey = "ostree.gpgsigs"

// AppendSignature adds a signature to a detached-metadata a{sv} (a
// .commitmeta or summary.sig; nil for none yet), keeping the other keys.
func AppendSignature(detached []byte, sig []byte) ([]byte, error) {
	var md []object.MetaEntry
	if detached != nil {
		var err error
		if md, err = object.ParseVarDict(detached); err != nil {
			return nil, fmt.Errorf("detached metadata: %w", err)
		}
	}
	found := false
	for i, e := range md {
		if e.Key != GPGSigsKey {
			continue
		}
		items, ok := e.Value.Value.([]any)
		if !ok || e.Value.Type.String() != "aay" {
			return nil, fmt.Errorf("detached metadata: %s is %s, want aay", GPGSigsKey, e.Value.Type)
		}
		md[i].Value.Value = append(append([]any{}, items...), sig)
		found = true
	}
	if !found {
		md = append(md, object.MetaEntry{Key: GPGSigsKey, Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: []any{sig}}})
	}
	return object.MarshalVarDict(md)
}

// SignCommit adds a signature over a commit's bytes to its .commitmeta.
// sign gets the exact bytes of the commit object.
func (r *Repo) SignCommit(ctx context.Context, c object.Checksum, sign func([]byte) ([]byte, error)) error {
	b, err := r.ReadMeta(c, object.TypeCommit)
	if err != nil {
		return err
	}
	sig, err := sign(b)
	if err != nil {
		return fmt.Errorf("signing commit %s: %w", c, err)
	}
	old, err := r.ReadMeta(c, object.TypeCommitMeta)
	if err != nil && !isNotExist(err) {
		return err
	}
	if err != nil {
		old = nil
	}
	md, err := AppendSignature(old, sig)
	if err != nil {
		return fmt.Errorf("commit %s: %w", c, err)
	}
	return r.writeDetached(ctx, c, md)
}

// SetDetached sets keys of a commit's detached metadata (.commitmeta),
// keeping the others: what ostree's commit --add-detached-metadata-string
// writes. The commit must be stored.
func (r *Repo) SetDetached(ctx context.Context, c object.Checksum, entries []object.MetaEntry) error {
	if _, err := r.ReadMeta(c, object.TypeCommit); err != nil {
		return err
	}
	var md []object.MetaEntry
	old, err := r.ReadMeta(c, object.TypeCommitMeta)
	switch {
	case err == nil:
		if md, err = object.ParseVarDict(old); err != nil {
			return fmt.Errorf("detached metadata of %s: %w", c, err)
		}
	case !isNotExist(err):
		return err
	}
	for _, e := range entries {
		replaced := false
		for i := range md {
			if md[i].Key == e.Key {
				md[i], replaced = e, true
			}
		}
		if !replaced {
			md = append(md, e)
		}
	}
	b, err := object.MarshalVarDict(md)
	if err != nil {
		return fmt.Errorf("detached metadata of %s: %w", c, err)
	}
	return r.writeDetached(ctx, c, b)
}

// writeDetached replaces a commit's .commitmeta and indexes it.
func (r *Repo) writeDetached(ctx context.Context, c object.Checksum, md []byte) error {
	if err := atomic.WriteFile(r.ObjectPath(c, object.TypeCommitMeta), md, 0o644, r.fsync); err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", c, err)
	}
	idx, err := r.Index(ctx)
	if err != nil {
		return err
	}
	return idx.Add([]index.Entry{{Ref: index.Ref{Checksum: c, Type: object.TypeCommitMeta}, Size: int64(len(md))}})
}
