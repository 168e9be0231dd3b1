package object

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"

	"arbor/store/gvariant"
)

// FileHeader is a content object's metadata: everything but the bytes.
type FileHeader struct {
	UID, GID, Mode uint32
	Target         string // symlink target; empty for regular files
	Xattrs         []Xattr
}

// IsSymlink reports whether the header describes a symlink.
func (h *FileHeader) IsSymlink() bool { return h.Mode&ModeTypeMask == ModeSymlink }

// Validate checks the mode and symlink target.
func (h *FileHeader) Validate() error {
	if err := ValidateFileMode(h.Mode); err != nil {
		return err
	}
	if h.IsSymlink() != (h.Target != "") {
		if h.IsSymlink() {
			return errors.New("symlink with an empty target")
		}
		return errors.New("regular file with a symlink target")
	}
	// Xattrs are taken in the writer's order, repeats and all: arbor
	// sorts its own, but libostree keeps an imported archive's entries as
	// they come, and the checksum binds them either way. A checkout sets
	// them in order, so a repeated name ends with its last value.
	return nil
}

// Marshal encodes the canonical header (uuuusa(ayay)) that content checksums cover.
func (h *FileHeader) Marshal() []byte {
	return gvariant.MustEncode(tFileHeader, []any{be32(h.UID), be32(h.GID), be32(h.Mode), uint32(0),
		h.Target, xattrsValue(h.Xattrs)})
}

// MarshalArchive encodes the .filez header (tuuuusa(ayay)) with the size.
func (h *FileHeader) MarshalArchive(size uint64) []byte {
	return gvariant.MustEncode(tArchHeader, []any{be64(size), be32(h.UID), be32(h.GID), be32(h.Mode),
		uint32(0), h.Target, xattrsValue(h.Xattrs)})
}

// MarshalUserMeta encodes the user.ostreemeta xattr of bare-user objects.
func (h *FileHeader) MarshalUserMeta() []byte {
	return DirMeta{UID: h.UID, GID: h.GID, Mode: h.Mode, Xattrs: h.Xattrs}.Marshal()
}

func headerFrom(f []any) (FileHeader, error) {
	h := FileHeader{UID: be32(f[0].(uint32)), GID: be32(f[1].(uint32)), Mode: be32(f[2].(uint32)),
		Target: f[4].(string)}
	if f[3].(uint32) != 0 {
		return h, errors.New("file header: rdev is not 0")
	}
	xs, err := xattrsFrom(f[5])
	if err != nil {
		return h, fmt.Errorf("file header: %w", err)
	}
	h.Xattrs = xs
	return h, h.Validate()
}

// ParseUserMeta decodes a bare-user object's user.ostreemeta xattr.
func ParseUserMeta(b []byte, target string) (FileHeader, error) {
	v, err := gvariant.Decode(tDirMeta, b)
	if err != nil {
		return FileHeader{}, fmt.Errorf("user.ostreemeta: %w", err)
	}
	f := v.([]any)
	h := FileHeader{UID: be32(f[0].(uint32)), GID: be32(f[1].(uint32)), Mode: be32(f[2].(uint32)), Target: target}
	if h.Xattrs, err = xattrsFrom(f[3]); err != nil {
		return h, fmt.Errorf("user.ostreemeta: %w", err)
	}
	return h, h.Validate()
}

// NewContentHash starts a content checksum: the framed header is hashed
// first, and the caller writes the file's bytes (nothing for a symlink).
func NewContentHash(h *FileHeader) hash.Hash {
	s := sha256.New()
	hdr := h.Marshal()
	var pre [8]byte
	binary.BigEndian.PutUint32(pre[:4], uint32(len(hdr)))
	s.Write(pre[:])
	s.Write(hdr)
	return s
}

// SumHash reads the checksum out of a finished hash.
func SumHash(s hash.Hash) Checksum {
	var c Checksum
	s.Sum(c[:0])
	return c
}

// ContentChecksum computes the checksum of a content object.
func ContentChecksum(h *FileHeader, data []byte) Checksum {
	s := NewContentHash(h)
	s.Write(data)
	return SumHash(s)
}

// Compressor writes .filez objects. It keeps deflate writers for reuse: each
// holds about a megabyte of state, and allocating one per object makes a
// commit of many small files spend its time faulting in fresh memory.
type Compressor struct {
	level        int
	exact, quick sync.Pool
}

// exactMax is the largest payload compressed with the deflater that makes
// ostree's bytes (zlib, where arbor is built with cgo): small files' sizes
// then match ostree's, which scripts compare. Larger ones, where the bytes
// and the time are, go through Go's faster flate: valid objects of a
// slightly different size.
const exactMax = 1 << 10

// NewCompressor returns a Compressor for a zlib-style level, 1 to 9.
func NewCompressor(level int) (*Compressor, error) {
	if level < 1 || level > 9 {
		return nil, fmt.Errorf("compression level %d out of range 1-9", level)
	}
	return &Compressor{level: level}, nil
}

// WriteArchive writes a .filez object: the framed archive header, then the
// raw deflate stream of the payload (nothing at all for a symlink).
func (c *Compressor) WriteArchive(w io.Writer, h *FileHeader, size uint64, payload io.Reader) error {
	hdr := h.MarshalArchive(size)
	var pre [8]byte
	binary.BigEndian.PutUint32(pre[:4], uint32(len(hdr)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if h.IsSymlink() {
		return nil
	}
	pool, newFn := &c.quick, newGoDeflater
	if size <= exactMax {
		pool, newFn = &c.exact, newDeflater
	}
	fw, _ := pool.Get().(deflater)
	if fw == nil {
		var err error
		if fw, err = newFn(w, c.level); err != nil {
			return err
		}
	} else {
		fw.Reset(w)
	}
	defer pool.Put(fw)
	n, err := io.Copy(fw, payload)
	if err != nil {
		return err
	}
	if uint64(n) != size {
		return fmt.Errorf("payload is %d bytes, header says %d", n, size)
	}
	return fw.Close()
}

// newGoDeflater is Go's flate (klauspost's), the fast one.
func newGoDeflater(w io.Writer, level int) (deflater, error) { return flate.NewWriter(w, level) }

// deflater writes a raw deflate stream; Reset starts another.
type deflater interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// maxHeader bounds a content header; real ones are far smaller, and the
// bound keeps a hostile object from making us allocate gigabytes.
const maxHeader = 16 << 20

// readFramed reads the BE32 length and padding, then the header bytes.
func readFramed(r io.Reader) ([]byte, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("content header: %w", err)
	}
	n := binary.BigEndian.Uint32(pre[:4])
	if n > maxHeader || binary.BigEndian.Uint32(pre[4:]) != 0 {
		return nil, fmt.Errorf("content header: bad length %d", n)
	}
	// Grow with the data rather than trusting the length up front.
	hdr, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("content header: %w", err)
	}
	if len(hdr) != int(n) {
		return nil, fmt.Errorf("content header: %w", io.ErrUnexpectedEOF)
	}
	return hdr, nil
}

// Decompressor reads .filez objects, reusing buffers and inflate state
// between objects: a pull reads tens of thousands of them, and fresh state
// for each keeps the garbage collector busier than the inflating.
type Decompressor struct {
	bufs, inflaters sync.Pool
	ins, outs       sizeClasses
	inflight        atomic.Int64 // bytes held by whole-object reads
	// max and budget replace wholeMax and wholeBudget when set (tests).
	max, budget int64
}

// ReadArchiveHeader reads a .filez object's header from r, and the size
// its content claims, without inflating anything: what a caller that
// only weighs or describes the object needs.
func ReadArchiveHeader(r io.Reader) (FileHeader, uint64, error) {
	hdr, err := readFramed(r)
	if err != nil {
		return FileHeader{}, 0, err
	}
	v, err := gvariant.Decode(tArchHeader, hdr)
	if err != nil {
		return FileHeader{}, 0, fmt.Errorf("archive header: %w", err)
	}
	f := v.([]any)
	size := be64(f[0].(uint64))
	if size > math.MaxInt64 {
		return FileHeader{}, 0, fmt.Errorf("archive header: size %d out of range", size)
	}
	h, err := headerFrom(f[1:])
	if err != nil {
		return h, 0, err
	}
	if h.IsSymlink() && size != 0 {
		return h, 0, errors.New("archive header: symlink with a size")
	}
	return h, size, nil
}

// ReadArchive parses a .filez object from r, which ends where the object
// ends. Close the returned reader to give its buffers back; it does not
// close r.
func (d *Decompressor) ReadArchive(r io.Reader) (FileHeader, uint64, io.ReadCloser, error) {
	br, _ := d.bufs.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(r, 64<<10)
	} else {
		br.Reset(r)
	}
	fail := func(h FileHeader, err error) (FileHeader, uint64, io.ReadCloser, error) {
		d.bufs.Put(br)
		return h, 0, nil, err
	}
	h, size, err := ReadArchiveHeader(br)
	if err != nil {
		return fail(h, err)
	}
	if h.IsSymlink() {
		return h, 0, &pooledReader{Reader: eofChecker{br}, done: func() { d.bufs.Put(br) }}, nil
	}
	var src io.Reader = br
	var held *[]byte
	inSize := int64(size + size/8 + 4096)
	if haveWholeInflate && size <= uint64(cmp.Or(d.max, wholeMax)) && d.reserve(inSize+int64(size)) {
		in := d.ins.get(int(inSize))
		n, err := io.ReadFull(br, *in)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			d.bufs.Put(br)
			out := d.outs.get(int(size))
			var rd io.Reader = bytes.NewReader(*out)
			if err := inflateWhole((*in)[:n], *out); err != nil {
				rd = errReader{err}
			}
			d.ins.put(in)
			d.inflight.Add(-inSize)
			return h, size, &pooledReader{Reader: rd, whole: true, done: func() {
				d.outs.put(out)
				d.inflight.Add(-int64(size))
			}}, nil
		case err != nil:
			d.ins.put(in)
			d.inflight.Add(-inSize - int64(size))
			return fail(h, err)
		}
		d.inflight.Add(-int64(size))
		// Longer than any sane encoder makes it: inflate as a stream.
		src = io.MultiReader(bytes.NewReader(*in), br)
		held = in
	}
	fr, _ := d.inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		if held != nil {
			d.ins.put(held)
			d.inflight.Add(-inSize)
		}
		return fail(h, err)
	}
	return h, size, &pooledReader{Reader: &exactReader{r: fr, left: int64(size)}, done: func() {
		d.inflaters.Put(fr)
		d.bufs.Put(br)
		if held != nil {
			d.ins.put(held)
			d.inflight.Add(-inSize)
		}
	}}, nil
}

// wholeMax is the largest file inflated in one go (from memory, into
// memory), as long as the objects held that way stay under wholeBudget;
// others are inflated as a stream.
const (
	wholeMax    = 64 << 20
	wholeBudget = 256 << 20
)

// reserve takes n bytes of the budget for whole objects, if they are free.
func (d *Decompressor) reserve(n int64) bool {
	if d.inflight.Add(n) > cmp.Or(d.budget, wholeBudget) {
		d.inflight.Add(-n)
		return false
	}
	return true
}

// sizeClasses pools buffers by power-of-two capacity, so that a buffer
// given back fits the next object of its class (a fresh large buffer costs
// more to clear than a small object to inflate). Buffers over 8 MiB are
// made for their object and left to the collector.
type sizeClasses [24]sync.Pool

func (s *sizeClasses) get(n int) *[]byte {
	c := class(n)
	if c >= len(s) {
		b := make([]byte, n)
		return &b
	}
	if b, _ := s[c].Get().(*[]byte); b != nil {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<c)
	return &b
}

func (s *sizeClasses) put(b *[]byte) {
	if c := class(cap(*b)); c < len(s) {
		s[c].Put(b)
	}
}

// class is the smallest c with 1<<c >= n.
func class(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type pooledReader struct {
	io.Reader
	done  func()
	whole bool
}

// Whole reports that the object was read to its end, so its source can be
// closed before the payload is used.
func (p *pooledReader) Whole() bool { return p.whole }

// WriteTo hands an object held in memory to w in one write.
func (p *pooledReader) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, p.Reader) }

func (p *pooledReader) Close() error {
	if p.done != nil {
		p.done()
		p.done = nil
	}
	return nil
}

// ParseContentHeader decodes a canonical header (uuuusa(ayay)).
func ParseContentHeader(b []byte) (FileHeader, error) {
	v, err := gvariant.Decode(tFileHeader, b)
	if err != nil {
		return FileHeader{}, fmt.Errorf("file header: %w", err)
	}
	return headerFrom(v.([]any))
}

// ErrSizeMismatch means a payload did not have the size its header gives.
var ErrSizeMismatch = errors.New("content size does not match its header")

type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, _ := e.r.Read(one[:]); n > 0 {
			return 0, ErrSizeMismatch
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, ErrSizeMismatch
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

type eofChecker struct{ r io.Reader }

func (e eofChecker) Read(p []byte) (int, error) {
	var one [1]byte
	if n, _ := e.r.Read(one[:]); n > 0 {
		return 0, errors.New("symlink object has a payload")
	}
	return 0, io.EOF
}
