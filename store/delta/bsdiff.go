package delta

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
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
// diffs to mostly zeros. Memory: old's suffix array and, while it is
// sorted, a copy of old as wider symbols and its suffixes' types, about
// 9 bytes per byte of old (4 after), which is why the generator caps the
// sizes.
//
// The scan is cut into segments of a MiB of data, scanned side by side
// (old's sorted suffixes are shared and only read): each starts aligned
// with its first byte's longest match, and the last control of each is
// made to seek to where the next starts. The segments are fixed, not
// one per processor, so that the patch is the same on every machine; a
// cut costs a few bytes of patch.
func Bsdiff(old, data []byte) (patch []byte, residue int) {
	sa := suffixArray(old)
	const segment = 1 << 20
	n := max(1, (len(data)+segment-1)/segment)
	segs := make([]scanned, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				lo, hi := i*segment, min((i+1)*segment, len(data))
				start := 0
				if i > 0 {
					if l, pos := longestMatch(sa, old, data[lo:hi]); l > 0 {
						start = pos
					}
				}
				segs[i] = scan(sa, old, data[:hi], lo, start)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	size := 0
	for _, sg := range segs {
		size += len(sg.out)
		residue += sg.residue
	}
	patch = make([]byte, 0, size)
	for i, sg := range segs {
		if i+1 < n {
			putOfft(sg.out[sg.lastSeek:], segs[i+1].start-sg.oldEnd)
		}
		patch = append(patch, sg.out...)
	}
	return patch, residue
}

// scanned is one segment's part of a patch: its control triples and
// bytes, where it began in old, and, for the seek its last triple makes
// (to wherever the next segment begins), where that seek is in out and
// the old offset it seeks from.
type scanned struct {
	out           []byte
	residue       int
	start, oldEnd int
	lastSeek      int
}

func putOfft(b []byte, v int) {
	u := uint64(v)
	if v < 0 {
		u = uint64(-v) | 1<<63
	}
	binary.LittleEndian.PutUint64(b, u)
}

// scan diffs data[from:] against old, beginning aligned with old at
// start, in bsdiff's stream form.
func scan(sa []int32, old, data []byte, from, start int) scanned {
	var out bytes.Buffer
	out.Grow(len(data) - from + (len(data)-from)/8 + 64)
	sg := scanned{start: start}
	ctl := func(v int) {
		var b [8]byte
		putOfft(b[:], v)
		out.Write(b[:])
	}
	n, m := len(old), len(data)
	scan, length, pos, lastScan, lastPos, lastOffset := from, 0, 0, from, start, start-from
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
		sg.lastSeek, sg.oldEnd = out.Len(), lastPos+lenF
		ctl((pos - lenB) - (lastPos + lenF))
		for i := 0; i < lenF; i++ {
			d := data[lastScan+i] - old[lastPos+i]
			if d != 0 {
				sg.residue++
			}
			out.WriteByte(d)
		}
		out.Write(data[lastScan+lenF : scan-lenB])
		sg.residue += extra
		lastScan, lastPos, lastOffset = scan-lenB, pos-lenB, pos-scan
	}
	sg.out = out.Bytes()
	return sg
}

// longestMatch finds the suffix of old that shares the longest prefix
// with data, by binary search of old's sorted suffixes: its length
// and where it starts. Every suffix between the bounds shares with data
// at least the shorter of the bounds' common prefixes, so each probe
// compares only from there (what makes long runs, of zeros say, cheap).
func longestMatch(sa []int32, old, data []byte) (n, pos int) {
	lo, hi := 0, len(sa)-1
	atLo, atHi := commonPrefix(old[sa[lo]:], data), commonPrefix(old[sa[hi]:], data)
	for hi-lo >= 2 {
		mid := lo + (hi-lo)/2
		suf := old[sa[mid]:]
		k := min(atLo, atHi)
		l := k + commonPrefix(suf[k:], data[k:])
		if l == len(data) || l < len(suf) && suf[l] > data[l] {
			hi, atHi = mid, l // data is at most suf
		} else {
			lo, atLo = mid, l
		}
	}
	if atLo > atHi {
		return atLo, int(sa[lo])
	}
	return atHi, int(sa[hi])
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
// entries), by induced sorting (SA-IS: Nong, Zhang and Chan), linear in
// len(b): the suffixes that start a run of smaller-than-next bytes are
// sorted first, by recursion on their names where those repeat, and
// place every other suffix in order from them.
func suffixArray(b []byte) []int32 {
	t := make([]int32, len(b)+1) // each byte one up, and a 0 that ends it
	for i, c := range b {
		t[i] = int32(c) + 1
	}
	sa := make([]int32, len(t))
	sais(t, sa, 257)
	return sa
}

// sais sorts the suffixes of t into sa: t's symbols are below k, and its
// last is 0, found nowhere else.
func sais(t, sa []int32, k int) {
	n := len(t)
	if n == 1 {
		sa[0] = 0
		return
	}
	// A suffix is S when it is smaller than the one after it, else L;
	// an LMS one is an S right after an L.
	stype := make([]bool, n)
	stype[n-1] = true
	for i := n - 2; i >= 0; i-- {
		stype[i] = t[i] < t[i+1] || t[i] == t[i+1] && stype[i+1]
	}
	lms := func(i int32) bool { return i > 0 && stype[i] && !stype[i-1] }
	count := make([]int32, k)
	for _, c := range t {
		count[c]++
	}
	bkt := make([]int32, k)
	ends := func() {
		var sum int32
		for c, m := range count {
			sum += m
			bkt[c] = sum
		}
	}
	starts := func() {
		var sum int32
		for c, m := range count {
			bkt[c] = sum
			sum += m
		}
	}
	induce := func() {
		starts()
		for i := 0; i < n; i++ {
			if j := sa[i] - 1; sa[i] > 0 && !stype[j] {
				sa[bkt[t[j]]] = j
				bkt[t[j]]++
			}
		}
		ends()
		for i := n - 1; i >= 0; i-- {
			if j := sa[i] - 1; sa[i] > 0 && stype[j] {
				bkt[t[j]]--
				sa[bkt[t[j]]] = j
			}
		}
	}
	// The LMS suffixes at their buckets' ends, in any order; what is
	// induced from them has the LMS substrings sorted.
	for i := range sa {
		sa[i] = -1
	}
	ends()
	for i := int32(1); i < int32(n); i++ {
		if lms(i) {
			bkt[t[i]]--
			sa[bkt[t[i]]] = i
		}
	}
	induce()
	m := 0
	for i := 0; i < n; i++ {
		if lms(sa[i]) {
			sa[m] = sa[i]
			m++
		}
	}
	for i := m; i < n; i++ {
		sa[i] = -1
	}
	// Name each LMS substring by its rank, equal ones alike, at half its
	// position (LMS positions are at least two apart).
	names, prev := int32(0), int32(-1)
	for i := 0; i < m; i++ {
		pos, diff := sa[i], false
		for d := int32(0); ; d++ {
			if prev < 0 || t[pos+d] != t[prev+d] || stype[pos+d] != stype[prev+d] {
				diff = true
				break
			}
			if d > 0 && (lms(pos+d) || lms(prev+d)) {
				break
			}
		}
		if diff {
			names++
			prev = pos
		}
		sa[m+int(pos/2)] = names - 1
	}
	j := n - 1
	for i := n - 1; i >= m; i-- {
		if sa[i] >= 0 {
			sa[j] = sa[i]
			j--
		}
	}
	// The string of names, in position order, sorted: by recursion while
	// names repeat.
	s1, sa1 := sa[n-m:], sa[:m]
	if int(names) < m {
		sais(s1, sa1, int(names))
	} else {
		for i, c := range s1 {
			sa1[c] = int32(i)
		}
	}
	// The LMS suffixes in their true order, at their buckets' ends, and
	// everything induced from them.
	j = 0
	for i := int32(1); i < int32(n); i++ {
		if lms(i) {
			s1[j] = i
			j++
		}
	}
	for i := range sa1 {
		sa1[i] = s1[sa1[i]]
	}
	for i := m; i < n; i++ {
		sa[i] = -1
	}
	ends()
	for i := m - 1; i >= 0; i-- {
		p := sa[i]
		sa[i] = -1
		bkt[t[p]]--
		sa[bkt[t[p]]] = p
	}
	induce()
}
