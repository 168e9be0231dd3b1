package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"arbor/store/gvariant"
	"arbor/store/object"
)

// Part is a decoded part: its tables, blob and program.
type Part struct {
	Modes  [][3]uint32 // uid, gid, mode
	Xattrs [][]object.Xattr
	Blob   []byte
	Ops    []byte
	alt    bool // an alt part, whose program may gzip (alt.go)
	// pre are its gzip ops' files made ahead, by the offset of their
	// operands (Prebuild).
	pre map[int]*prebuilt
}

// OpenPart checks a part file against its header (unless inline, when
// the superblock that carries it was checked), decompresses it, reading
// exactly what its xz index declares and no more than its header allows
// (see xzSize), and decodes it.
func OpenPart(h PartHeader, file []byte, inline bool) (*Part, error) {
	return openPart(h, file, inline, nil)
}

// openPart is OpenPart given what decoding the file's xz stream
// made while it arrived (xzproc; nil for none): taken, once the file is
// checked, when it is of the size the stream's index declares, else the
// stream is decoded here.
func openPart(h PartHeader, file []byte, inline bool, decoded []byte) (*Part, error) {
	if !inline {
		if uint64(len(file)) != h.Size {
			return nil, fmt.Errorf("%w: the part is %d bytes, not the %d its superblock says", ErrCorrupt, len(file), h.Size)
		}
		if sha256.Sum256(file) != h.Checksum {
			return nil, fmt.Errorf("%w: the part's checksum is not its superblock's", ErrCorrupt)
		}
	}
	if len(file) == 0 {
		return nil, fmt.Errorf("%w: an empty part", ErrCorrupt)
	}
	var payload []byte
	switch file[0] {
	case 0:
		payload = file[1:]
	case 'x':
		// The xz index's size, exact and checked by the decoder, bounds
		// the buffer and the reading; the header's estimate bounds it.
		exact, err := xzSize(file[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: xz: %v", ErrCorrupt, err)
		}
		if err := checkPayloadSize(h, exact); err != nil {
			return nil, err
		}
		if decoded != nil && uint64(len(decoded)) == exact {
			payload = decoded
			break
		}
		payload = make([]byte, exact)
		if ok, err := unxzWhole(file[1:], payload); ok {
			if err != nil {
				return nil, fmt.Errorf("%w: xz: %v", ErrCorrupt, err)
			}
			break
		}
		// The window a stream needs is never more than what it makes:
		// that size is the cap, not a fixed number (a fixed cap once
		// refused valid deltas made with a large dictionary).
		r, err := xz.ReaderConfig{SingleStream: true, DictCap: int(max(min(exact, lzma.MaxDictCap), lzma.MinDictCap))}.NewReader(bytes.NewReader(file[1:]))
		if err != nil {
			return nil, fmt.Errorf("%w: xz: %v", ErrCorrupt, err)
		}
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, fmt.Errorf("%w: xz: shorter than the %d bytes its index says: %v", ErrCorrupt, exact, err)
		}
		var one [1]byte
		if n, err := r.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: xz: not the %d bytes its index says: %v", ErrCorrupt, exact, err)
		}
	default:
		return nil, fmt.Errorf("%w: compression %q", ErrCorrupt, file[0])
	}
	if err := checkPayloadSize(h, uint64(len(payload))); err != nil {
		return nil, err
	}
	f, err := splitPart(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	modes, err := gvariant.Decode(partType.Fields[0], f[0])
	if err != nil {
		return nil, fmt.Errorf("%w: payload's modes: %v", ErrCorrupt, err)
	}
	xattrs, err := gvariant.Decode(partType.Fields[1], f[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload's xattrs: %v", ErrCorrupt, err)
	}
	p := &Part{Blob: f[2], Ops: f[3]}
	for _, m := range modes.([]any) {
		mf := m.([]any)
		// Stored big-endian, as in dirmeta.
		be := func(x any) uint32 { return bits.ReverseBytes32(x.(uint32)) }
		p.Modes = append(p.Modes, [3]uint32{be(mf[0]), be(mf[1]), be(mf[2])})
	}
	for _, x := range xattrs.([]any) {
		xs, err := object.XattrsFrom(x)
		if err != nil {
			return nil, fmt.Errorf("%w: xattrs: %v", ErrCorrupt, err)
		}
		p.Xattrs = append(p.Xattrs, xs)
	}
	return p, nil
}

// splitPart cuts a part's payload, (a(uuu)aa(ayay)ayay), into its four
// fields by its framing offsets. The blob and the ops, nearly all of it,
// are any bytes and taken as they lie, uncopied; the two small arrays
// are for gvariant.Decode, which checks their normal form. Decoding the
// whole tuple would copy the blob and encode it again to compare.
func splitPart(d []byte) ([4][]byte, error) {
	var f [4][]byte
	w := gvariant.OffsetWidth(len(d))
	if w == 0 || 3*w > len(d) {
		return f, errors.New("too short for its framing offsets")
	}
	if gvariant.TableWidth(len(d)-3*w, 3) != w {
		return f, gvariant.ErrNotNormal // offsets wider than they need be
	}
	frame := uint64(len(d) - 3*w)
	end := func(k int) uint64 { return gvariant.ReadOffset(d[len(d)-(k+1)*w : len(d)-k*w]) }
	e0, e1, e2 := end(0), end(1), end(2)
	if e0 > e1 || e1 > e2 || e2 > frame {
		return f, errors.New("bad framing offsets")
	}
	f[0], f[1], f[2], f[3] = d[:e0], d[e0:e1], d[e1:e2], d[e2:frame]
	return f, nil
}

// Sink receives what a part writes, each object checked against its
// checksum before it is handed over.
type Sink interface {
	// Has says whether the object is stored already; it is then not
	// written again.
	Has(ref ObjectRef) (bool, error)
	Meta(ref ObjectRef, data []byte) error
	Content(c object.Checksum, h *object.FileHeader, data []byte) error
	// SourceData is the file data of a content object stored already,
	// which the part's read-source ops copy from. An error wrapping
	// ErrSourceMissing leaves out the objects made from it.
	SourceData(c object.Checksum) ([]byte, error)
}

// ErrSourceMissing, from a Sink's SourceData, says a read source is not
// stored, as in a commit mounted lazily and never read whole: the
// objects made from it are left out, for a pull's walk to fetch.
var ErrSourceMissing = errors.New("the delta's read source is not stored")

const (
	opOpenSpliceAndClose = 'S'
	opOpen               = 'o'
	opWrite              = 'w'
	opSetReadSource      = 'r'
	opUnsetReadSource    = 'R'
	opClose              = 'c'
	opBspatch            = 'B'
)

// Apply runs the part's program, writing its objects (in h.Objects'
// order) to sink. An object the program makes whose bytes do not have
// its checksum fails the part with the object named; the sink keeps
// none of it.
func (p *Part) Apply(h PartHeader, sink Sink) error {
	e := &executor{p: p, objs: h.Objects, sink: sink}
	return e.run()
}

type executor struct {
	p    *Part
	objs []ObjectRef
	sink Sink
	pc   int
	next int // the object the next open takes

	// The object being written.
	cur    *ObjectRef
	skip   bool
	header *object.FileHeader
	size   uint64
	buf    []byte
	// The read source: a stored object's checksum, and its data once an
	// op of an object not stored yet reads it (one skipped loads none).
	srcSum *object.Checksum
	src    []byte
}

// source is the read source's data, loaded on first use.
func (e *executor) source() ([]byte, error) {
	if e.src == nil && e.srcSum != nil {
		b, err := e.sink.SourceData(*e.srcSum)
		if errors.Is(err, ErrSourceMissing) {
			e.skip = true // the object being built is left out
			return nil, nil
		}
		if err != nil {
			return nil, e.fail("its source %s: %v", *e.srcSum, err)
		}
		e.src = b
	}
	return e.src, nil
}

func (e *executor) fail(format string, a ...any) error {
	what := ""
	if e.cur != nil {
		what = " (writing " + object.Name(e.cur.Checksum, e.cur.Type) + ")"
	} else if e.next < len(e.objs) {
		what = " (before " + object.Name(e.objs[e.next].Checksum, e.objs[e.next].Type) + ")"
	}
	return fmt.Errorf("%w: op %d%s: %s", ErrCorrupt, e.pc, what, fmt.Sprintf(format, a...))
}

func (e *executor) varint() (uint64, error) {
	v, n := binary.Uvarint(e.p.Ops[e.pc:])
	if n <= 0 {
		return 0, e.fail("a truncated number")
	}
	e.pc += n
	return v, nil
}

// varints reads n numbers.
func (e *executor) varints(n int) ([]uint64, error) {
	out := make([]uint64, n)
	for i := range out {
		v, err := e.varint()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// blob is blob[off:off+n], refused out of bounds.
func (e *executor) blob(off, n uint64) ([]byte, error) {
	if off > uint64(len(e.p.Blob)) || n > uint64(len(e.p.Blob))-off {
		return nil, e.fail("%d bytes at %d are past the blob's %d", n, off, len(e.p.Blob))
	}
	return e.p.Blob[off : off+n], nil
}

func (e *executor) run() error {
	for e.pc < len(e.p.Ops) {
		op := e.p.Ops[e.pc]
		e.pc++
		var err error
		switch op {
		case opOpenSpliceAndClose:
			err = e.spliceAndClose()
		case opOpen:
			err = e.open()
		case opWrite:
			err = e.write()
		case opSetReadSource:
			err = e.setReadSource()
		case opUnsetReadSource:
			e.srcSum, e.src = nil, nil
		case opClose:
			err = e.close()
		case opBspatch:
			err = e.bspatch()
		case opGzip:
			if !e.p.alt {
				err = e.fail("unknown op %q", op) // ostree's parts have none
				break
			}
			err = e.gzipOp()
		default:
			err = e.fail("unknown op %q", op)
		}
		if err != nil {
			return err
		}
	}
	if e.cur != nil {
		return e.fail("the program ends with an object open")
	}
	if e.next != len(e.objs) {
		return e.fail("the program wrote %d of the part's %d objects", e.next, len(e.objs))
	}
	return nil
}

// take opens the next object of the part's list.
func (e *executor) take() error {
	if e.cur != nil {
		return e.fail("an object is open already")
	}
	if e.next >= len(e.objs) {
		return e.fail("more objects than the part lists")
	}
	e.cur = &e.objs[e.next]
	e.next++
	has, err := e.sink.Has(*e.cur)
	if err != nil {
		return err
	}
	e.skip = has
	return nil
}

func (e *executor) fileHeader(modeIdx, xattrIdx uint64) (*object.FileHeader, error) {
	if modeIdx >= uint64(len(e.p.Modes)) || xattrIdx >= uint64(len(e.p.Xattrs)) {
		return nil, e.fail("mode %d or xattrs %d past the tables", modeIdx, xattrIdx)
	}
	m := e.p.Modes[modeIdx]
	return &object.FileHeader{UID: m[0], GID: m[1], Mode: m[2], Xattrs: e.p.Xattrs[xattrIdx]}, nil
}

func (e *executor) spliceAndClose() error {
	if err := e.take(); err != nil {
		return err
	}
	if e.cur.Type.IsMeta() {
		n, err := e.varints(2) // size, offset
		if err != nil {
			return err
		}
		if e.buf, err = e.blob(n[1], n[0]); err != nil {
			return err
		}
		return e.finish()
	}
	n, err := e.varints(4) // mode, xattrs, size, offset
	if err != nil {
		return err
	}
	h, err := e.fileHeader(n[0], n[1])
	if err != nil {
		return err
	}
	data, err := e.blob(n[3], n[2])
	if err != nil {
		return err
	}
	e.header, e.buf = h, data
	return e.finish()
}

func (e *executor) open() error {
	if err := e.take(); err != nil {
		return err
	}
	if e.cur.Type != object.TypeFile {
		return e.fail("open of a %s", e.cur.Type)
	}
	n, err := e.varints(3) // mode, xattrs, size
	if err != nil {
		return err
	}
	h, err := e.fileHeader(n[0], n[1])
	if err != nil {
		return err
	}
	// The object's size is the part's to declare, but never past what
	// the part could hold: its blob and sources bound it in practice, a
	// stated size far beyond the part's payload is a lie.
	if n[2] > 1<<40 {
		return e.fail("an object of %d bytes", n[2])
	}
	e.header, e.size, e.buf = h, n[2], make([]byte, 0, min(n[2], 64<<20))
	return nil
}

func (e *executor) write() error {
	n, err := e.varints(2)
	if err != nil {
		return err
	}
	size, off := n[0], n[1]
	if e.cur == nil || e.header == nil {
		return e.fail("a write with no object open")
	}
	if e.skip {
		return nil // stored already: nothing to build
	}
	var data []byte
	if e.srcSum != nil {
		if _, err := e.source(); err != nil || e.skip {
			return err
		}
		if off > uint64(len(e.src)) || size > uint64(len(e.src))-off {
			return e.fail("%d bytes at %d are past the source's %d", size, off, len(e.src))
		}
		data = e.src[off : off+size]
	} else if data, err = e.blob(off, size); err != nil {
		return err
	}
	if uint64(len(e.buf))+size > e.size {
		return e.fail("writes past the object's %d bytes", e.size)
	}
	e.buf = append(e.buf, data...)
	return nil
}

func (e *executor) setReadSource() error {
	off, err := e.varint()
	if err != nil {
		return err
	}
	b, err := e.blob(off, 32)
	if err != nil {
		return err
	}
	var c object.Checksum
	copy(c[:], b)
	e.srcSum, e.src = &c, nil
	return nil
}

func (e *executor) bspatch() error {
	args, err := e.varints(2)
	if err != nil {
		return err
	}
	off, n := args[0], args[1]
	if e.cur == nil || e.header == nil || e.srcSum == nil {
		return e.fail("bspatch without an open object and a source")
	}
	patch, err := e.blob(off, n)
	if err != nil || e.skip {
		return err
	}
	old, err := e.source()
	if err != nil || e.skip {
		return err
	}
	out, err := Bspatch(old, patch, e.size)
	if err != nil {
		return e.fail("bspatch: %v", err)
	}
	e.buf = append(e.buf[:0], out...)
	return nil
}

func (e *executor) close() error {
	if e.cur == nil {
		return e.fail("close with no object open")
	}
	if e.header != nil && !e.skip && uint64(len(e.buf)) != e.size {
		return e.fail("%d of the object's %d bytes written", len(e.buf), e.size)
	}
	return e.finish()
}

// finish hands the object over, unless it is stored already, and
// closes it.
func (e *executor) finish() error {
	ref, h, data, skip := *e.cur, e.header, e.buf, e.skip
	e.cur, e.header, e.buf, e.size, e.skip, e.srcSum, e.src = nil, nil, nil, 0, false, nil, nil
	if skip {
		return nil
	}
	if ref.Type.IsMeta() {
		if object.Checksum(sha256.Sum256(data)) != ref.Checksum {
			return fmt.Errorf("%w: %s: the part's bytes have another checksum", ErrCorrupt, object.Name(ref.Checksum, ref.Type))
		}
		return e.sink.Meta(ref, data)
	}
	if h.IsSymlink() {
		h.Target, data = string(data), nil
	}
	if object.ContentChecksum(h, data) != ref.Checksum {
		return fmt.Errorf("%w: %s: the part's object has another checksum", ErrCorrupt, object.Name(ref.Checksum, ref.Type))
	}
	return e.sink.Content(ref.Checksum, h, data)
}

// OpCounts counts the part's ops by kind, in ostree's names, reading
// their operands without running them.
func (p *Part) OpCounts(h PartHeader) (map[string]int, error) {
	names := map[byte]string{opOpenSpliceAndClose: "openspliceclose", opOpen: "open", opWrite: "write", opSetReadSource: "setread",
		opUnsetReadSource: "unsetread", opClose: "close", opBspatch: "bspatch", opGzip: "gzip"}
	out := map[string]int{}
	err := p.walkOps(h, func(op byte, _ int, _ []uint64) { out[names[op]]++ })
	return out, err
}

// walkOps reads the part's program without running it, calling fn with
// each op, the offset of its operands and the operands; an op it does
// not know (the gzip op outside an alt part) or a truncated operand is
// an error, as in a run.
func (p *Part) walkOps(h PartHeader, fn func(op byte, at int, args []uint64)) error {
	operands := map[byte]int{opOpen: 3, opWrite: 2, opSetReadSource: 1, opBspatch: 2, opUnsetReadSource: 0, opClose: 0}
	if p.alt {
		operands[opGzip] = 7
	}
	e := &executor{p: p}
	next := 0
	for e.pc < len(p.Ops) {
		op := p.Ops[e.pc]
		e.pc++
		n, ok := operands[op]
		switch {
		case op == opOpenSpliceAndClose:
			if next >= len(h.Objects) {
				return e.fail("more objects than the part lists")
			}
			n = 4
			if h.Objects[next].Type.IsMeta() {
				n = 2
			}
		case !ok:
			return e.fail("unknown op %q", op)
		}
		if op == opOpenSpliceAndClose || op == opOpen {
			next++
		}
		at := e.pc
		args, err := e.varints(n)
		if err != nil {
			return err
		}
		fn(op, at, args)
	}
	return nil
}
