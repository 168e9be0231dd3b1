package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"arbor/store/gvariant"
	"arbor/store/index"
	"arbor/store/object"
)

// SizesKey is the commit metadata key of the per-object size index
// (commit --generate-sizes).
const SizesKey = "ostree.sizes"

// ObjectSize is one object of a commit's size index: its size as stored
// (compressed in archive repositories) and unpacked.
type ObjectSize struct {
	Checksum         object.Checksum
	Type             object.Type
	Stored, Unpacked uint64
}

// SizesEntry encodes sizes as the metadata entry: each an ay of the
// checksum, the two sizes as varints, and the object type, by checksum.
func SizesEntry(sizes []ObjectSize) object.MetaEntry {
	sorted := append([]ObjectSize(nil), sizes...)
	sortSizes(sorted)
	items := make([]any, len(sorted))
	for i, s := range sorted {
		b := append([]byte(nil), s.Checksum[:]...)
		b = binary.AppendUvarint(b, s.Stored)
		b = binary.AppendUvarint(b, s.Unpacked)
		b = append(b, byte(s.Type))
		items[i] = b
	}
	return object.MetaEntry{Key: SizesKey, Value: gvariant.Variant{Type: gvariant.MustType("aay"), Value: items}}
}

func sortSizes(s []ObjectSize) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && bytes.Compare(s[j-1].Checksum[:], s[j].Checksum[:]) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// ParseSizes decodes a commit's size index; ok is false when it has none.
func ParseSizes(md []object.MetaEntry) (sizes []ObjectSize, ok bool, err error) {
	v, ok := object.Lookup(md, SizesKey)
	if !ok {
		return nil, false, nil
	}
	items, isList := v.Value.([]any)
	if v.Type.String() != "aay" || !isList {
		return nil, true, fmt.Errorf("%s: not an aay", SizesKey)
	}
	for i, it := range items {
		b, _ := it.([]byte)
		if len(b) < len(object.Zero) {
			return nil, true, fmt.Errorf("%s: entry %d too short", SizesKey, i)
		}
		var s ObjectSize
		copy(s.Checksum[:], b)
		rest := b[len(object.Zero):]
		var n int
		if s.Stored, n = binary.Uvarint(rest); n <= 0 {
			return nil, true, fmt.Errorf("%s: entry %d: bad stored size", SizesKey, i)
		}
		rest = rest[n:]
		if s.Unpacked, n = binary.Uvarint(rest); n <= 0 {
			return nil, true, fmt.Errorf("%s: entry %d: bad unpacked size", SizesKey, i)
		}
		rest = rest[n:]
		// Older indexes list only files and carry no type.
		s.Type = object.TypeFile
		if len(rest) > 0 {
			s.Type = object.Type(rest[0])
			if s.Type < object.TypeFile || s.Type > object.TypeCommit {
				return nil, true, fmt.Errorf("%s: entry %d: bad object type %d", SizesKey, i, rest[0])
			}
		}
		sizes = append(sizes, s)
	}
	return sizes, true, nil
}

// objectSizes lists every object the commit's tree reaches with its sizes.
func (cm *committer) objectSizes() ([]ObjectSize, error) {
	cm.t.mu.Lock()
	staged := make(map[index.Ref]int64, len(cm.t.staged))
	for _, e := range cm.t.staged {
		staged[e.Ref] = e.Size
	}
	cm.t.mu.Unlock()
	cm.mu.Lock()
	defer cm.mu.Unlock()
	var out []ObjectSize
	for ref := range cm.reach {
		n, ok := staged[ref]
		if !ok {
			var err error
			if n, ok, err = cm.t.idx.Size(ref); err != nil {
				return nil, err
			}
			if !ok {
				return nil, errors.New("commit --generate-sizes: the size of " + object.Name(ref.Checksum, ref.Type) + " is not known")
			}
		}
		s := ObjectSize{Checksum: ref.Checksum, Type: ref.Type, Stored: uint64(n), Unpacked: uint64(n)}
		if ref.Type == object.TypeFile {
			s.Unpacked = uint64(cm.unpacked[ref.Checksum])
		}
		out = append(out, s)
	}
	return out, nil
}
