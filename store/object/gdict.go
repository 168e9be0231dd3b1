package object

// DictOrder is the order a GVariantDict gives entries: ostree builds some
// commits' metadata (--bootable's) by loading it into one, adding keys and
// writing it out, which lists the keys in glib's hash table order. A
// commit's checksum covers that order, so arbor follows it. Keys given
// twice keep the first one's place and the last one's value, as an insert
// into the dictionary replaces.
func DictOrder(entries []MetaEntry) []MetaEntry {
	t := newStrTable()
	vals := map[string]MetaEntry{}
	for _, e := range entries {
		if _, ok := vals[e.Key]; !ok {
			t.insert(e.Key)
		}
		vals[e.Key] = e
	}
	out := make([]MetaEntry, 0, len(vals))
	for _, k := range t.keys {
		if k != nil {
			out = append(out, vals[*k])
		}
	}
	return out
}

// strTable is glib's GHashTable (2.59 and later) with g_str_hash, keys
// only and no removal: open addressing, a prime modulus for the first
// bucket, triangular probing over a power-of-two table, and growth by
// in-place reinsertion, each step as glib takes it.
type strTable struct {
	shift     uint
	hashes    []uint32 // 0: unused; glib's 1 (tombstone) never occurs here
	keys      []*string
	nnodes    int
	noccupied int
}

const minShift = 3

// primeMod is, for each table size 1<<shift, the largest prime below it.
var primeMod = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191,
	16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593,
	16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647}

func newStrTable() *strTable {
	t := &strTable{}
	t.setShift(minShift)
	t.hashes = make([]uint32, 1<<t.shift)
	t.keys = make([]*string, 1<<t.shift)
	return t
}

func (t *strTable) setShift(s uint) { t.shift = s }
func (t *strTable) size() uint32    { return 1 << t.shift }
func (t *strTable) mask() uint32    { return t.size() - 1 }
func (t *strTable) index(h uint32) uint32 {
	return (h * 11) % primeMod[t.shift]
}

// strHash is g_str_hash: djb2 over the bytes as signed chars.
func strHash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h*33 + uint32(int32(int8(s[i])))
	}
	if h < 2 {
		h = 2 // 0 and 1 mark unused and removed buckets
	}
	return h
}

func (t *strTable) insert(k string) {
	h := strHash(k)
	i := t.index(h)
	for step := uint32(0); t.hashes[i] != 0; {
		step++
		i = (i + step) & t.mask()
	}
	t.hashes[i] = h
	t.keys[i] = &k
	t.nnodes++
	t.noccupied++
	// g_hash_table_maybe_resize, after an insert that filled a bucket.
	n := uint32(t.noccupied)
	if (t.size() > 1<<minShift && (t.size()-1)/4 >= uint32(t.nnodes)) || t.size() <= n+n/16 {
		t.resize()
	}
}

// closestShift is g_hash_table_find_closest_shift.
func closestShift(n int) uint {
	var s uint
	for ; n > 0; n >>= 1 {
		s++
	}
	return s
}

func (t *strTable) resize() {
	oldSize := t.size()
	t.setShift(max(closestShift(t.nnodes+t.nnodes/3), minShift))
	if t.size() > oldSize {
		t.hashes = append(t.hashes, make([]uint32, t.size()-oldSize)...)
		t.keys = append(t.keys, make([]*string, t.size()-oldSize)...)
	}
	done := make([]bool, max(t.size(), oldSize))
	for i := uint32(0); i < oldSize; i++ {
		h := t.hashes[i]
		if h == 0 || done[i] {
			continue
		}
		t.hashes[i] = 0
		key := t.keys[i]
		t.keys[i] = nil
		for {
			j := t.index(h)
			for step := uint32(0); done[j]; {
				step++
				j = (j + step) & t.mask()
			}
			done[j] = true
			replaced := t.hashes[j]
			t.hashes[j] = h
			if replaced == 0 {
				t.keys[j] = key
				break
			}
			h = replaced
			key, t.keys[j] = t.keys[j], key
		}
	}
	if t.size() < oldSize {
		t.hashes, t.keys = t.hashes[:t.size()], t.keys[:t.size()]
	}
	t.noccupied = t.nnodes
}
