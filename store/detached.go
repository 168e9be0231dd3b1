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
	return AppendSignatureAt(detached, GPGSigsKey, sig)
}

// AppendSignatureAt adds a signature to the array of byte strings at key
// of a detached-metadata a{sv}, keeping the other keys.
func AppendSignatureAt(detached []byte, key string, sig []byte) ([]byte, error) {
	var md []object.MetaEntry
	if detached != nil {
		var err error
		if md, err = object.ParseVarDict(detached); err != nil {
			return nil, fmt.Errorf("detached metadata: %w", err)
		}
	}
	found := false
	for i, e := range md {
		if e.Key != key {
			continue
		}
		items, ok := e.Value.Value.([]any)
		if !ok || e.Value.Type.String() != "aay" {
			return nil, fmt.Errorf("detached metadata: %s is %s, want aay", key, e.Value.Type)
		}
		md[i].Value.Value = append(append([]any{}, items...), sig)
		found = true
	}
	if !found {
		md = append(md, object.MetaEntry{Key: key, Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: []any{sig}}})
	}
	return object.MarshalVarDict(md)
}

// SignCommit adds a signature over a commit's bytes to its .commitmeta.
// sign gets the exact bytes of the commit object.
func (r *Repo) SignCommit(ctx context.Context, c object.Checksum, sign func([]byte) ([]byte, error)) error {
	return r.SignCommitAt(ctx, c, GPGSigsKey, sign)
}

// SignCommitAt adds a signature over a commit's bytes to the array at key
// of its .commitmeta.
func (r *Repo) SignCommitAt(ctx context.Context, c object.Checksum, key string, sign func([]byte) ([]byte, error)) error {
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
	md, err := AppendSignatureAt(old, key, sig)
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

// SignaturesAt are the byte strings at key of a detached-metadata a{sv}.
func SignaturesAt(detached []byte, key string) ([][]byte, error) {
	if detached == nil {
		return nil, nil
	}
	md, err := object.ParseVarDict(detached)
	if err != nil {
		return nil, fmt.Errorf("detached metadata: %w", err)
	}
	v, ok := object.Lookup(md, key)
	if !ok {
		return nil, nil
	}
	items, ok := v.Value.([]any)
	if !ok || v.Type.String() != "aay" {
		return nil, fmt.Errorf("detached metadata: %s is %s, want aay", key, v.Type)
	}
	out := make([][]byte, 0, len(items))
	for _, it := range items {
		b, ok := it.([]byte)
		if !ok {
			return nil, fmt.Errorf("detached metadata: %s holds %T", key, it)
		}
		out = append(out, b)
	}
	return out, nil
}

// CommitSignatures are the GPG signatures in a commit's detached metadata.
func (r *Repo) CommitSignatures(c object.Checksum) ([][]byte, error) {
	return r.CommitSignaturesAt(c, GPGSigsKey)
}

// CommitSignaturesAt are the signatures at key of a commit's detached
// metadata.
func (r *Repo) CommitSignaturesAt(c object.Checksum, key string) ([][]byte, error) {
	md, err := r.ReadMeta(c, object.TypeCommitMeta)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return SignaturesAt(md, key)
}

// DeleteSignatures removes the GPG signatures of a commit that drop
// picks, keeping the rest of its detached metadata, and says how many
// went.
func (r *Repo) DeleteSignatures(ctx context.Context, c object.Checksum, drop func(sig []byte) bool) (int, error) {
	old, err := r.ReadMeta(c, object.TypeCommitMeta)
	if isNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	md, err := object.ParseVarDict(old)
	if err != nil {
		return 0, fmt.Errorf("detached metadata of %s: %w", c, err)
	}
	n := 0
	for i, e := range md {
		if e.Key != GPGSigsKey {
			continue
		}
		items, ok := e.Value.Value.([]any)
		if !ok || e.Value.Type.String() != "aay" {
			return 0, fmt.Errorf("detached metadata of %s: %s is %s, want aay", c, GPGSigsKey, e.Value.Type)
		}
		keep := []any{}
		for _, it := range items {
			if b, ok := it.([]byte); ok && drop(b) {
				n++
				continue
			}
			keep = append(keep, it)
		}
		md[i].Value.Value = keep
	}
	if n == 0 {
		return 0, nil
	}
	b, err := object.MarshalVarDict(md)
	if err != nil {
		return 0, fmt.Errorf("detached metadata of %s: %w", c, err)
	}
	if err := atomic.WriteFile(r.ObjectPath(c, object.TypeCommitMeta), b, 0o644, r.fsync); err != nil {
		return 0, fmt.Errorf("writing detached metadata of %s: %w", c, err)
	}
	idx, err := r.Index(ctx)
	if err != nil {
		return 0, err
	}
	return n, idx.Add([]index.Entry{{Ref: index.Ref{Checksum: c, Type: object.TypeCommitMeta}, Size: int64(len(b))}})
}
