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

// BuildSummary makes the summary of the repository's local refs in
// ostree's format: refs sorted by name with commit size (host order),
// timestamp (big-endian) and version, then the repo's mode and the time.
//
// deltas, when set, is the repository's static deltas by name (and its
// extra metadata, as ostree.static-deltas).
func (r *Repo) BuildSummary(now time.Time, deltas *gvariant.Variant) ([]byte, error) {
	refs, err := r.Refs()
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range refs {
		if !isRemoteRef(n) {
			names = append(names, n)
		}
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
	meta := []any{
		[]any{"ostree.summary.last-modified", gvariant.Variant{Type: gvariant.MustType("t"), Value: bits.ReverseBytes64(uint64(now.Unix()))}},
		[]any{"ostree.summary.mode", gvariant.Variant{Type: gvariant.MustType("s"), Value: r.mode.String()}},
		[]any{"ostree.summary.tombstone-commits", gvariant.Variant{Type: gvariant.MustType("b"), Value: false}},
		[]any{"ostree.summary.indexed-deltas", gvariant.Variant{Type: gvariant.MustType("b"), Value: true}},
	}
	if deltas != nil {
		meta = append([]any{[]any{"ostree.static-deltas", *deltas}}, meta...)
	}
	return gvariant.Encode(tSummary, []any{entries, meta})
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
	for _, it := range f[0].([]any) {
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
		s.Refs = append(s.Refs, sr)
	}
	for _, it := range f[1].([]any) {
		kv := it.([]any)
		s.Metadata = append(s.Metadata, object.MetaEntry{Key: kv[0].(string), Value: kv[1].(gvariant.Variant)})
	}
	return s, nil
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
