package delta

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// TxnSink writes a part's objects into a repository's transaction, where
// each is checked against its name as any received object is.
type TxnSink struct{ Txn *store.Txn }

// maxSource bounds the stored object a read-source op may load.
const maxSource = 1 << 32

var _ Sink = TxnSink{}

func ref(o ObjectRef) index.Ref { return index.Ref{Checksum: o.Checksum, Type: o.Type} }

func (s TxnSink) Has(o ObjectRef) (bool, error) { return s.Txn.Has(ref(o)) }

func (s TxnSink) Meta(o ObjectRef, data []byte) error { return s.Txn.AddMeta(ref(o), data) }

func (s TxnSink) Content(c object.Checksum, h *object.FileHeader, data []byte) error {
	return s.Txn.AddContent(c, h, uint64(len(data)), bytes.NewReader(data))
}

func (s TxnSink) SourceData(c object.Checksum) ([]byte, error) {
	return readSource(s.Txn.OpenContent, c)
}

// StoredSource reads the data of r's stored content objects as read
// sources are read, for an alt part's Prebuild.
func StoredSource(r *store.Repo) func(object.Checksum) ([]byte, error) {
	return func(c object.Checksum) ([]byte, error) { return readSource(r.OpenContent, c) }
}

func readSource(open func(object.Checksum) (*store.Content, error), c object.Checksum) ([]byte, error) {
	ct, err := open(c)
	if err != nil {
		return nil, err
	}
	defer ct.Close()
	if ct.Size > maxSource {
		return nil, fmt.Errorf("%s is %d bytes, over the %d a source may be", object.Name(c, object.TypeFile), ct.Size, uint64(maxSource))
	}
	b := make([]byte, ct.Size)
	if _, err := io.ReadFull(ct, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", object.Name(c, object.TypeFile), err)
	}
	return b, nil
}

// WriteCommit stores the superblock's target commit and its detached
// metadata (nil: none), and marks the commit partial until its tree is
// in. A pull verifies both before.
func WriteCommit(r *store.Repo, txn *store.Txn, sb *Superblock, detached []byte) error {
	// The mark of a commit not stored yet needs no sync of its own: the
	// transaction syncs before the commit is renamed into place.
	mark := txn.SetPartial
	if has, err := r.HasObject(sb.To, object.TypeCommit); err != nil || has {
		mark = r.SetPartial
	}
	if err := mark(sb.To); err != nil {
		return err
	}
	if detached != nil {
		if err := txn.AddMeta(index.Ref{Checksum: sb.To, Type: object.TypeCommitMeta}, detached); err != nil {
			return fmt.Errorf("the delta's commit %s's detached metadata: %w", sb.To, err)
		}
	}
	if err := txn.AddMeta(index.Ref{Checksum: sb.To, Type: object.TypeCommit}, sb.Commit); err != nil {
		return fmt.Errorf("the delta's commit %s: %w", sb.To, err)
	}
	return nil
}

// PartsNeeded are the parts of which the repository lacks an object.
func PartsNeeded(txn *store.Txn, sb *Superblock) ([]int, error) {
	var need []int
	for i, p := range sb.Parts {
		for _, o := range p.Objects {
			has, err := txn.Has(ref(o))
			if err != nil {
				return nil, err
			}
			if !has {
				need = append(need, i)
				break
			}
		}
	}
	return need, nil
}

// ApplyOffline applies the delta in directory dir (its superblock and
// parts) to r, as ostree static-delta apply-offline does: a delta with
// fallback objects is refused, since they are not in it. It returns the
// commit it wrote; no ref moves.
func ApplyOffline(ctx context.Context, r *store.Repo, dir string) (c object.Checksum, err error) {
	c, _, err = ApplyOfflineFile(ctx, r, filepath.Join(dir, "superblock"))
	return c, err
}

// ApplyOfflineFile is ApplyOffline of the superblock at path, its parts
// beside it (or inline: a bundle); the superblock is returned too, for
// what its metadata says.
func ApplyOfflineFile(ctx context.Context, r *store.Repo, path string) (object.Checksum, *Superblock, error) {
	sb, dir, err := ReadOffline(path)
	if err != nil {
		return object.Zero, nil, err
	}
	c, err := ApplyOfflineSuperblock(ctx, r, dir, sb)
	return c, sb, err
}

// ReadOffline reads the superblock of the delta at path, as apply-offline
// takes one: a delta's directory, or its superblock file with any parts
// not inline beside it (as static-delta generate --filename writes them).
// It returns the superblock and the directory of the parts.
func ReadOffline(path string) (*Superblock, string, error) {
	file, dir := path, filepath.Dir(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		file, dir = filepath.Join(path, "superblock"), path
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("static delta: %w", err)
	}
	sb, err := ParseSuperblock(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return sb, dir, nil
}

// ApplyOfflineSuperblock applies a superblock already read (and, where
// asked, its signature checked: these bytes, not the file again), its
// parts from dir, each checked against it before it is run.
func ApplyOfflineSuperblock(ctx context.Context, r *store.Repo, dir string, sb *Superblock) (object.Checksum, error) {
	return applyOffline(ctx, r, dir, sb)
}

func applyOffline(ctx context.Context, r *store.Repo, dir string, sb *Superblock) (c object.Checksum, err error) {
	if len(sb.Fallbacks) > 0 {
		return object.Zero, fmt.Errorf("%s: %d fallback objects are not in the delta; pull it instead", dir, len(sb.Fallbacks))
	}
	if !sb.From.IsZero() {
		if has, err := r.HasObject(sb.From, object.TypeCommit); err != nil || !has || r.IsPartial(sb.From) {
			return object.Zero, fmt.Errorf("%s: its from commit %s is not complete here", dir, sb.From)
		}
	}
	txn, err := r.Begin(ctx)
	if err != nil {
		return object.Zero, err
	}
	defer txn.Abort()
	defer func() {
		// Refused: no mark is left of a commit that is not stored.
		if has, _ := r.HasObject(sb.To, object.TypeCommit); err != nil && !has {
			r.ClearPartial(sb.To)
		}
	}()
	detached, _ := sb.CommitMeta()
	if err := WriteCommit(r, txn, sb, detached); err != nil {
		return object.Zero, err
	}
	need, err := PartsNeeded(txn, sb)
	if err != nil {
		return object.Zero, err
	}
	for _, i := range need {
		if err := ctx.Err(); err != nil {
			return object.Zero, err
		}
		file, inline := sb.InlinePart(i)
		if !inline {
			if file, err = os.ReadFile(filepath.Join(dir, strconv.Itoa(i))); err != nil {
				return object.Zero, fmt.Errorf("part %d: %w", i, err)
			}
		}
		if err := ApplyPart(sb, i, file, inline, TxnSink{Txn: txn}); err != nil {
			return object.Zero, err
		}
	}
	if err := txn.Commit(); err != nil {
		return object.Zero, err
	}
	// Complete only if everything it reaches is here: a delta that
	// leaves something out leaves the commit partial.
	refs, err := r.Reach(ctx, sb.To)
	if err != nil {
		return object.Zero, err
	}
	for _, x := range refs {
		if has, err := r.HasObject(x.Checksum, x.Type); err != nil || !has {
			return object.Zero, fmt.Errorf("%s: %w: it lacks %s, which commit %s reaches", dir, ErrCorrupt, object.Name(x.Checksum, x.Type), sb.To)
		}
	}
	if err := r.ClearPartial(sb.To); err != nil {
		return object.Zero, err
	}
	return sb.To, nil
}

// ApplyPart checks, decodes and runs part i of the delta.
func ApplyPart(sb *Superblock, i int, file []byte, inline bool, sink Sink) error {
	p, err := DecodePart(sb, i, file, inline, nil)
	if err != nil {
		return err
	}
	return RunPart(sb, i, p, sink)
}

// DecodePart checks and decodes part i of the delta, as ApplyPart does
// first: a pull decodes a part as it arrives, while it runs the one
// before. decoded is what decoding its xz stream made as it arrived, or
// nil (openPart).
func DecodePart(sb *Superblock, i int, file []byte, inline bool, decoded []byte) (*Part, error) {
	if i < 0 || i >= len(sb.Parts) {
		return nil, fmt.Errorf("%w: no part %d", ErrCorrupt, i)
	}
	p, err := openPart(sb.Parts[i], file, inline, decoded)
	if err != nil {
		return nil, fmt.Errorf("delta %s part %d: %w", Name(sb.From, sb.To), i, err)
	}
	return p, nil
}

// RunPart runs part i of the delta, decoded by DecodePart.
func RunPart(sb *Superblock, i int, p *Part, sink Sink) error {
	if i < 0 || i >= len(sb.Parts) {
		return fmt.Errorf("%w: no part %d", ErrCorrupt, i)
	}
	if err := p.Apply(sb.Parts[i], sink); err != nil {
		return fmt.Errorf("delta %s part %d: %w", Name(sb.From, sb.To), i, err)
	}
	return nil
}
