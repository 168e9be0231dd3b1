package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"arbor/store/gvariant"
	"arbor/store/object"
)

// SizesKey is the commit metadata key listing the sizes of the objects a
// commit reaches (commit --generate-sizes), which lets a client say how
// much a pull of it will fetch before fetching.
const SizesKey = "ostree.sizes"

// ObjectSize is one entry of a commit's size list.
type ObjectSize struct {
	Checksum object.Checksum
	Type     object.Type
	// Stored is the object's size as an archive repository stores it
	// (compressed for files); Unpacked is a file's content length, a
	// metadata object's size.
	Stored, Unpacked uint64
}

// SizesEntry encodes sizes as commit metadata: sorted by checksum, each
// the raw checksum, two LEB128 varints and the object type's byte.
func SizesEntry(sizes []ObjectSize) object.MetaEntry {
	s := append([]ObjectSize(nil), sizes...)
	sort.Slice(s, func(i, j int) bool { return string(s[i].Checksum[:]) < string(s[j].Checksum[:]) })
	items := make([]any, len(s))
	for i, e := range s {
		b := append([]byte(nil), e.Checksum[:]...)
		b = binary.AppendUvarint(b, e.Stored)
		b = binary.AppendUvarint(b, e.Unpacked)
		items[i] = append(b, byte(e.Type))
	}
	return object.MetaEntry{Key: SizesKey, Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: items}}
}

// ErrNoSizes says a commit was made without a size list.
var ErrNoSizes = errors.New("commit has no size metadata")

// CommitSizes reads a commit's size list. An entry without a type byte
// (older writers) is a file.
func CommitSizes(md []object.MetaEntry) ([]ObjectSize, error) {
	v, ok := object.Lookup(md, SizesKey)
	if !ok {
		return nil, ErrNoSizes
	}
	items, ok := v.Value.([]any)
	if !ok || v.Type.String() != "aay" {
		return nil, fmt.Errorf("%s: not an array of byte strings", SizesKey)
	}
	out := make([]ObjectSize, 0, len(items))
	for i, it := range items {
		b, _ := it.([]byte)
		e, err := parseSize(b)
		if err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", SizesKey, i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseSize(b []byte) (ObjectSize, error) {
	var e ObjectSize
	if len(b) < len(e.Checksum) {
		return e, errors.New("too short for a checksum")
	}
	copy(e.Checksum[:], b)
	b = b[len(e.Checksum):]
	var n int
	if e.Stored, n = binary.Uvarint(b); n <= 0 {
		return e, errors.New("bad stored size")
	}
	b = b[n:]
	if e.Unpacked, n = binary.Uvarint(b); n <= 0 {
		return e, errors.New("bad unpacked size")
	}
	b = b[n:]
	switch len(b) {
	case 0:
		e.Type = object.TypeFile
	case 1:
		e.Type = object.Type(b[0])
		if e.Type != object.TypeFile && e.Type != object.TypeDirTree && e.Type != object.TypeDirMeta {
			return e, fmt.Errorf("object type %d", b[0])
		}
	default:
		return e, errors.New("trailing bytes")
	}
	return e, nil
}

// SizeTotals sums a size list: all of it, and what this repository
// still needs (the objects it does not hold).
type SizeTotals struct {
	Stored, Unpacked, Objects                   uint64
	NeededStored, NeededUnpacked, NeededObjects uint64
}

// SizesNeeded sums sizes against the objects r holds.
func (r *Repo) SizesNeeded(sizes []ObjectSize) (SizeTotals, error) {
	var t SizeTotals
	for _, e := range sizes {
		t.Stored += e.Stored
		t.Unpacked += e.Unpacked
		t.Objects++
		has, err := r.HasObject(e.Checksum, e.Type)
		if err != nil {
			return t, fmt.Errorf("object %s: %w", e.Checksum, err)
		}
		if !has {
			t.NeededStored += e.Stored
			t.NeededUnpacked += e.Unpacked
			t.NeededObjects++
		}
	}
	return t, nil
}
