package delta

import (
	"bytes"
	"encoding/binary"
)

// Bsdiff makes the patch Bspatch applies: old turned into data, in the
// form ostree's BSPATCH op carries (bsdiff's library stream, no header
// and no compression: the part's xz takes the diff bytes' runs of
// zeros). residue is what the patch carries that old does not give:
// its extra bytes and its diff bytes that are not zero, the measure
// the generator compares with a block rebuild's literal bytes.
//
// It is Percival's algorithm: old's suffixes sorted once, then a scan
// of data that takes the longest match at each point and extends it
// both ways while at least half the bytes agree, so code that moved
// and changed a little (a rebuilt executable's addresses) still
// diffs to mostly zeros. Memory: old's suffix array and its ranks, 8
// bytes per byte of old, which is why the generator caps the sizes.
func Bsdiff(old, data []byte) (patch []byte, residue int) {
	sa := suffixArray(old)
	var out bytes.Buffer
	out.Grow(len(data) + len(data)/8 + 64)
	ctl := func(v int) {
		var b [8]byte
		u := uint64(v)
		if v < 0 {
			u = uint64(-v) | 1<<63
		}
		binary.LittleEndian.PutUint64(b[:], u)
		out.Write(b[:])
	}
	n, m := len(old), len(data)
	var scan, length, pos, lastScan, lastPos, lastOffset int
	for scan < m {
		oldScore := 0
		scan += length
		for scsc := scan; scan < m; scan++ {
			length, pos = longestMatch(sa, old, data[scan:])
			for ; scsc < scan+length; scsc++ {
				if scsc+lastOffset < n && old[scsc+lastOffset] == data[scsc] {
					oldScore++
				}
			}
			// A match that is the old alignment continued is no news;
			// one at least 8 bytes better than it is.
			if (length == oldScore && length != 0) || length > oldScore+8 {
				break
			}
			if scan+lastOffset < n && old[scan+lastOffset] == data[scan] {
				oldScore--
			}
		}
		if length == oldScore && scan != m {
			continue
		}
		// Extend the last match forwards and this one backwards while
		// more than half the bytes agree.
		lenF, best := 0, 0
		for i, s := 0, 0; lastScan+i < scan && lastPos+i < n; {
			if old[lastPos+i] == data[lastScan+i] {
				s++
			}
			i++
			if s*2-i > best*2-lenF {
				best, lenF = s, i
			}
		}
		lenB := 0
		if scan < m {
			best = 0
			for i, s := 1, 0; scan >= lastScan+i && pos >= i; i++ {
				if old[pos-i] == data[scan-i] {
					s++
				}
				if s*2-i > best*2-lenB {
					best, lenB = s, i
				}
			}
		}
		if over := lastScan + lenF - (scan - lenB); over > 0 {
			// The two extensions overlap: split where it scores best.
			s, best, lens := 0, 0, 0
			for i := 0; i < over; i++ {
				if data[lastScan+lenF-over+i] == old[lastPos+lenF-over+i] {
					s++
				}
				if data[scan-lenB+i] == old[pos-lenB+i] {
					s--
				}
				if s > best {
					best, lens = s, i+1
				}
			}
			lenF += lens - over
			lenB -= lens
		}
		extra := (scan - lenB) - (lastScan + lenF)
		ctl(lenF)
		ctl(extra)
		ctl((pos - lenB) - (lastPos + lenF))
		for i := 0; i < lenF; i++ {
			d := data[lastScan+i] - old[lastPos+i]
			if d != 0 {
				residue++
			}
			out.WriteByte(d)
		}
		out.Write(data[lastScan+lenF : scan-lenB])
		residue += extra
		lastScan, lastPos, lastOffset = scan-lenB, pos-lenB, pos-scan
	}
	return out.Bytes(), residue
}

// longestMatch finds the suffix of old that shares the longest prefix
// with data, by binary search of old's sorted suffixes: its length
// and where it starts.
func longestMatch(sa []int32, old, data []byte) (n, pos int) {
	lo, hi := 0, len(sa)-1
	for hi-lo >= 2 {
		mid := lo + (hi-lo)/2
		if bytes.Compare(old[sa[mid]:], data) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	a, b := commonPrefix(old[sa[lo]:], data), commonPrefix(old[sa[hi]:], data)
	if a > b {
		return a, int(sa[lo])
	}
	return b, int(sa[hi])
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// suffixArray sorts b's suffixes, the empty one first (len(b)+1
// entries), by Larsson and Sadakane's prefix doubling: suffixes are
// grouped by their first h bytes, and each pass sorts only the groups
// not yet down to one suffix, by the group of the suffix h further on.
func suffixArray(b []byte) []int32 {
	n := len(b)
	sa := make([]int32, n+1)  // suffixes; a negative entry -k skips a sorted run of k
	grp := make([]int32, n+1) // each suffix's group: the last index of its group in sa
	var start [257]int32
	for _, c := range b {
		start[int(c)+1]++
	}
	start[0] = 1 // sa[0] is the empty suffix
	for i := 1; i <= 256; i++ {
		start[i] += start[i-1]
	}
	// start[c] is now where byte c's group begins; fill and rank.
	next := start
	for i, c := range b {
		sa[next[c]] = int32(i)
		next[c]++
	}
	sa[0] = int32(n)
	for i, c := range b {
		grp[i] = next[c] - 1
	}
	grp[n] = 0
	for c := 0; c < 256; c++ {
		if next[c]-start[c] == 1 {
			sa[start[c]] = -1
		}
	}
	sa[0] = -1
	for h := int32(1); sa[0] != -int32(n+1); h *= 2 {
		run := int32(0) // length of the sorted run being crossed
		for i := int32(0); i < int32(n+1); {
			if sa[i] < 0 {
				run -= sa[i]
				i -= sa[i]
				continue
			}
			if run > 0 {
				sa[i-run] = -run
			}
			l := grp[sa[i]] + 1 - i
			splitGroup(sa, grp, i, l, h)
			i += l
			run = 0
		}
		if run > 0 {
			sa[int32(n+1)-run] = -run
		}
	}
	for i, g := range grp {
		sa[g] = int32(i)
	}
	return sa
}

// splitGroup sorts sa[from:from+l], suffixes that agree on their first
// h bytes, by the group of the suffix h on (a three-way quicksort),
// and gives each new group its number; groups of one are marked done.
func splitGroup(sa, grp []int32, from, l, h int32) {
	key := func(i int32) int32 { return grp[sa[i]+h] }
	if l < 16 {
		// Selection by smallest key: few enough to do it plainly.
		for k := from; k < from+l; {
			j, x := int32(1), key(k)
			for i := int32(1); k+i < from+l; i++ {
				if v := key(k + i); v < x {
					x, j = v, 0
				}
				if key(k+i) == x {
					sa[k+j], sa[k+i] = sa[k+i], sa[k+j]
					j++
				}
			}
			for i := int32(0); i < j; i++ {
				grp[sa[k+i]] = k + j - 1
			}
			if j == 1 {
				sa[k] = -1
			}
			k += j
		}
		return
	}
	x := key(from + l/2)
	var less, equal int32
	for i := from; i < from+l; i++ {
		switch v := key(i); {
		case v < x:
			less++
		case v == x:
			equal++
		}
	}
	lo := from + less // the equal run is sa[lo:hi]
	hi := lo + equal
	var i, j, k int32 = from, 0, 0
	for i < lo {
		switch v := key(i); {
		case v < x:
			i++
		case v == x:
			sa[i], sa[lo+j] = sa[lo+j], sa[i]
			j++
		default:
			sa[i], sa[hi+k] = sa[hi+k], sa[i]
			k++
		}
	}
	for lo+j < hi {
		if key(lo+j) == x {
			j++
		} else {
			sa[lo+j], sa[hi+k] = sa[hi+k], sa[lo+j]
			k++
		}
	}
	if lo > from {
		splitGroup(sa, grp, from, lo-from, h)
	}
	for i := lo; i < hi; i++ {
		grp[sa[i]] = hi - 1
	}
	if hi-lo == 1 {
		sa[lo] = -1
	}
	if from+l > hi {
		splitGroup(sa, grp, hi, from+l-hi, h)
	}
}
