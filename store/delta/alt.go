package delta

import (
	"bytes"
	"compress/gzip"
	"context"
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
func DecodeAlt(sb *Superblock, i int, file []byte) (*Part, error) {
	a, ok := sb.Alt(i)
	if !ok {
		return nil, fmt.Errorf("%w: no alt part of part %d", ErrCorrupt, i)
	}
	p, err := openPart(altHeader(sb, a), file, false, nil)
	if err != nil {
		return nil, fmt.Errorf("delta %s alt part %d: %w", Name(sb.From, sb.To), i, err)
	}
	p.alt = true
	return p, nil
}

// gzipArgs are opGzip's operands: the old text's size, the new text's,
// gzip's level, the new file's gzip header and the text's patch (offset
// and length in the blob each).
type gzipArgs [7]uint64

func (e *executor) gzipOp() error {
	at := e.pc
	n, err := e.varints(7)
	if err != nil {
		return err
	}
	if e.cur == nil || e.header == nil || e.srcSum == nil {
		return e.fail("gzip without an open object and a source")
	}
	if e.skip {
		return nil
	}
	var out []byte
	if pre := e.p.pre[at]; pre != nil && pre.src == *e.srcSum {
		<-pre.done
		out, err = pre.out, pre.err
	}
	if out == nil && err == nil {
		// Not made ahead, or from a source that could not be read then:
		// made here, where a source not stored leaves it out.
		old, serr := e.source()
		if serr != nil || e.skip {
			return serr
		}
		out, err = rebuildGzip(e.p.Blob, gzipArgs(n), old)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	if uint64(len(out)) != e.size {
		return e.fail("gzip made %d bytes, not the object's %d", len(out), e.size)
	}
	e.buf = append(e.buf[:0], out...)
	return nil
}

// rebuildGzip makes an opGzip's file from its source's bytes.
func rebuildGzip(blob []byte, a gzipArgs, old []byte) ([]byte, error) {
	oldLen, textLen, level := a[0], a[1], a[2]
	if oldLen > maxGzipText || textLen > maxGzipText || level < 4 || level > 9 {
		return nil, fmt.Errorf("gzip of %d bytes from %d at level %d", textLen, oldLen, level)
	}
	in := func(off, n uint64) ([]byte, error) {
		if off > uint64(len(blob)) || n > uint64(len(blob))-off {
			return nil, fmt.Errorf("%d bytes at %d are past the blob's %d", n, off, len(blob))
		}
		return blob[off : off+n], nil
	}
	header, err := in(a[3], a[4])
	if err != nil {
		return nil, err
	}
	patch, err := in(a[5], a[6])
	if err != nil {
		return nil, err
	}
	oldText, err := gunzip(old, int(oldLen))
	if err != nil {
		return nil, fmt.Errorf("gunzip of its source: %w", err)
	}
	text, err := Bspatch(oldText, patch, textLen)
	if err != nil {
		return nil, fmt.Errorf("bspatch: %w", err)
	}
	return gnugz.Gzip(header, text, int(level))
}

// prebuilt is a gzip op's file made ahead of the part's run (Prebuild),
// from src.
type prebuilt struct {
	src  object.Checksum
	done chan struct{}
	out  []byte // nil: made by the run
	err  error
}

// Prebuild starts making, on a goroutine of its own and in order, the
// files an alt part's gzip ops make, from what load gives of their
// sources (stored objects, read-only): the part's run, which the parts
// before it may keep waiting, then takes each file made, checked as any
// other, so that the deflates overlap those parts' runs. An op whose
// source load cannot give is left to the run. It does nothing for a part
// of ostree's kind; it stops with ctx.
func (p *Part) Prebuild(ctx context.Context, h PartHeader, load func(object.Checksum) ([]byte, error)) {
	if !p.alt || p.pre != nil {
		return
	}
	type job struct {
		pre  *prebuilt
		args gzipArgs
	}
	var jobs []job
	p.pre = map[int]*prebuilt{}
	var src *object.Checksum
	// A program the run would refuse has its files made by no one.
	if p.walkOps(h, func(op byte, at int, args []uint64) {
		switch op {
		case opSetReadSource:
			src = nil
			if b, err := (&executor{p: p}).blob(args[0], 32); err == nil {
				src = new(object.Checksum)
				copy(src[:], b)
			}
		case opUnsetReadSource, opClose, opOpenSpliceAndClose:
			src = nil
		case opGzip:
			if src != nil {
				pre := &prebuilt{src: *src, done: make(chan struct{})}
				p.pre[at] = pre
				jobs = append(jobs, job{pre, gzipArgs(args)})
			}
		}
	}) != nil {
		p.pre = nil
		return
	}
	go func() {
		for _, j := range jobs {
			if ctx.Err() == nil {
				if old, err := load(j.pre.src); err == nil {
					j.pre.out, j.pre.err = rebuildGzip(p.Blob, j.args, old)
				}
			}
			close(j.pre.done)
		}
	}()
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
