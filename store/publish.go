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

// UpdateSummaryWith is UpdateSummary with extra metadata in the summary.
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
	return r.WriteSummary(b, sig)
}
