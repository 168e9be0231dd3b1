// Package gnugz compresses as GNU gzip does at levels 4 to 9, byte for
// byte: the same lazy match search over the same hash chains, the same
// choice of where a block ends and the same Huffman trees. A .gz file
// that gzip made can then be rebuilt from its text, so that an update
// carries the text's small patch rather than the compressed file, which
// changes all through when a line is added at its top. What it makes is
// never trusted for being made here: a delta binds every rebuilt file to
// its checksum.
package gnugz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
)

const (
	wsize        = 0x8000
	wmask        = wsize - 1
	windowSize   = 2 * wsize
	hashBits     = 15
	hashSize     = 1 << hashBits
	hashMask     = hashSize - 1
	minMatch     = 3
	maxMatch     = 258
	hShift       = (hashBits + minMatch - 1) / minMatch
	minLookahead = maxMatch + minMatch + 1
	maxDist      = wsize - minLookahead
	// tooFar: a match of three bytes further back than this costs more
	// than its literals.
	tooFar     = 4096
	litBufsize = 0x8000
)

// config is a level's search: a match this good has its chain cut to a
// quarter, one this long is not bettered lazily, one this long ends the
// search, and chains are followed this far.
type config struct{ good, lazy, nice, chain int }

// configs are levels 4 to 9; 1 to 3 use another, greedy search.
var configs = [10]config{
	4: {4, 4, 16, 16}, 5: {8, 16, 32, 32}, 6: {8, 16, 128, 128},
	7: {8, 32, 128, 256}, 8: {32, 128, 258, 1024}, 9: {32, 258, 258, 4096},
}

// ErrLevel is a level this package does not compress at.
var ErrLevel = errors.New("gzip levels 4 to 9 only")

// Deflate is the raw deflate stream gzip writes for data at level.
func Deflate(data []byte, level int) ([]byte, error) {
	if level < 4 || level > 9 {
		return nil, fmt.Errorf("level %d: %w", level, ErrLevel)
	}
	d := &deflater{in: data, level: level, cfg: configs[level]}
	d.trees.init()
	d.run()
	return d.out.buf, nil
}

// Gzip is the whole file gzip writes for data at level: header (as
// given: gzip -n writes a name and time of none), deflate stream, and
// the trailer of crc32 and length.
func Gzip(header, data []byte, level int) ([]byte, error) {
	body, err := Deflate(data, level)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(header)+len(body)+8)
	out = append(out, header...)
	out = append(out, body...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(out, uint32(len(data))), nil
}

type deflater struct {
	in    []byte
	inPos int
	level int
	cfg   config

	// window has 8 bytes more than gzip's, which matchLen's last load
	// may read and whose values do not count.
	window [windowSize + 8]byte
	prev   [wsize]uint16
	head   [hashSize]uint16
	insH   int

	strstart, lookahead int
	blockStart          int
	matchStart          int
	prevLength          int
	eof                 bool

	trees trees
	out   bitWriter
}

// read copies up to n bytes of the input into the window at off, as a
// read of a regular file does: all it asks for while the file lasts.
func (d *deflater) read(off, n int) int {
	k := copy(d.window[off:off+n], d.in[d.inPos:])
	d.inPos += k
	return k
}

func (d *deflater) updateHash(c byte) { d.insH = ((d.insH << hShift) ^ int(c)) & hashMask }

// insert adds the string at s to its hash chain and returns the chain's
// head before it.
func (d *deflater) insert(s int) int {
	d.updateHash(d.window[s+minMatch-1])
	h := d.head[d.insH]
	d.prev[s&wmask] = h
	d.head[d.insH] = uint16(s)
	return int(h)
}

// fillWindow reads more input, sliding the window's upper half down
// first once the string being matched is past it.
func (d *deflater) fillWindow() {
	more := windowSize - d.lookahead - d.strstart
	if d.strstart >= wsize+maxDist {
		copy(d.window[:wsize], d.window[wsize:])
		d.matchStart -= wsize
		d.strstart -= wsize
		d.blockStart -= wsize
		for i, m := range d.head {
			d.head[i] = slid(m)
		}
		for i, m := range d.prev {
			d.prev[i] = slid(m)
		}
		more += wsize
	}
	if d.eof {
		return
	}
	if n := d.read(d.strstart+d.lookahead, more); n == 0 {
		d.eof = true
		// gzip clears what follows the input for the hash of its last
		// strings.
		clear(d.window[d.strstart+d.lookahead : d.strstart+d.lookahead+minMatch-1])
	} else {
		d.lookahead += n
	}
}

func le16(w []byte, i int) uint16 { return binary.LittleEndian.Uint16(w[i:]) }

// matchLen is how many bytes the strings at scan and m have in common,
// from the fourth on, up to maxMatch: eight compared at a time.
func matchLen(w []byte, scan, m int) int {
	n := 3
	for n < maxMatch {
		x := binary.LittleEndian.Uint64(w[scan+n:]) ^ binary.LittleEndian.Uint64(w[m+n:])
		if x != 0 {
			return min(n+bits.TrailingZeros64(x)/8, maxMatch)
		}
		n += 8
	}
	return maxMatch
}

func slid(m uint16) uint16 {
	if m >= wsize {
		return m - wsize
	}
	return 0
}

// longestMatch follows the chain from cur for a match longer than the
// last one, as far as the level allows.
func (d *deflater) longestMatch(cur int) int {
	chain := d.cfg.chain
	w := d.window[:]
	scan := d.strstart
	best := d.prevLength
	limit := 0
	if d.strstart > maxDist {
		limit = d.strstart - maxDist
	}
	// The two bytes at the match's end so far, and the first two.
	end, start := le16(w, scan+best-1), le16(w, scan)
	if d.prevLength >= d.cfg.good {
		chain >>= 2
	}
	for {
		m := cur
		// The third byte is not compared: equal hashes and equal first
		// two bytes make it equal.
		if le16(w, m+best-1) == end && le16(w, m) == start {
			n := matchLen(w, scan, m)
			if n > best {
				d.matchStart = cur
				best = n
				if n >= d.cfg.nice {
					break
				}
				end = le16(w, scan+best-1)
			}
		}
		cur = int(d.prev[cur&wmask])
		chain--
		if cur <= limit || chain == 0 {
			break
		}
	}
	return best
}

// run is gzip's lazy evaluation: a match is taken only when the string
// after it does not start a longer one.
func (d *deflater) run() {
	// The first read asks for the whole window.
	d.lookahead = d.read(0, windowSize)
	if d.lookahead == 0 {
		d.eof = true
	} else {
		for d.lookahead < minLookahead && !d.eof {
			d.fillWindow()
		}
		for j := 0; j < minMatch-1; j++ {
			d.updateHash(d.window[j])
		}
	}
	available := false
	matchLength := minMatch - 1
	t := &d.trees
	for d.lookahead != 0 {
		head := d.insert(d.strstart)
		prevMatch := d.matchStart
		d.prevLength = matchLength
		matchLength = minMatch - 1
		if head != 0 && d.prevLength < d.cfg.lazy && d.strstart-head <= maxDist && d.strstart <= windowSize-minLookahead {
			matchLength = min(d.longestMatch(head), d.lookahead)
			if matchLength == minMatch && d.strstart-d.matchStart > tooFar {
				matchLength--
			}
		}
		switch {
		case d.prevLength >= minMatch && matchLength <= d.prevLength:
			flush := t.tally(d, d.strstart-1-prevMatch, d.prevLength-minMatch)
			d.lookahead -= d.prevLength - 1
			for n := d.prevLength - 2; n > 0; n-- {
				d.strstart++
				d.insert(d.strstart)
			}
			d.prevLength = 0
			available = false
			matchLength = minMatch - 1
			d.strstart++
			if flush {
				d.flushBlock(false)
				d.blockStart = d.strstart
			}
		case available:
			if t.tally(d, 0, int(d.window[d.strstart-1])) {
				d.flushBlock(false)
				d.blockStart = d.strstart
			}
			d.strstart++
			d.lookahead--
		default:
			available = true
			d.strstart++
			d.lookahead--
		}
		for d.lookahead < minLookahead && !d.eof {
			d.fillWindow()
		}
	}
	if available {
		t.tally(d, 0, int(d.window[d.strstart-1]))
	}
	d.flushBlock(true)
}

// flushBlock writes the block from blockStart to strstart in the
// cheapest of the three forms, stored only while its bytes are still in
// the window.
func (d *deflater) flushBlock(last bool) {
	var stored []byte
	if d.blockStart >= 0 {
		stored = d.window[d.blockStart:d.strstart]
	}
	d.trees.flush(&d.out, stored, d.strstart-d.blockStart, last)
}

// bits writes a deflate stream's bits, least significant first.
type bitWriter struct {
	buf []byte
	acc uint32
	n   int
}

func (b *bitWriter) send(v, n int) {
	b.acc |= uint32(v) << b.n
	b.n += n
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

// windup pads to a byte.
func (b *bitWriter) windup() {
	if b.n > 0 {
		b.buf = append(b.buf, byte(b.acc))
	}
	b.acc, b.n = 0, 0
}
