package gnugz

const (
	maxBits     = 15
	maxBlBits   = 7
	lengthCodes = 29
	literals    = 256
	endBlock    = 256
	lCodes      = literals + 1 + lengthCodes
	dCodes      = 30
	blCodes     = 19
	heapSize    = 2*lCodes + 1
	rep3to6     = 16
	repz3to10   = 17
	repz11to138 = 18
)

var (
	extraLbits  = [lengthCodes]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	extraDbits  = [dCodes]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	extraBlbits = [blCodes]int{16: 2, 17: 3, 18: 7}
	blOrder     = [blCodes]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	// fixed is the tables every block uses, made once and never written.
	fixed = newTables()
)

// ct is a tree's node: a leaf's frequency and then its code, its
// parent while the tree is built and then its length in bits.
type ct struct{ freq, code, dad, len int }

type tables struct {
	baseLength [lengthCodes]int
	lengthCode [256]int
	baseDist   [dCodes]int
	distCode   [512]int
	staticL    [lCodes + 2]ct
	staticD    [dCodes]ct
}

func newTables() *tables {
	t := &tables{}
	length := 0
	code := 0
	for code = 0; code < lengthCodes-1; code++ {
		t.baseLength[code] = length
		for n := 0; n < 1<<extraLbits[code]; n++ {
			t.lengthCode[length] = code
			length++
		}
	}
	// Length 258 has a code of its own, though 255 reaches it too.
	t.lengthCode[length-1] = code
	dist := 0
	for code = 0; code < 16; code++ {
		t.baseDist[code] = dist
		for n := 0; n < 1<<extraDbits[code]; n++ {
			t.distCode[dist] = code
			dist++
		}
	}
	dist >>= 7
	for ; code < dCodes; code++ {
		t.baseDist[code] = dist << 7
		for n := 0; n < 1<<(extraDbits[code]-7); n++ {
			t.distCode[256+dist] = code
			dist++
		}
	}
	var count [maxBits + 1]int
	for n := range t.staticL {
		l := 8
		switch {
		case n >= 144 && n <= 255:
			l = 9
		case n >= 256 && n <= 279:
			l = 7
		}
		t.staticL[n].len = l
		count[l]++
	}
	genCodes(t.staticL[:], lCodes+1, &count)
	for n := range t.staticD {
		t.staticD[n] = ct{len: 5, code: reverse(n, 5)}
	}
	return t
}

func (t *tables) dCode(dist int) int {
	if dist < 256 {
		return t.distCode[dist]
	}
	return t.distCode[256+dist>>7]
}

func reverse(code, n int) int {
	r := 0
	for ; n > 0; n-- {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}

// genCodes gives the leaves up to maxCode their codes from their lengths
// and the count of each length.
func genCodes(tree []ct, maxCode int, count *[maxBits + 1]int) {
	var next [maxBits + 1]int
	code := 0
	for b := 1; b <= maxBits; b++ {
		code = (code + count[b-1]) << 1
		next[b] = code
	}
	for n := 0; n <= maxCode; n++ {
		if l := tree[n].len; l != 0 {
			tree[n].code = reverse(next[l], l)
			next[l]++
		}
	}
}

// desc is one of a block's three trees.
type desc struct {
	dyn       []ct
	static    []ct // nil for the tree of code lengths
	extra     []int
	base      int // the first code with extra bits
	elems     int
	maxLength int
	maxCode   int
}

// trees is a block's symbols and the trees built to send them.
type trees struct {
	dynL    [heapSize]ct
	dynD    [2*dCodes + 1]ct
	bl      [2*blCodes + 1]ct
	l, d, b desc

	heap              [heapSize]int
	heapLen, heapMax  int
	depth             [heapSize]int
	count             [maxBits + 1]int
	optLen, staticLen int

	lBuf                         [litBufsize]byte
	dBuf                         [litBufsize]int
	flagBuf                      [litBufsize / 8]byte
	lastLit, lastDist, lastFlags int
	flags, flagBit               int
}

func (t *trees) init() {
	t.l = desc{dyn: t.dynL[:], static: fixed.staticL[:], extra: extraLbits[:], base: literals + 1, elems: lCodes, maxLength: maxBits}
	t.d = desc{dyn: t.dynD[:], static: fixed.staticD[:], extra: extraDbits[:], elems: dCodes, maxLength: maxBits}
	t.b = desc{dyn: t.bl[:], extra: extraBlbits[:], elems: blCodes, maxLength: maxBlBits}
	t.initBlock()
}

func (t *trees) initBlock() {
	for n := 0; n < lCodes; n++ {
		t.dynL[n].freq = 0
	}
	for n := 0; n < dCodes; n++ {
		t.dynD[n].freq = 0
	}
	for n := 0; n < blCodes; n++ {
		t.bl[n].freq = 0
	}
	t.dynL[endBlock].freq = 1
	t.optLen, t.staticLen = 0, 0
	t.lastLit, t.lastDist, t.lastFlags = 0, 0, 0
	t.flags, t.flagBit = 0, 1
}

// tally records a literal (dist 0) or a match and says whether the block
// should end here: when its buffers are full, or, every 4096 symbols,
// when the block looks to compress well enough already that a fresh
// tree may do better.
func (t *trees) tally(d *deflater, dist, lc int) bool {
	t.lBuf[t.lastLit] = byte(lc)
	t.lastLit++
	if dist == 0 {
		t.dynL[lc].freq++
	} else {
		dist--
		t.dynL[fixed.lengthCode[lc]+literals+1].freq++
		t.dynD[fixed.dCode(dist)].freq++
		t.dBuf[t.lastDist] = dist
		t.lastDist++
		t.flags |= t.flagBit
	}
	t.flagBit <<= 1
	if t.lastLit&7 == 0 {
		t.flagBuf[t.lastFlags] = byte(t.flags)
		t.lastFlags++
		t.flags, t.flagBit = 0, 1
	}
	if d.level > 2 && t.lastLit&0xfff == 0 {
		out := t.lastLit * 8
		in := d.strstart - d.blockStart
		for c := 0; c < dCodes; c++ {
			out += t.dynD[c].freq * (5 + extraDbits[c])
		}
		out >>= 3
		if t.lastDist < t.lastLit/2 && out < in/2 {
			return true
		}
	}
	return t.lastLit == litBufsize-1 || t.lastDist == litBufsize
}

func (t *trees) smaller(tree []ct, n, m int) bool {
	return tree[n].freq < tree[m].freq || tree[n].freq == tree[m].freq && t.depth[n] <= t.depth[m]
}

// down restores the heap's order from k down.
func (t *trees) down(tree []ct, k int) {
	v := t.heap[k]
	for j := k << 1; j <= t.heapLen; j <<= 1 {
		if j < t.heapLen && t.smaller(tree, t.heap[j+1], t.heap[j]) {
			j++
		}
		if t.smaller(tree, v, t.heap[j]) {
			break
		}
		t.heap[k] = t.heap[j]
		k = j
	}
	t.heap[k] = v
}

// build makes a Huffman tree of the symbols' frequencies, its lengths
// bounded by the tree's most, and adds what the block costs in it and in
// the fixed tree.
func (t *trees) build(ds *desc) {
	tree := ds.dyn
	t.heapLen, t.heapMax = 0, heapSize
	maxCode := -1
	for n := 0; n < ds.elems; n++ {
		if tree[n].freq != 0 {
			t.heapLen++
			t.heap[t.heapLen] = n
			maxCode = n
			t.depth[n] = 0
		} else {
			tree[n].len = 0
		}
	}
	// Two codes at least, so that a code is a bit at least.
	for t.heapLen < 2 {
		node := 0
		if maxCode < 2 {
			maxCode++
			node = maxCode
		}
		t.heapLen++
		t.heap[t.heapLen] = node
		tree[node].freq = 1
		t.depth[node] = 0
		t.optLen--
		if ds.static != nil {
			t.staticLen -= ds.static[node].len
		}
	}
	ds.maxCode = maxCode
	for n := t.heapLen / 2; n >= 1; n-- {
		t.down(tree, n)
	}
	node := ds.elems
	for {
		n := t.heap[1]
		t.heap[1] = t.heap[t.heapLen]
		t.heapLen--
		t.down(tree, 1)
		m := t.heap[1]
		t.heapMax--
		t.heap[t.heapMax] = n
		t.heapMax--
		t.heap[t.heapMax] = m
		tree[node].freq = tree[n].freq + tree[m].freq
		t.depth[node] = max(t.depth[n], t.depth[m]) + 1
		tree[n].dad, tree[m].dad = node, node
		t.heap[1] = node
		node++
		t.down(tree, 1)
		if t.heapLen < 2 {
			break
		}
	}
	t.heapMax--
	t.heap[t.heapMax] = t.heap[1]
	t.bitLengths(ds)
	genCodes(tree, maxCode, &t.count)
}

// bitLengths gives the leaves their lengths from their depths, and
// where one is past the tree's most, moves leaves down from the deepest
// level that has room, as gzip does.
func (t *trees) bitLengths(ds *desc) {
	tree := ds.dyn
	for b := range t.count {
		t.count[b] = 0
	}
	tree[t.heap[t.heapMax]].len = 0 // the root
	overflow := 0
	h := t.heapMax + 1
	for ; h < heapSize; h++ {
		n := t.heap[h]
		b := tree[tree[n].dad].len + 1
		if b > ds.maxLength {
			b = ds.maxLength
			overflow++
		}
		tree[n].len = b
		if n > ds.maxCode {
			continue // not a leaf
		}
		t.count[b]++
		x := 0
		if n >= ds.base {
			x = ds.extra[n-ds.base]
		}
		f := tree[n].freq
		t.optLen += f * (b + x)
		if ds.static != nil {
			t.staticLen += f * (ds.static[n].len + x)
		}
	}
	if overflow == 0 {
		return
	}
	for overflow > 0 {
		b := ds.maxLength - 1
		for t.count[b] == 0 {
			b--
		}
		t.count[b]--
		t.count[b+1] += 2
		t.count[ds.maxLength]--
		overflow -= 2
	}
	for b := ds.maxLength; b != 0; b-- {
		for n := t.count[b]; n != 0; {
			h--
			m := t.heap[h]
			if m > ds.maxCode {
				continue
			}
			if tree[m].len != b {
				t.optLen += (b - tree[m].len) * tree[m].freq
				tree[m].len = b
			}
			n--
		}
	}
}

// runs walks a tree's code lengths as the tree of code lengths codes
// them, calling fn at the end of each run of one length: its length, how
// many, the fewest that make a repeat code for it, and the run before's.
func runs(tree []ct, maxCode int, fn func(cur, count, minCount, prev int)) {
	prev, next := -1, tree[0].len
	count, maxCount, minCount := 0, 7, 4
	if next == 0 {
		maxCount, minCount = 138, 3
	}
	for n := 0; n <= maxCode; n++ {
		cur := next
		next = 0xffff // past the last code: a guard no run goes over
		if n < maxCode {
			next = tree[n+1].len
		}
		count++
		if count < maxCount && cur == next {
			continue
		}
		fn(cur, count, minCount, prev)
		count, prev = 0, cur
		switch {
		case next == 0:
			maxCount, minCount = 138, 3
		case cur == next:
			maxCount, minCount = 6, 3
		default:
			maxCount, minCount = 7, 4
		}
	}
}

// scan counts the symbols of the tree of code lengths that sending tree
// takes.
func (t *trees) scan(tree []ct, maxCode int) {
	runs(tree, maxCode, func(cur, count, minCount, prev int) {
		switch {
		case count < minCount:
			t.bl[cur].freq += count
		case cur != 0:
			if cur != prev {
				t.bl[cur].freq++
			}
			t.bl[rep3to6].freq++
		case count <= 10:
			t.bl[repz3to10].freq++
		default:
			t.bl[repz11to138].freq++
		}
	})
}

func (t *trees) code(out *bitWriter, c int, tree []ct) { out.send(tree[c].code, tree[c].len) }

// sendTree sends tree's code lengths in the tree of code lengths.
func (t *trees) sendTree(out *bitWriter, tree []ct, maxCode int) {
	runs(tree, maxCode, func(cur, count, minCount, prev int) {
		switch {
		case count < minCount:
			for ; count > 0; count-- {
				t.code(out, cur, t.bl[:])
			}
		case cur != 0:
			if cur != prev {
				t.code(out, cur, t.bl[:])
				count--
			}
			t.code(out, rep3to6, t.bl[:])
			out.send(count-3, 2)
		case count <= 10:
			t.code(out, repz3to10, t.bl[:])
			out.send(count-3, 3)
		default:
			t.code(out, repz11to138, t.bl[:])
			out.send(count-11, 7)
		}
	})
}

// buildBl builds the tree of code lengths and says how many of its
// lengths are sent, less one.
func (t *trees) buildBl() int {
	t.scan(t.dynL[:], t.l.maxCode)
	t.scan(t.dynD[:], t.d.maxCode)
	t.build(&t.b)
	last := blCodes - 1
	for ; last >= 3; last-- {
		if t.bl[blOrder[last]].len != 0 {
			break
		}
	}
	t.optLen += 3*(last+1) + 5 + 5 + 4
	return last
}

// compress sends the block's symbols in the trees given.
func (t *trees) compress(out *bitWriter, ltree, dtree []ct) {
	lx, dx, fx := 0, 0, 0
	flag := 0
	for lx < t.lastLit {
		if lx&7 == 0 {
			flag = int(t.flagBuf[fx])
			fx++
		}
		lc := int(t.lBuf[lx])
		lx++
		if flag&1 == 0 {
			t.code(out, lc, ltree)
		} else {
			c := fixed.lengthCode[lc]
			t.code(out, c+literals+1, ltree)
			if x := extraLbits[c]; x != 0 {
				out.send(lc-fixed.baseLength[c], x)
			}
			dist := t.dBuf[dx]
			dx++
			c = fixed.dCode(dist)
			t.code(out, c, dtree)
			if x := extraDbits[c]; x != 0 {
				out.send(dist-fixed.baseDist[c], x)
			}
		}
		flag >>= 1
	}
	t.code(out, endBlock, ltree)
}

// flush ends the block: stored (when its bytes are at hand and that is
// smallest), in the fixed trees (when no larger than its own), else in
// its own trees.
func (t *trees) flush(out *bitWriter, stored []byte, storedLen int, last bool) {
	t.flagBuf[t.lastFlags] = byte(t.flags)
	t.build(&t.l)
	t.build(&t.d)
	lastBl := t.buildBl()
	optLenb := (t.optLen + 3 + 7) >> 3
	staticLenb := (t.staticLen + 3 + 7) >> 3
	if staticLenb <= optLenb {
		optLenb = staticLenb
	}
	eof := 0
	if last {
		eof = 1
	}
	switch {
	case storedLen+4 <= optLenb && stored != nil:
		out.send(0<<1+eof, 3)
		out.windup()
		out.send(storedLen&0xffff, 16)
		out.send(^storedLen&0xffff, 16)
		out.buf = append(out.buf, stored...)
	case staticLenb == optLenb:
		out.send(1<<1+eof, 3)
		t.compress(out, fixed.staticL[:], fixed.staticD[:])
	default:
		out.send(2<<1+eof, 3)
		out.send(t.l.maxCode+1-257, 5)
		out.send(t.d.maxCode+1-1, 5)
		out.send(lastBl+1-4, 4)
		for r := 0; r <= lastBl; r++ {
			out.send(t.bl[blOrder[r]].len, 3)
		}
		t.sendTree(out, t.dynL[:], t.l.maxCode)
		t.sendTree(out, t.dynD[:], t.d.maxCode)
		t.compress(out, t.dynL[:], t.dynD[:])
	}
	t.initBlock()
	if last {
		out.windup()
	}
}
