package delta

import (
	"bytes"
	"fmt"
	"strconv"

	"arbor/store/delta/gnugz"
	"arbor/store/object"
)

// gzRecipe is how a changed .gz file is rebuilt in an alt part: its text
// patched from the old file's, compressed at level under header.
type gzRecipe struct {
	level            int
	header           []byte
	oldText, newText int
	patch            []byte
}

// gzipLevels are the levels to try for a file, by its header's XFL
// byte: gzip marks 9 so, and writes 0 for the rest (6 is its default).
func gzipLevels(xfl byte) []int {
	switch xfl {
	case 2:
		return []int{9}
	case 0:
		return []int{6, 5, 7, 8, 4}
	}
	return nil
}

// gzipHeaderLen is the length of a gzip file's header, 0 if it is not
// one this package rebuilds (any flags gzip may write, nothing else).
func gzipHeaderLen(b []byte) int {
	if len(b) < 18 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 || b[3]&0xe0 != 0 {
		return 0
	}
	n := 10
	flg := b[3]
	if flg&4 != 0 { // extra field
		if n+2 > len(b) {
			return 0
		}
		n += 2 + (int(b[n]) | int(b[n+1])<<8)
	}
	for _, f := range []byte{8, 16} { // name, comment
		if flg&f != 0 {
			i := bytes.IndexByte(b[min(n, len(b)):], 0)
			if i < 0 {
				return 0
			}
			n += i + 1
		}
	}
	if flg&2 != 0 { // header crc
		n += 2
	}
	if n > 1024 || n+8 > len(b) {
		return 0
	}
	return n
}

// gzipRecipe is how data, a .gz file, is rebuilt from old, when both are
// gzip files whose texts together are within maxText, the patch of the
// texts leaves under half of data's size unmatched, and gzip's deflate at
// some level makes data exactly; else nil. The deflate, the dearest
// check, is made last.
func gzipRecipe(old, data []byte, maxText int) *gzRecipe {
	h := gzipHeaderLen(data)
	if h == 0 || gzipHeaderLen(old) == 0 {
		return nil
	}
	levels := gzipLevels(data[8])
	if levels == nil {
		return nil
	}
	text, err := gunzipMax(data, maxText)
	if err != nil {
		return nil
	}
	oldText, err := gunzipMax(old, maxText-len(text))
	if err != nil {
		return nil
	}
	// A text's update is mostly lines added and changed: blocks of the
	// old text find the rest, in a thousandth of bsdiff's time, and
	// bsdiff is left for what they do not serve. Either patch is mostly
	// zeros, which the part's xz takes away: what it costs is the text
	// not found in the old one.
	ms := matchBlocks(oldText, text)
	patch, residue := matchPatch(text, ms), len(text)-matchedBytes(ms)
	if residue > len(data)/2 {
		if patch, residue = Bsdiff(oldText, text); residue > len(data)/2 {
			return nil
		}
	}
	for _, l := range levels {
		if out, err := gnugz.Gzip(data[:h], text, l); err == nil && bytes.Equal(out, data) {
			return &gzRecipe{level: l, header: data[:h], oldText: len(oldText), newText: len(text), patch: patch}
		}
	}
	return nil
}

// gunzipMax is the text of a gzip file of one member, refused past max
// bytes.
func gunzipMax(b []byte, max int) ([]byte, error) {
	// The trailer gives the length modulo 2^32; the text is read to its
	// end, and refused past it, by gunzip.
	n := int(uint32(b[len(b)-4]) | uint32(b[len(b)-3])<<8 | uint32(b[len(b)-2])<<16 | uint32(b[len(b)-1])<<24)
	if n > max {
		return nil, fmt.Errorf("a text of %d bytes, past %d", n, max)
	}
	return gunzip(b, n)
}

// gzip writes data as its old object's text patched and compressed.
func (p *partBuilder) gzip(ref ObjectRef, h *object.FileHeader, old object.Checksum, r *gzRecipe, size int) {
	mi, xi := p.modeIndex(h)
	p.op(opOpen, mi, xi, uint64(size))
	p.op(opSetReadSource, uint64(p.source(old)))
	hoff := p.add(r.header)
	poff := p.add(r.patch)
	p.op(opGzip, uint64(r.oldText), uint64(r.newText), uint64(r.level), hoff, uint64(len(r.header)), poff, uint64(len(r.patch)))
	p.op(opUnsetReadSource)
	p.op(opClose)
	p.objects = append(p.objects, ref)
	p.usize += uint64(size)
}

// gzParts is the part of changed .gz files being built, and its alt
// part.
type gzParts struct{ part, alt *partBuilder }

// builtAlt is an alt part closed, for the part of index part, being
// compressed behind the parts that follow.
type builtAlt struct {
	part int
	done chan struct{}
	f    []byte
	h    PartHeader
	err  error
}

// gzips says whether the generation makes alt parts: for pulls, so not
// in a delta inline or written to a file of its own, which are applied
// offline from their parts.
func (g *generator) gzips() bool {
	return !g.o.Inline && g.o.Output == "" && g.o.MaxBsdiffSize > 0
}

// maxGzipTexts bounds the two texts of a .gz file rebuilt together: a
// quarter of what bsdiff may take, as their patch is made besides the
// files'.
func (g *generator) maxGzipTexts() int64 { return min(g.o.MaxBsdiffSize/4, maxGzipText) }

func (g *generator) gzPart() *partBuilder {
	if g.gz == nil {
		g.gz = &gzParts{part: newPartBuilder(nil), alt: newPartBuilder(nil)}
	}
	return g.gz.part
}

// closeGzPart closes the .gz files' part as the next part, and keeps its
// alt part to be written once the parts are.
func (g *generator) closeGzPart() error {
	if g.gz == nil {
		return nil
	}
	gz := g.gz
	g.gz = nil
	i, err := g.close(gz.part)
	if err != nil {
		return err
	}
	a := &builtAlt{part: i, done: make(chan struct{})}
	g.alts = append(g.alts, a)
	// Its payload holds the texts' patches, larger than the files they
	// make: it declares that size, which bounds its decompression.
	payload := uint64(len(gz.alt.blob) + len(gz.alt.ops))
	go func() {
		defer close(a.done)
		a.f, a.h, a.err = gz.alt.compress(g.ctx, g.slots)
		a.h.Uncompressed = max(a.h.Uncompressed, payload)
	}()
	return nil
}

// writeAlts writes the alt parts once they are compressed, after every
// part; on an early return of the generation, it waits for them all.
func (g *generator) writeAlts() error {
	var err error
	for _, a := range g.alts {
		<-a.done
		if err == nil {
			err = a.err
		}
		if err == nil {
			err = g.writePart("alt-"+strconv.Itoa(a.part), a.f)
		}
		if err == nil {
			g.altParts = append(g.altParts, AltPart{Part: a.part, Checksum: a.h.Checksum, Size: a.h.Size, Uncompressed: a.h.Uncompressed})
		}
	}
	g.alts = nil
	return err
}

// matchPatch is a bsdiff patch (Bspatch's form) that makes data from the
// old file matches were found in: each match copied, the bytes between
// them carried.
func matchPatch(data []byte, ms []match) []byte {
	var p []byte
	ctl := func(diff, extra, seek int) {
		var b [24]byte
		putOfft(b[0:], diff)
		putOfft(b[8:], extra)
		putOfft(b[16:], seek)
		p = append(p, b[:]...)
	}
	first, seek := len(data), 0
	if len(ms) > 0 {
		first, seek = ms[0].newOff, ms[0].oldOff
	}
	ctl(0, first, seek)
	p = append(p, data[:first]...)
	for i, m := range ms {
		end, next, nextOld := m.newOff+m.n, len(data), m.oldOff+m.n
		if i+1 < len(ms) {
			next, nextOld = ms[i+1].newOff, ms[i+1].oldOff
		}
		ctl(m.n, next-end, nextOld-(m.oldOff+m.n))
		p = append(p, make([]byte, m.n)...)
		p = append(p, data[end:next]...)
	}
	return p
}
