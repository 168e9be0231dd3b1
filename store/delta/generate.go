package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ulikunitz/xz"

	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/gvariant"
	"arbor/store/index"
	"arbor/store/object"
)

// GenerateOptions are static-delta generate's.
type GenerateOptions struct {
	From, To object.Checksum // From zero: a delta from scratch
	Inline   bool            // parts inside the superblock
	// SwapEndianness writes the superblock's numbers in the other byte
	// order, marked 'B', as ostree's --swap-endianness does to test
	// readers on other machines.
	SwapEndianness bool
	// MinFallbackSize: content objects larger than this are left to be
	// fetched alone (0: none are). MaxChunkSize: a part is closed once
	// its payload passes this.
	MinFallbackSize, MaxChunkSize int64
	// MaxBsdiffSize: a changed file is diffed with bsdiff only while it
	// and its old version together are at most this many bytes (0: no
	// bsdiff).
	MaxBsdiffSize int64
	Now           time.Time
	// Metadata are more entries of the superblock's metadata (a
	// flatpak bundle's ref and metadata).
	Metadata []object.MetaEntry
	// Output, for an inline delta, is the file its superblock is written
	// to (a bundle) rather than the repository's deltas/.
	Output string
	// Signers, when set, sign the superblock (a signed delta, which
	// offline users verify; HTTP pulls do not read it).
	Signers []SuperblockSigner
}

// DefaultGenerateOptions are ostree's defaults, 4 MB fallbacks and 32 MB
// parts, but bsdiff only up to 16 MB where ostree's goes to 128: its
// suffix sort takes about 9 bytes per byte of the old file, and a generation
// stays within 256 MiB.
func DefaultGenerateOptions() GenerateOptions {
	return GenerateOptions{MinFallbackSize: 4e6, MaxChunkSize: 32e6, MaxBsdiffSize: 16e6}
}

// Stats say what a generated delta holds.
type Stats struct {
	Parts, Objects, Fallbacks int
	// Modified is the files at paths both commits have whose content
	// changed; Matched of them are rebuilt from blocks of their old
	// version (MatchedBytes so), Bsdiff of them by a bsdiff patch.
	Modified, Matched, Bsdiff int
	MatchedBytes              int64
	// NewMeta and NewContent are what To reaches and From does not.
	NewMeta, NewContent int
	Bytes               int64 // the delta's size, compressed: what ostree fetches
	// Gzip is the changed .gz files an alt part rebuilds from their
	// texts (alt.go); ArborBytes what arbor fetches of the delta, alt
	// parts for the parts they stand for.
	Gzip         int
	ArborBytes   int64
	Uncompressed int64 // the bytes of the objects its parts make
	PartStats    []PartStat
}

// PartStat is one part's objects and sizes.
type PartStat struct {
	Objects            int
	Size, Uncompressed int64
}

// Generate writes the delta from o.From to o.To into the repository, in
// ostree's format: the objects To reaches and From does not, metadata
// first; a file that changed at a path is rebuilt from its old version
// where most of it is found there (blocks matched by a rolling hash),
// else carried whole; large files are left as fallbacks.
func Generate(ctx context.Context, r *store.Repo, o GenerateOptions) (Ref, Stats, error) {
	d := Ref{From: o.From, To: o.To}
	var st Stats
	commit, err := r.ReadMeta(o.To, object.TypeCommit)
	if err != nil {
		return d, st, err
	}
	if r.IsPartial(o.To) {
		return d, st, fmt.Errorf("commit %s is partial here", o.To)
	}
	have := map[index.Ref]bool{}
	oldAt := map[string]object.Checksum{}
	if !o.From.IsZero() {
		if r.IsPartial(o.From) {
			return d, st, fmt.Errorf("commit %s is partial here", o.From)
		}
		refs, err := r.Reach(ctx, o.From)
		if err != nil {
			return d, st, err
		}
		for _, x := range refs {
			have[x] = true
		}
		if err := paths(ctx, r, o.From, func(p string, c object.Checksum) { oldAt[p] = c }); err != nil {
			return d, st, err
		}
	}
	// What To reaches that From does not, content by path (the first
	// path a checksum has).
	var meta []index.Ref
	newAt := map[object.Checksum]string{}
	var content []object.Checksum
	refs, err := r.Reach(ctx, o.To)
	if err != nil {
		return d, st, err
	}
	for _, x := range refs {
		if have[x] || x.Type == object.TypeCommit || x.Type == object.TypeCommitMeta {
			continue
		}
		if x.Type.IsMeta() {
			meta = append(meta, x)
		} else {
			content = append(content, x.Checksum)
		}
	}
	if err := paths(ctx, r, o.To, func(p string, c object.Checksum) {
		if _, ok := newAt[c]; !ok {
			newAt[c] = p
		}
	}); err != nil {
		return d, st, err
	}
	sort.Slice(meta, func(i, j int) bool { return bytes.Compare(meta[i].Checksum[:], meta[j].Checksum[:]) < 0 })
	// Content by extension then path: like files next to each other
	// compress together.
	sort.Slice(content, func(i, j int) bool {
		a, b := newAt[content[i]], newAt[content[j]]
		if ea, eb := path.Ext(a), path.Ext(b); ea != eb {
			return ea < eb
		}
		return a < b
	})

	g := &generator{ctx: ctx, r: r, o: o, dir: d.Dir()}
	if o.Output == "" {
		// Written aside and put in place whole once its superblock is
		// in: a generation stopped half-way leaves the delta that was
		// there as it was, and one made again has none of its old parts.
		tmp, err := r.MkdirTemp("arbor-delta-")
		if err != nil {
			return d, st, fmt.Errorf("static delta %s: %w", d, err)
		}
		defer os.RemoveAll(filepath.Join(r.Path(), tmp)) // gone once put in place
		g.dir = tmp
	}
	defer g.drain()     // on an early return, the part still compressing
	defer g.writeAlts() // and the alt parts
	for _, m := range meta {
		if err := ctx.Err(); err != nil {
			return d, st, err
		}
		b, err := r.ReadMeta(m.Checksum, m.Type)
		if err != nil {
			return d, st, err
		}
		g.part().splice(ObjectRef{Type: m.Type, Checksum: m.Checksum}, b)
		if err := g.closeIfFull(); err != nil {
			return d, st, err
		}
	}
	actx, stop := context.WithCancel(ctx)
	ahead := g.encodeAhead(actx, content, func(c object.Checksum) (object.Checksum, bool) {
		old, ok := oldAt[newAt[c]]
		return old, ok
	}, func(c object.Checksum) bool { return path.Ext(newAt[c]) == ".gz" })
	defer ahead.stop()
	defer stop()
	for _, c := range content {
		if err := ctx.Err(); err != nil {
			return d, st, err
		}
		ref := ObjectRef{Type: object.TypeFile, Checksum: c}
		if p := ahead.wait(actx, c); p != nil {
			if p.err != nil {
				return d, st, p.err
			}
			if p.modified {
				st.Modified++
			}
			var b *partBuilder
			if p.gz != nil {
				// In a part of its own for ostree, and in that part's alt
				// part rebuilt from its text.
				b = g.gzPart()
				g.gz.alt.gzip(ref, &p.h, p.old, p.gz, len(p.data))
				st.Gzip++
			} else {
				b = g.part() // (made only when used: an empty one would be written)
			}
			switch p.e.how {
			case byBlocks:
				b.rebuild(ref, &p.h, p.old, p.data, p.e.matches)
				st.Matched++
				st.MatchedBytes += int64(matchedBytes(p.e.matches))
			case byBsdiff:
				b.bspatch(ref, &p.h, p.old, p.e.patch, len(p.data))
				st.Bsdiff++
			default:
				b.spliceContent(ref, &p.h, p.data)
			}
			ahead.done(p)
			if err := g.closeIfFull(); err != nil {
				return d, st, err
			}
			continue
		} else if err := actx.Err(); err != nil {
			return d, st, err
		}
		// Weighed by its header first: opening an archive's object
		// inflates it, and a fallback's bytes are never read.
		if o.MinFallbackSize > 0 {
			_, usize, err := r.StatContent(c)
			if err != nil {
				return d, st, err
			}
			if int64(usize) > o.MinFallbackSize {
				size := int64(usize) // compressed, in an archive repository's .filez
				if r.Mode() == store.ModeArchive {
					if fi, err := os.Lstat(r.ObjectPath(c, object.TypeFile)); err == nil {
						size = fi.Size()
					}
				}
				g.fallbacks = append(g.fallbacks, Fallback{ObjectRef: ref, Size: uint64(size), Uncompressed: usize})
				continue
			}
		}
		ct, err := r.OpenContent(c)
		if err != nil {
			return d, st, err
		}
		// Carried whole: read straight into the part.
		err = g.part().spliceFrom(ref, &ct.Header, ct, ct.Size)
		ct.Close()
		if err != nil {
			return d, st, fmt.Errorf("reading %s: %w", object.Name(c, object.TypeFile), err)
		}
		if err := g.closeIfFull(); err != nil {
			return d, st, err
		}
	}
	if g.parts == 0 {
		g.part() // as ostree's: one part, empty if nothing changed
	}
	if err := g.closePart(); err != nil {
		return d, st, err
	}
	if err := g.closeGzPart(); err != nil {
		return d, st, err
	}
	if err := g.drain(); err != nil {
		return d, st, err
	}
	if err := g.writeAlts(); err != nil {
		return d, st, err
	}
	sb, err := g.superblock(commit)
	if err != nil {
		return d, st, err
	}
	if len(o.Signers) > 0 {
		if sb, err = SignSuperblock(sb, o.Signers); err != nil {
			return d, st, err
		}
	}
	// The superblock last: a delta is there once it is.
	if o.Output != "" {
		if err := atomic.WriteFile(o.Output, sb, 0o644, true); err != nil {
			return d, st, err
		}
	} else if err := r.WriteFile(filepath.Join(g.dir, "superblock"), sb); err != nil {
		return d, st, err
	} else if err := r.PutDir(g.dir, d.Dir()); err != nil {
		return d, st, fmt.Errorf("static delta %s: %w", d, err)
	}
	st.Bytes = g.bytes + int64(len(sb))
	if o.Inline {
		st.Bytes = int64(len(sb))
	}
	st.ArborBytes = st.Bytes
	for _, a := range g.altParts {
		st.ArborBytes += int64(a.Size) - int64(g.headers[a.Part].Size)
	}
	st.Parts, st.Fallbacks = len(g.headers), len(g.fallbacks)
	st.NewMeta, st.NewContent = len(meta), len(content)
	for _, h := range g.headers {
		st.Objects += len(h.Objects)
		st.Uncompressed += int64(h.Uncompressed)
		st.PartStats = append(st.PartStats, PartStat{Objects: len(h.Objects), Size: int64(h.Size), Uncompressed: int64(h.Uncompressed)})
	}
	return d, st, nil
}

// paths calls fn for each file of a commit with its path.
func paths(ctx context.Context, r *store.Repo, commit object.Checksum, fn func(string, object.Checksum)) error {
	root, err := r.RootNode(commit)
	if err != nil {
		return err
	}
	return r.Walk(ctx, commit, root, func(n store.Node) error {
		if !n.IsDir {
			fn(n.Path, n.File)
		}
		return nil
	})
}

type generator struct {
	ctx       context.Context // the generation's: its end stops a part's encoders
	r         *store.Repo
	o         GenerateOptions
	dir       string // where parts are written as they close: under tmp/ until the delta is put in place
	cur       *partBuilder
	headers   []PartHeader
	inline    [][]byte // the part files, kept only for an inline delta
	fallbacks []Fallback
	bytes     int64
	spare     []byte // a closed part's blob, for the next
	parts     int    // parts closed so far
	closing   *closing
	slots     chan struct{} // held by each encoder running
	gz        *gzParts      // the .gz files' part being built and its alt part
	alts      []*builtAlt   // alt parts being compressed, then written as altParts
	altParts  []AltPart
}

func (g *generator) part() *partBuilder {
	if g.cur == nil {
		g.cur = newPartBuilder(g.spare)
		g.spare = nil
	}
	return g.cur
}

func newPartBuilder(blob []byte) *partBuilder {
	return &partBuilder{modes: map[[3]uint32]int{}, xattrs: map[string]int{}, sources: map[object.Checksum]int{}, blob: blob}
}

func (g *generator) closeIfFull() error {
	if g.full(g.cur) {
		return g.closePart()
	}
	// The alt part's patches are about the size of the texts (mostly
	// zeros, which xz takes away), larger than the files: either full
	// closes both.
	if g.gz != nil && (g.full(g.gz.part) || g.full(g.gz.alt)) {
		return g.closeGzPart()
	}
	return nil
}

func (g *generator) full(p *partBuilder) bool {
	return p != nil && g.o.MaxChunkSize > 0 && int64(len(p.blob)+len(p.ops)) > g.o.MaxChunkSize
}

// closing is a part being compressed and written behind the next one's
// building.
type closing struct {
	done chan struct{}
	f    []byte
	h    PartHeader
	blob []byte
	err  error
}

// closePart compresses the part being built and writes it (or keeps it,
// for an inline delta) in the background, once the part before it is
// done: so the next part is read while this one compresses, and the
// encoders of two parts can overlap, with no more than two parts'
// payloads in memory.
func (g *generator) closePart() error {
	p := g.cur
	g.cur = nil
	_, err := g.close(p)
	return err
}

// close is closePart of p, which takes the next part's index (returned).
func (g *generator) close(p *partBuilder) (int, error) {
	if p == nil {
		return -1, nil
	}
	if g.slots == nil {
		// Encoders at once, whatever the processors: the memory bound.
		g.slots = make(chan struct{}, min(2, max(1, runtime.GOMAXPROCS(0))))
	}
	c, i := &closing{done: make(chan struct{})}, g.parts
	g.parts++
	go func() {
		defer close(c.done)
		c.f, c.h, c.err = p.compress(g.ctx, g.slots)
		if c.err == nil && !g.o.Inline {
			c.err = g.writePart(strconv.Itoa(i), c.f)
		}
		c.blob = p.blob[:0]
	}()
	prev := g.closing
	g.closing = c
	return i, g.finish(prev)
}

// drain waits for the part still being closed.
func (g *generator) drain() error {
	c := g.closing
	g.closing = nil
	return g.finish(c)
}

// finish waits for c and takes its header, in the parts' order.
func (g *generator) finish(c *closing) error {
	if c == nil {
		return nil
	}
	<-c.done
	if c.err != nil {
		return c.err
	}
	g.spare = c.blob // the next part's, grown once to a part's size
	if g.o.Inline {
		g.inline = append(g.inline, c.f)
	}
	g.headers = append(g.headers, c.h)
	g.bytes += int64(len(c.f))
	return nil
}

// readWhole reads the size bytes an object holds into a slice made to
// measure: growing one as it is read leaves twice the file behind.
func readWhole(r io.Reader, size uint64) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

type encoding int

const (
	whole encoding = iota
	byBlocks
	byBsdiff
)

// encoded is how a changed file goes into the delta.
type encoded struct {
	how     encoding
	matches []match
	patch   []byte
}

// encode chooses how a changed file is carried. Blocks of the old
// version found by the rolling hash, where they cover at least half of
// it: cheap to find and to apply. bsdiff where they do not, and for
// ELF files, whose rebuilds shift addresses all through the code, so
// that a block matcher finds pieces where bsdiff finds nearly all
// (its patch is taken there unless the blocks leave less behind).
// Whole where neither saves half.
func (g *generator) encode(old, data []byte) encoded {
	ms := matchBlocks(old, data)
	matched := matchedBytes(ms)
	blocks := matched >= len(data)/2
	elf := bytes.HasPrefix(old, []byte("\x7fELF")) || bytes.HasPrefix(data, []byte("\x7fELF"))
	if g.bsdiffs(int64(len(old)), int64(len(data))) && (elf || !blocks) {
		patch, residue := Bsdiff(old, data)
		if blocks && residue <= len(data)-matched+blockSize || !blocks && residue <= len(data)/2 {
			return encoded{how: byBsdiff, patch: patch}
		}
	}
	if blocks {
		return encoded{how: byBlocks, matches: ms}
	}
	return encoded{how: whole}
}

// bsdiffs says whether a file of n bytes may be diffed with bsdiff
// against an old version of m.
func (g *generator) bsdiffs(m, n int64) bool {
	return g.o.MaxBsdiffSize > 0 && m > 0 && m+n <= g.o.MaxBsdiffSize
}

// partBuilder is a part being written: its tables, blob and program.
type partBuilder struct {
	modes     map[[3]uint32]int
	modeList  [][3]uint32
	xattrs    map[string]int
	xattrList [][]object.Xattr
	sources   map[object.Checksum]int // blob offsets of source checksums
	blob, ops []byte
	objects   []ObjectRef
	// usize is the bytes of the objects the part makes, which ostree
	// gives as its uncompressed size (a rebuilt file counts whole).
	usize uint64
}

func (p *partBuilder) op(code byte, args ...uint64) {
	p.ops = append(p.ops, code)
	for _, a := range args {
		p.ops = binary.AppendUvarint(p.ops, a)
	}
}

func (p *partBuilder) add(data []byte) uint64 {
	off := uint64(len(p.blob))
	p.blob = append(p.blob, data...)
	return off
}

func (p *partBuilder) modeIndex(h *object.FileHeader) (uint64, uint64) {
	m := [3]uint32{h.UID, h.GID, h.Mode}
	mi, ok := p.modes[m]
	if !ok {
		mi = len(p.modeList)
		p.modes[m] = mi
		p.modeList = append(p.modeList, m)
	}
	var key bytes.Buffer
	for _, x := range h.Xattrs {
		key.WriteString(x.Name)
		key.WriteByte(0)
		key.WriteString(strconv.Itoa(len(x.Value)))
		key.WriteByte(0)
		key.Write(x.Value)
	}
	xi, ok := p.xattrs[key.String()]
	if !ok {
		xi = len(p.xattrList)
		p.xattrs[key.String()] = xi
		p.xattrList = append(p.xattrList, h.Xattrs)
	}
	return uint64(mi), uint64(xi)
}

func (p *partBuilder) splice(ref ObjectRef, data []byte) {
	off := p.add(data)
	p.op(opOpenSpliceAndClose, uint64(len(data)), off)
	p.objects = append(p.objects, ref)
	p.usize += uint64(len(data))
}

func (p *partBuilder) spliceContent(ref ObjectRef, h *object.FileHeader, data []byte) {
	mi, xi := p.modeIndex(h)
	off := p.add(data)
	p.op(opOpenSpliceAndClose, mi, xi, uint64(len(data)), off)
	p.objects = append(p.objects, ref)
	p.usize += uint64(len(data))
}

// spliceFrom is spliceContent of the size bytes r holds (a symlink's
// target for one), read into the blob where they go.
func (p *partBuilder) spliceFrom(ref ObjectRef, h *object.FileHeader, r io.Reader, size uint64) error {
	if h.IsSymlink() {
		p.spliceContent(ref, h, []byte(h.Target))
		return nil
	}
	off := len(p.blob)
	p.blob = slices.Grow(p.blob, int(size))[:off+int(size)]
	if _, err := io.ReadFull(r, p.blob[off:]); err != nil {
		p.blob = p.blob[:off]
		return err
	}
	mi, xi := p.modeIndex(h)
	p.op(opOpenSpliceAndClose, mi, xi, size, uint64(off))
	p.objects = append(p.objects, ref)
	p.usize += size
	return nil
}

// source is where the part's blob holds a source checksum, added once.
func (p *partBuilder) source(old object.Checksum) int {
	src, ok := p.sources[old]
	if !ok {
		src = int(p.add(old[:]))
		p.sources[old] = src
	}
	return src
}

// rebuild writes data from the old object's blocks that match and the
// blob for the rest.
func (p *partBuilder) rebuild(ref ObjectRef, h *object.FileHeader, old object.Checksum, data []byte, ms []match) {
	mi, xi := p.modeIndex(h)
	src := p.source(old)
	p.op(opOpen, mi, xi, uint64(len(data)))
	pos := 0
	for _, m := range ms {
		if m.newOff > pos {
			p.op(opWrite, uint64(m.newOff-pos), p.add(data[pos:m.newOff]))
		}
		p.op(opSetReadSource, uint64(src))
		p.op(opWrite, uint64(m.n), uint64(m.oldOff))
		p.op(opUnsetReadSource)
		pos = m.newOff + m.n
	}
	if pos < len(data) {
		p.op(opWrite, uint64(len(data)-pos), p.add(data[pos:]))
	}
	p.op(opClose)
	p.objects = append(p.objects, ref)
	p.usize += uint64(len(data))
}

// bspatch writes data as its old object patched.
func (p *partBuilder) bspatch(ref ObjectRef, h *object.FileHeader, old object.Checksum, patch []byte, size int) {
	mi, xi := p.modeIndex(h)
	p.op(opOpen, mi, xi, uint64(size))
	p.op(opSetReadSource, uint64(p.source(old)))
	p.op(opBspatch, p.add(patch), uint64(len(patch)))
	p.op(opUnsetReadSource)
	p.op(opClose)
	p.objects = append(p.objects, ref)
	p.usize += uint64(size)
}

// payload is the part's (a(uuu)aa(ayay)ayay), its modes big-endian, in
// three pieces: the tables, the blob, and the program with the framing
// offsets. The blob is the part's bulk and is not copied.
func (p *partBuilder) payload() ([3][]byte, error) {
	var out [3][]byte
	modes := make([]any, len(p.modeList))
	for i, m := range p.modeList {
		modes[i] = []any{bits.ReverseBytes32(m[0]), bits.ReverseBytes32(m[1]), bits.ReverseBytes32(m[2])}
	}
	xs := make([]any, len(p.xattrList))
	for i, l := range p.xattrList {
		items := make([]any, len(l))
		for j, x := range l {
			items[j] = []any{append([]byte(x.Name), 0), x.Value}
		}
		xs[i] = items
	}
	// Every field after the first is aligned to 1, so the fields follow
	// one another unpadded, and the tuple's offsets (the ends of the
	// first three, last first) close it.
	head, err := gvariant.Encode(partType.Fields[0], modes)
	if err != nil {
		return out, err
	}
	xb, err := gvariant.Encode(partType.Fields[1], xs)
	if err != nil {
		return out, err
	}
	end0 := len(head)
	head = append(head, xb...)
	end1, end2 := len(head), len(head)+len(p.blob)
	end3 := end2 + len(p.ops)
	w := gvariant.TableWidth(end3, 3)
	tail := append(make([]byte, 0, len(p.ops)+3*w), p.ops...)
	for _, o := range []int{end2, end1, end0} {
		tail = gvariant.AppendOffset(tail, o, w)
	}
	return [3][]byte{head, p.blob, tail}, nil
}

// primedWindow is the window of a part compressed by two encoders: two
// of preset 6's 8 MiB would not fit 256 MiB beside the parts.
const primedWindow = 4 << 20

// compress makes the part's file ('x' and an xz stream) and header.
// Each encoder holds one of slots while it runs.
func (p *partBuilder) compress(ctx context.Context, slots chan struct{}) ([]byte, PartHeader, error) {
	pl, err := p.payload()
	if err != nil {
		return nil, PartHeader{}, err
	}
	var z bytes.Buffer
	z.WriteByte('x')
	if c, ok := xzPrimed(ctx, pl, primedWindow, slots); ok {
		z.Write(c)
	} else if err := ctx.Err(); err != nil {
		return nil, PartHeader{}, err
	} else if c, ok := held(slots, func() ([]byte, bool) { return xzWhole(ctx, pl, runtime.GOMAXPROCS(0)) }); ok {
		z.Write(c)
	} else if err := ctx.Err(); err != nil {
		return nil, PartHeader{}, err
	} else {
		n := len(pl[0]) + len(pl[1]) + len(pl[2])
		w, err := xz.WriterConfig{DictCap: max(min(n, 64<<20), 1<<12)}.NewWriter(&z)
		if err != nil {
			return nil, PartHeader{}, err
		}
		for _, b := range pl {
			if _, err := w.Write(b); err != nil {
				return nil, PartHeader{}, err
			}
		}
		if err := w.Close(); err != nil {
			return nil, PartHeader{}, err
		}
	}
	f := z.Bytes()
	return f, PartHeader{Checksum: sha256.Sum256(f), Size: uint64(len(f)),
		Uncompressed: p.usize, Objects: p.objects}, nil
}

// held runs fn holding one of slots.
func held[T any](slots chan struct{}, fn func() (T, bool)) (T, bool) {
	slots <- struct{}{}
	defer func() { <-slots }()
	return fn()
}

// superblock encodes the superblock, little-endian as ostree's on this
// kind of machine, with the parts inline when asked and the commit's
// detached metadata when it has some.
func (g *generator) superblock(commit []byte) ([]byte, error) {
	headers := g.headers
	d := Ref{From: g.o.From, To: g.o.To}
	order := uint8('l')
	u32, u64 := func(x uint32) uint32 { return x }, func(x uint64) uint64 { return x }
	if g.o.SwapEndianness {
		order, u32, u64 = 'B', bits.ReverseBytes32, bits.ReverseBytes64
	}
	var md []any
	for _, e := range g.o.Metadata {
		md = append(md, []any{e.Key, e.Value})
	}
	md = append(md, []any{"ostree.endianness", gvariant.Variant{Type: gvariant.MustType("y"), Value: order}})
	if len(g.altParts) > 0 {
		alts := make([]any, len(g.altParts))
		for i, a := range g.altParts {
			alts[i] = []any{u32(uint32(a.Part)), a.Checksum[:], u64(a.Size), u64(a.Uncompressed)}
		}
		md = append(md, []any{altPartsKey, gvariant.Variant{Type: altPartsType, Value: alts}})
	}
	if g.o.Inline {
		for i, f := range g.inline {
			md = append(md, []any{fmt.Sprintf("%s/%d", d.Dir(), i), gvariant.Variant{Type: gvariant.MustType("(yay)"), Value: []any{f[0], f[1:]}}})
		}
	}
	if b, err := g.r.ReadMeta(g.o.To, object.TypeCommitMeta); err == nil {
		v, err := gvariant.Decode(gvariant.MustType("a{sv}"), b)
		if err != nil {
			return nil, err
		}
		md = append(md, []any{d.Dir() + "/commitmeta", gvariant.Variant{Type: gvariant.MustType("a{sv}"), Value: v}})
	}
	cv, err := gvariant.Decode(commitType, commit)
	if err != nil {
		return nil, err
	}
	from := []byte{}
	if !g.o.From.IsZero() {
		from = g.o.From[:]
	}
	parts := make([]any, len(headers))
	for i, h := range headers {
		objs := make([]byte, 0, 33*len(h.Objects))
		for _, o := range h.Objects {
			objs = append(objs, byte(o.Type))
			objs = append(objs, o.Checksum[:]...)
		}
		parts[i] = []any{u32(0), h.Checksum[:], u64(h.Size), u64(h.Uncompressed), objs}
	}
	fbs := make([]any, len(g.fallbacks))
	for i, f := range g.fallbacks {
		fbs[i] = []any{uint8(f.Type), f.Checksum[:], u64(f.Size), u64(f.Uncompressed)}
	}
	now := g.o.Now
	if now.IsZero() {
		now = time.Now()
	}
	return gvariant.Encode(superblockType, []any{md, bits.ReverseBytes64(uint64(now.Unix())), from, g.o.To[:], cv, []byte{}, parts, fbs})
}

// GenerateForRefs makes, for each ref's commit, the delta from scratch
// and the delta from its parent (where the parent is here), unless they
// exist: what flatpak build-update-repo --generate-static-deltas makes.
// It returns the deltas it wrote.
func GenerateForRefs(ctx context.Context, r *store.Repo, refs map[string]object.Checksum) ([]Ref, error) {
	var made []Ref
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := refs[n]
		cm, err := r.ReadCommit(c)
		if err != nil {
			return made, fmt.Errorf("ref %s: %w", n, err)
		}
		want := []Ref{{To: c}}
		if !cm.Parent.IsZero() {
			if has, _ := r.HasObject(cm.Parent, object.TypeCommit); has && !r.IsPartial(cm.Parent) {
				want = append(want, Ref{From: cm.Parent, To: c})
			}
		}
		for _, d := range want {
			if d.Exists(r.Path()) {
				continue
			}
			o := DefaultGenerateOptions()
			o.From, o.To = d.From, d.To
			if _, _, err := Generate(ctx, r, o); err != nil {
				return made, fmt.Errorf("ref %s: static delta %s: %w", n, d, err)
			}
			made = append(made, d)
		}
	}
	return made, nil
}
