package delta

// match is a run of a new file's bytes found in its old version.
type match struct{ oldOff, newOff, n int }

// blockSize is the length matches are found by; shorter runs are not
// worth an op.
const blockSize = 64

// matchBlocks finds runs of data that old holds, in order of data: the
// old file's blocks at every blockSize offset are indexed by hash, the
// new file is scanned with a rolling hash, and each hit is checked and
// extended both ways. Appends, inserts and edits in place keep the rest
// of a file matched.
func matchBlocks(old, data []byte) []match {
	if len(old) < blockSize || len(data) < blockSize {
		return nil
	}
	const prime = 16777619
	// pow is prime^(blockSize-1), to take the outgoing byte off.
	pow := uint32(1)
	for i := 0; i < blockSize-1; i++ {
		pow *= prime
	}
	hash := func(b []byte) uint32 {
		var h uint32
		for _, c := range b {
			h = h*prime + uint32(c)
		}
		return h
	}
	at := make(map[uint32]int, len(old)/blockSize)
	for off := 0; off+blockSize <= len(old); off += blockSize {
		h := hash(old[off : off+blockSize])
		if _, ok := at[h]; !ok {
			at[h] = off
		}
	}
	var out []match
	pos := 0 // data before pos is matched or given up
	h := hash(data[:blockSize])
	for i := 0; i+blockSize <= len(data); {
		if o, ok := at[h]; ok && string(old[o:o+blockSize]) == string(data[i:i+blockSize]) {
			// Back over what is not matched yet, then on.
			s, so := i, o
			for s > pos && so > 0 && old[so-1] == data[s-1] {
				s, so = s-1, so-1
			}
			e, eo := i+blockSize, o+blockSize
			for e < len(data) && eo < len(old) && old[eo] == data[e] {
				e, eo = e+1, eo+1
			}
			out = append(out, match{oldOff: so, newOff: s, n: e - s})
			pos, i = e, e
			if i+blockSize <= len(data) {
				h = hash(data[i : i+blockSize])
			}
			continue
		}
		if i+blockSize < len(data) {
			h = (h-uint32(data[i])*pow)*prime + uint32(data[i+blockSize])
		}
		i++
	}
	return out
}

func matchedBytes(ms []match) int {
	n := 0
	for _, m := range ms {
		n += m.n
	}
	return n
}
