package store

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"time"

	"arbor/store/atomic"
	"arbor/store/gvariant"
	"arbor/store/object"
	"arbor/store/refs"
)

var tSummary = gvariant.MustType("(a(s(taya{sv}))a{sv})")

// SummaryType is the GVariant type of a summary file.
func SummaryType() *gvariant.Type { return tSummary }

// ReadSummary reads the repository's summary file.
func (r *Repo) ReadSummary() ([]byte, error) {
	b, err := readSmallFile(filepath.Join(r.path, "summary"), maxMetaSize)
	if err != nil {
		return nil, fmt.Errorf("reading the summary: %w", err)
	}
	return b, nil
}

// SummaryRef is one ref listed in a summary.
type SummaryRef struct {
	Name      string
	Commit    object.Checksum
	Size      uint64 // bytes of the commit object: the cap on its download
	Timestamp uint64
	Version   string
}

// Summary is a decoded summary file.
type Summary struct {
	Refs     []SummaryRef
	Metadata []object.MetaEntry
	// CollectionID is the collection Refs belong to, when the summary
	// names one; Collections the refs of other collections it lists.
	CollectionID string
	Collections  []SummaryCollection
}

// SummaryCollection is the refs a summary lists for another collection.
type SummaryCollection struct {
	ID   string
	Refs []SummaryRef
}

// Lookup finds a ref in the summary.
func (s *Summary) Lookup(name string) (SummaryRef, bool) {
	for _, r := range s.Refs {
		if r.Name == name {
			return r, true
		}
	}
	return SummaryRef{}, false
}

// SummaryOptions are what a summary holds besides the refs.
type SummaryOptions struct {
	Now time.Time
	// Deltas, when set, is the repository's static deltas by name, as
	// ostree.static-deltas.
	Deltas *gvariant.Variant
	// Extra is metadata the publisher adds (summary --add-metadata);
	// arbor's own keys win over same-named ones.
	Extra []object.MetaEntry
	// Keyed sign the summary besides the GPG signers (ed25519).
	Keyed []KeyedSigner
}

// BuildSummary makes the summary of the repository's local refs in
// ostree's format: refs sorted by name with commit size (host order),
// timestamp (big-endian) and version, then the repo's mode and the time.
//
// deltas, when set, is the repository's static deltas by name (and its
// extra metadata, as ostree.static-deltas).
func (r *Repo) BuildSummary(now time.Time, deltas *gvariant.Variant) ([]byte, error) {
	return r.BuildSummaryWith(SummaryOptions{Now: now, Deltas: deltas})
}

// BuildSummaryWith is BuildSummary with extra metadata. A repository with
// a collection ID names it; refs of other collections go in
// ostree.summary.collection-map.
func (r *Repo) BuildSummaryWith(o SummaryOptions) ([]byte, error) {
	refs, err := r.Refs()
	if err != nil {
		return nil, err
	}
	local := map[string]object.Checksum{}
	for n, c := range refs {
		if !isRemoteRef(n) {
			local[n] = c
		}
	}
	entries, err := r.summaryEntries(local)
	if err != nil {
		return nil, err
	}
	var meta []any
	if o.Deltas != nil {
		meta = append(meta, []any{"ostree.static-deltas", *o.Deltas})
	}
	meta = append(meta,
		[]any{"ostree.summary.last-modified", gvariant.Variant{Type: gvariant.MustType("t"), Value: bits.ReverseBytes64(uint64(o.Now.Unix()))}},
		[]any{"ostree.summary.mode", gvariant.Variant{Type: gvariant.MustType("s"), Value: r.mode.String()}},
		[]any{"ostree.summary.tombstone-commits", gvariant.Variant{Type: gvariant.MustType("b"), Value: r.TombstonesEnabled()}},
		[]any{"ostree.summary.indexed-deltas", gvariant.Variant{Type: gvariant.MustType("b"), Value: true}},
	)
	own := r.CollectionID()
	if own != "" {
		meta = append(meta, []any{"ostree.summary.collection-id", gvariant.Variant{Type: gvariant.MustType("s"), Value: own}})
	}
	// Refs of other collections: mirrored ones, and remotes' that have a
	// collection ID.
	others, err := r.CollectionRefs("")
	if err != nil {
		return nil, err
	}
	byID := map[string]map[string]object.Checksum{}
	for cr, c := range others {
		if cr.Collection == own {
			continue
		}
		if byID[cr.Collection] == nil {
			byID[cr.Collection] = map[string]object.Checksum{}
		}
		byID[cr.Collection][cr.Ref] = c
	}
	if len(byID) > 0 {
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var cmap []any
		for _, id := range ids {
			e, err := r.summaryEntries(byID[id])
			if err != nil {
				return nil, err
			}
			cmap = append(cmap, []any{id, e})
		}
		meta = append(meta, []any{"ostree.summary.collection-map", gvariant.Variant{Type: gvariant.MustType("a{sa(s(taya{sv}))}"), Value: cmap}})
	}
	ours := map[string]bool{}
	for _, m := range meta {
		ours[m.([]any)[0].(string)] = true
	}
	var extra []any
	for _, e := range o.Extra {
		if !ours[e.Key] {
			extra = append(extra, []any{e.Key, e.Value})
		}
	}
	return gvariant.Encode(tSummary, []any{entries, append(extra, meta...)})
}

// summaryEntries are the summary's entries for refs, sorted by name.
func (r *Repo) summaryEntries(refs map[string]object.Checksum) ([]any, error) {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]any, 0, len(names))
	for _, n := range names {
		c := refs[n]
		b, err := r.ReadMeta(c, object.TypeCommit)
		if err != nil {
			return nil, fmt.Errorf("ref %s: %w", n, err)
		}
		cm, err := object.ParseCommit(b)
		if err != nil {
			return nil, fmt.Errorf("ref %s: %w", n, err)
		}
		md := []any{[]any{"ostree.commit.timestamp", gvariant.Variant{Type: gvariant.MustType("t"), Value: bits.ReverseBytes64(cm.Timestamp)}}}
		if v, ok := object.Lookup(cm.Metadata, "version"); ok && v.Type.String() == "s" {
			md = append(md, []any{"ostree.commit.version", v})
		}
		entries = append(entries, []any{n, []any{uint64(len(b)), c[:], md}})
	}
	return entries, nil
}

func isRemoteRef(n string) bool {
	for i := 0; i < len(n); i++ {
		if n[i] == ':' {
			return true
		}
	}
	return false
}

// ParseSummary decodes a summary, refusing malformed refs and checksums.
func ParseSummary(b []byte) (*Summary, error) {
	v, err := gvariant.Decode(tSummary, b)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	f := v.([]any)
	s := &Summary{}
	if s.Refs, err = parseSummaryRefs(f[0].([]any)); err != nil {
		return nil, err
	}
	for _, it := range f[1].([]any) {
		kv := it.([]any)
		e := object.MetaEntry{Key: kv[0].(string), Value: kv[1].(gvariant.Variant)}
		s.Metadata = append(s.Metadata, e)
		switch e.Key {
		case "ostree.summary.collection-id":
			if id, ok := e.Value.Value.(string); ok {
				s.CollectionID = id
			}
		case "ostree.summary.collection-map":
			if e.Value.Type.String() != "a{sa(s(taya{sv}))}" {
				return nil, fmt.Errorf("summary: ostree.summary.collection-map of type %s", e.Value.Type)
			}
			for _, c := range e.Value.Value.([]any) {
				kv := c.([]any)
				id := kv[0].(string)
				if err := refs.ValidateCollectionID(id); err != nil {
					return nil, fmt.Errorf("summary: %w", err)
				}
				rs, err := parseSummaryRefs(kv[1].([]any))
				if err != nil {
					return nil, err
				}
				s.Collections = append(s.Collections, SummaryCollection{ID: id, Refs: rs})
			}
		}
	}
	return s, nil
}

// parseSummaryRefs decodes a summary's a(s(taya{sv})) of refs.
func parseSummaryRefs(items []any) ([]SummaryRef, error) {
	var out []SummaryRef
	for _, it := range items {
		e := it.([]any)
		name := e[0].(string)
		if err := refs.Validate(name); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
		inner := e[1].([]any)
		c, err := object.ChecksumFromBytes(inner[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("summary ref %s: %w", name, err)
		}
		sr := SummaryRef{Name: name, Commit: c, Size: inner[0].(uint64)}
		for _, m := range inner[2].([]any) {
			kv := m.([]any)
			vv := kv[1].(gvariant.Variant)
			switch kv[0].(string) {
			case "ostree.commit.timestamp":
				if t, ok := vv.Value.(uint64); ok {
					sr.Timestamp = bits.ReverseBytes64(t)
				}
			case "ostree.commit.version":
				if s, ok := vv.Value.(string); ok {
					sr.Version = s
				}
			}
		}
		out = append(out, sr)
	}
	return out, nil
}

// WriteSummary replaces summary and summary.sig; a nil sig removes a stale
// summary.sig, since it could not match the new summary.
func (r *Repo) WriteSummary(summary, sig []byte) error {
	p := filepath.Join(r.path, "summary")
	if sig == nil {
		if err := os.Remove(p + ".sig"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing stale summary.sig: %w", err)
		}
	}
	if err := atomic.WriteFile(p, summary, 0o644, r.fsync); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if sig != nil {
		if err := atomic.WriteFile(p+".sig", sig, 0o644, r.fsync); err != nil {
			return fmt.Errorf("writing summary.sig: %w", err)
		}
	}
	return nil
}
