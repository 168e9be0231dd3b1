package delta

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"

	"arbor/store/delta/gnugz"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// An alt part is arbor's smaller form of one of a delta's parts: it makes
// the same objects, checked as any part's are, with one op more, which
// ostree has not. The superblock names it in its metadata, under
// altPartsKey, which ostree does not read; ostree fetches the part, and
// arbor the alt part, falling back to the part if the alt part fails.
//
// The op rebuilds a file that GNU gzip compressed (a changelog, a manual
// page) from its old version's text, a patch of the text, and gzip's
// deflate (gnugz): a line added at the top of a text changes every byte
// of its .gz after it, and no part of ostree's can say less than the
// whole new file.
const altPartsKey = "arbor.alt-parts"

var altPartsType = gvariant.MustType("a(uaytt)")

// AltPart is what the superblock says of an alt part: the part it stands
// for, and its file's sha256 and sizes as a part header gives them.
type AltPart struct {
	Part               int
	Checksum           [32]byte
	Size, Uncompressed uint64
}

// opGzip is the alt parts' op: gunzip the read source, patch its text,
// gzip the result as GNU gzip does.
const opGzip = 'Z'

// maxGzipText bounds the texts the op holds, the old and the new: the
// generator makes the op for no larger file.
const maxGzipText = 64 << 20

// parseAlts reads the alt parts the metadata names, each of a part the
// superblock has, one at most per part.
func parseAlts(sb *Superblock) error {
	e, ok := object.Lookup(sb.Metadata, altPartsKey)
	if !ok {
		return nil
	}
	if e.Type.String() != altPartsType.String() {
		return fmt.Errorf("%w: %s is of type %s", ErrCorrupt, altPartsKey, e.Type)
	}
	u32, u64 := func(x uint32) uint32 { return x }, func(x uint64) uint64 { return x }
	if sb.BigEndian {
		u32, u64 = bits.ReverseBytes32, bits.ReverseBytes64
	}
	seen := map[int]bool{}
	for _, a := range e.Value.([]any) {
		f := a.([]any)
		alt := AltPart{Part: int(u32(f[0].(uint32))), Size: u64(f[2].(uint64)), Uncompressed: u64(f[3].(uint64))}
		sum := f[1].([]byte)
		if len(sum) != 32 || alt.Part >= len(sb.Parts) || seen[alt.Part] {
			return fmt.Errorf("%w: %s: an entry for part %d", ErrCorrupt, altPartsKey, alt.Part)
		}
		copy(alt.Checksum[:], sum)
		seen[alt.Part] = true
		sb.Alts = append(sb.Alts, alt)
	}
	return nil
}

// Alt is part i's alt part, if the delta has one.
func (sb *Superblock) Alt(i int) (AltPart, bool) {
	for _, a := range sb.Alts {
		if a.Part == i {
			return a, true
		}
	}
	return AltPart{}, false
}

// AltPath is where part i's alt part is, beside the parts.
func AltPath(from, to object.Checksum, i int) string {
	return Dir(from, to) + "/alt-" + strconv.Itoa(i)
}

// altHeader is the header an alt part is checked against: its own file,
// the objects of the part it stands for.
func altHeader(sb *Superblock, a AltPart) PartHeader {
	return PartHeader{Checksum: a.Checksum, Size: a.Size, Uncompressed: a.Uncompressed, Objects: sb.Parts[a.Part].Objects}
}

// DecodeAlt checks and decodes part i's alt part, as DecodePart does a
// part; RunPart runs it.
func DecodeAlt(sb *Superblock, i int, file, decoded []byte) (*Part, error) {
	a, ok := sb.Alt(i)
	if !ok {
		return nil, fmt.Errorf("%w: no alt part of part %d", ErrCorrupt, i)
	}
	p, err := openPart(altHeader(sb, a), file, false, decoded)
	if err != nil {
		return nil, fmt.Errorf("delta %s alt part %d: %w", Name(sb.From, sb.To), i, err)
	}
	p.alt = true
	return p, nil
}

// AltBound is the most part i's alt part may decompress to, for a
// decoder outside this package (PayloadBound).
func AltBound(sb *Superblock, a AltPart) uint64 { return PayloadBound(altHeader(sb, a)) }

// gzipOp runs opGzip: its operands are the old text's size, the new
// text's, gzip's level, the new file's gzip header and the text's patch
// (offset and length in the blob each).
func (e *executor) gzipOp() error {
	n, err := e.varints(7)
	if err != nil {
		return err
	}
	oldLen, textLen, level := n[0], n[1], n[2]
	if e.cur == nil || e.header == nil || e.srcSum == nil {
		return e.fail("gzip without an open object and a source")
	}
	if oldLen > maxGzipText || textLen > maxGzipText || level > 9 {
		return e.fail("gzip of %d bytes from %d at level %d", textLen, oldLen, level)
	}
	header, err := e.blob(n[3], n[4])
	if err != nil {
		return err
	}
	patch, err := e.blob(n[5], n[6])
	if err != nil || e.skip {
		return err
	}
	old, err := e.source()
	if err != nil || e.skip {
		return err
	}
	oldText, err := gunzip(old, int(oldLen))
	if err != nil {
		return e.fail("gunzip of its source: %v", err)
	}
	text, err := Bspatch(oldText, patch, textLen)
	if err != nil {
		return e.fail("bspatch: %v", err)
	}
	out, err := gnugz.Gzip(header, text, int(level))
	if err != nil {
		return e.fail("gzip: %v", err)
	}
	if uint64(len(out)) != e.size {
		return e.fail("gzip made %d bytes, not the object's %d", len(out), e.size)
	}
	e.buf = append(e.buf[:0], out...)
	return nil
}

// gunzip is the text of a gzip file of one member, which must be n
// bytes: no more is read.
func gunzip(b []byte, n int) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r.Multistream(false)
	text := make([]byte, n)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, fmt.Errorf("not the %d bytes said: %w", n, err)
	}
	if k, err := r.Read(make([]byte, 1)); k != 0 || !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than the %d bytes said", n)
	}
	return text, nil
}
