package fetch

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sort"

	"arbor/store"
	"arbor/store/object"
)

// Found is one remote that has some of the collection refs looked for,
// as its summary lists them.
type Found struct {
	Remote  string
	URL     string
	Keyring string // the remote's keyring file, by name
	// Refs maps each ref looked for to this remote's commit; Zero where
	// the remote does not have it (or has an older commit than another).
	Refs         map[store.CollectionRef]object.Checksum
	LastModified uint64 // the summary's, in seconds; 0 when unknown
	timestamps   map[store.CollectionRef]uint64
}

// FindInRemotes looks for collection refs in the configured remotes that
// have a collection ID (ostree's config finder): each remote's summary,
// signature-checked as a pull would, says which it has. Of several remotes
// with a ref, only those with its newest commit keep it; remotes left with
// none are dropped. A remote that cannot be read is skipped, so one
// server down does not hide the others.
func FindInRemotes(ctx context.Context, r *store.Repo, want []store.CollectionRef) ([]Found, error) {
	var out []Found
	for _, name := range ListRemotes(r) {
		id := r.Config().String(group(name), "collection-id", "")
		if id == "" {
			continue
		}
		f, err := findIn(ctx, r, name, id, want)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		out = append(out, f)
	}
	keepNewest(out, want)
	kept := out[:0]
	for _, f := range out {
		for _, c := range f.Refs {
			if !c.IsZero() {
				kept = append(kept, f)
				break
			}
		}
	}
	return kept, nil
}

func findIn(ctx context.Context, r *store.Repo, name, id string, want []store.CollectionRef) (Found, error) {
	s, err := NewSession(r, name)
	if err != nil {
		return Found{}, err
	}
	defer s.Close()
	sum, err := s.fetchedSummary(ctx)
	if err != nil {
		return Found{}, err
	}
	if sum.s == nil {
		return Found{}, fmt.Errorf("remote %s has no summary", name)
	}
	f := Found{Remote: name, URL: s.rm.URL, Keyring: name + ".trustedkeys.gpg",
		Refs: map[store.CollectionRef]object.Checksum{}, timestamps: map[store.CollectionRef]uint64{}}
	for _, m := range sum.s.Metadata {
		if t, ok := m.Value.Value.(uint64); ok && m.Key == "ostree.summary.last-modified" {
			f.LastModified = bits.ReverseBytes64(t)
		}
	}
	main := sum.s.CollectionID
	if main == "" {
		main = id
	}
	lists := map[string][]store.SummaryRef{main: sum.s.Refs}
	for _, c := range sum.s.Collections {
		lists[c.ID] = c.Refs
	}
	for _, cr := range want {
		f.Refs[cr] = object.Zero
		for _, sr := range lists[cr.Collection] {
			if sr.Name == cr.Ref {
				f.Refs[cr] = sr.Commit
				f.timestamps[cr] = sr.Timestamp
			}
		}
	}
	return f, nil
}

// keepNewest leaves each ref only in the remotes with its newest commit.
func keepNewest(found []Found, want []store.CollectionRef) {
	for _, cr := range want {
		var newest uint64
		for _, f := range found {
			if !f.Refs[cr].IsZero() && f.timestamps[cr] > newest {
				newest = f.timestamps[cr]
			}
		}
		for _, f := range found {
			if !f.Refs[cr].IsZero() && f.timestamps[cr] < newest {
				f.Refs[cr] = object.Zero
			}
		}
	}
}

// PullFound pulls each found ref from the first remote that has it, a
// pull per remote; it returns how many refs were pulled, and the errors
// of the pulls that failed.
func PullFound(ctx context.Context, r *store.Repo, found []Found, mirror bool) (int, error) {
	byRemote := map[string][]string{}
	var order []string
	done := map[store.CollectionRef]bool{}
	for _, f := range found {
		var names []string
		for cr, c := range f.Refs {
			if c.IsZero() || done[cr] {
				continue
			}
			done[cr] = true
			names = append(names, cr.Ref)
		}
		if len(names) > 0 {
			sort.Strings(names)
			if byRemote[f.Remote] == nil {
				order = append(order, f.Remote)
			}
			byRemote[f.Remote] = append(byRemote[f.Remote], names...)
		}
	}
	pulled := 0
	var errs []error
	for _, name := range order {
		if _, err := Pull(ctx, r, name, PullOptions{Refs: byRemote[name], Mirror: mirror}); err != nil {
			errs = append(errs, fmt.Errorf("remote %s: %w", name, err))
			continue
		}
		pulled += len(byRemote[name])
	}
	return pulled, errors.Join(errs...)
}
