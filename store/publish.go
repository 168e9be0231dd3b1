package store

import (
	"context"
	"fmt"
	"time"

	"arbor/store/gvariant"
)

// UpdateSummary writes what clients of a published repository read: the
// tree indexes (archive repositories only) and the summary, each signed by
// every signer. deltas, when set, lists the static deltas in it.
func (r *Repo) UpdateSummary(ctx context.Context, now time.Time, deltas *gvariant.Variant, signers ...Signer) error {
	return r.UpdateSummaryWith(ctx, SummaryOptions{Now: now, Deltas: deltas}, signers...)
}

// KeyedSigner signs into its own detached-metadata key (ostree.sign.TYPE).
type KeyedSigner struct {
	Key  string
	Sign Signer
}

// UpdateSummaryWith is UpdateSummary with extra metadata in the summary,
// and signers of other types (o.Keyed), whose signatures of the summary
// go to summary.sig under their keys; tree indexes are signed by the GPG
// signers only.
func (r *Repo) UpdateSummaryWith(ctx context.Context, o SummaryOptions, signers ...Signer) error {
	if r.Mode() == ModeArchive {
		// What arbor's lazy mounts fetch instead of a request per
		// directory and per file header; ostree ignores it.
		if err := r.WriteTreeIndexes(ctx, signers...); err != nil {
			return err
		}
	}
	b, err := r.BuildSummaryWith(o)
	if err != nil {
		return err
	}
	var sig []byte
	for _, s := range signers {
		one, err := s(b)
		if err != nil {
			return fmt.Errorf("signing the summary: %w", err)
		}
		if sig, err = AppendSignature(sig, one); err != nil {
			return err
		}
	}
	for _, s := range o.Keyed {
		one, err := s.Sign(b)
		if err != nil {
			return fmt.Errorf("signing the summary: %w", err)
		}
		if sig, err = AppendSignatureAt(sig, s.Key, one); err != nil {
			return err
		}
	}
	return r.WriteSummary(b, sig)
}
