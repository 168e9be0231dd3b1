// Package delta reads and applies OSTree static deltas: a superblock that
// names a from and a to commit and carries the target commit, and parts
// whose byte code writes the objects the update needs. Every part is
// bound to the superblock by its sha256 before it is decompressed, its
// decompression is bounded by the size the superblock declares for it,
// and every object it writes is checked against its checksum before it is
// stored.
package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"arbor/store/gvariant"
	"arbor/store/object"
)

// ErrCorrupt is a delta that claims one thing and holds another.
var ErrCorrupt = errors.New("corrupt static delta")

// b64 is a checksum in the modified base64 of delta paths: '/' becomes
// '_', no padding.
func b64(c object.Checksum) string {
	return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(c[:]), "/", "_")
}

// Dir is the delta's directory in a repository, from zero for one from
// scratch.
func Dir(from, to object.Checksum) string {
	if from.IsZero() {
		t := b64(to)
		return "deltas/" + t[:2] + "/" + t[2:]
	}
	f := b64(from)
	return "deltas/" + f[:2] + "/" + f[2:] + "-" + b64(to)
}

// IndexPath is where a repository lists the deltas to a commit.
func IndexPath(to object.Checksum) string {
	t := b64(to)
	return "delta-indexes/" + t[:2] + "/" + t[2:] + ".index"
}

// Name is the delta's name in summaries and listings: FROM-TO in hex, or
// TO alone for one from scratch.
func Name(from, to object.Checksum) string {
	if from.IsZero() {
		return to.String()
	}
	return from.String() + "-" + to.String()
}

// BadRevError is a delta name with a piece that is not a checksum in
// hex; it reads as ostree's "Invalid rev PIECE", which scripts grep for.
type BadRevError struct {
	Rev string
	Err error // why it is not a checksum
}

func (e *BadRevError) Error() string { return "Invalid rev " + e.Rev }
func (e *BadRevError) Unwrap() error { return e.Err }

// ParseName reads a Name: FROM-TO or TO, in hex.
func ParseName(s string) (from, to object.Checksum, err error) {
	f, t, ok := strings.Cut(s, "-")
	if !ok {
		t, f = f, ""
	}
	if ok {
		if from, err = object.ParseChecksum(f); err != nil {
			return from, to, &BadRevError{Rev: f, Err: err}
		}
	}
	if to, err = object.ParseChecksum(t); err != nil {
		return from, to, &BadRevError{Rev: t, Err: err}
	}
	return from, to, nil
}

// ObjectRef is an object a part writes, or a fallback.
type ObjectRef struct {
	Type     object.Type
	Checksum object.Checksum
}

// PartHeader is what the superblock says of a part.
type PartHeader struct {
	Version      uint32
	Checksum     [32]byte // sha256 of the part file
	Size         uint64   // of the part file
	Uncompressed uint64   // of the objects it makes (ostree's count)
	Objects      []ObjectRef
}

// Fallback is an object fetched on its own rather than from a part.
type Fallback struct {
	ObjectRef
	Size, Uncompressed uint64
}

// Superblock is a delta's superblock.
type Superblock struct {
	Metadata  []object.MetaEntry
	Timestamp uint64
	From, To  object.Checksum // From is zero for a delta from scratch
	Commit    []byte          // the target commit object
	Parts     []PartHeader
	Fallbacks []Fallback
	Alts      []AltPart // arbor's smaller forms of parts (alt.go)
	BigEndian bool      // the generator's byte order ('B' rather than 'l')
	// EndiannessGuessed: the superblock does not say its byte order
	// (deltas written before ostree 2016.4 did not), so BigEndian is
	// guessed from its sizes.
	EndiannessGuessed bool
	// Signed is set for a superblock wrapped with signatures (ostree's
	// signed deltas); SignedData is what the signatures cover.
	Signed     bool
	SignedData []byte
	Signatures []object.MetaEntry
}

var (
	superblockType = gvariant.MustType("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))")
	signedType     = gvariant.MustType("(taya{sv})")
	partType       = gvariant.MustType("(a(uuu)aa(ayay)ayay)")
	commitType     = gvariant.MustType("(a{sv}aya(say)sstayay)")
)

// signedMagic is "OSTSGNDT", the first 8 bytes of a signed superblock.
const signedMagic = "OSTSGNDT"

// What a superblock may describe before any of it is believed.
const (
	maxParts   = 1 << 16
	maxObjects = 1 << 24
	maxPart    = 1 << 34 // uncompressed bytes of one part
)

// parseSignedWrapper splits a signed superblock file into the bytes
// signed and the signatures.
func parseSignedWrapper(b []byte) ([]byte, []object.MetaEntry, error) {
	v, err := gvariant.Decode(signedType, b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signed superblock: %v", ErrCorrupt, err)
	}
	f := v.([]any)
	sigs, err := object.ParseVarDict(gvariant.MustEncode(gvariant.MustType("a{sv}"), f[2]))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signed superblock: %v", ErrCorrupt, err)
	}
	return f[1].([]byte), sigs, nil
}

// ParseSuperblock decodes a superblock file, signed or not.
func ParseSuperblock(b []byte) (*Superblock, error) {
	sb := &Superblock{}
	if bytes.HasPrefix(b, []byte(signedMagic)) {
		var err error
		if sb.SignedData, sb.Signatures, err = parseSignedWrapper(b); err != nil {
			return nil, err
		}
		sb.Signed, b = true, sb.SignedData
	}
	v, err := gvariant.Decode(superblockType, b)
	if err != nil {
		return nil, fmt.Errorf("%w: superblock: %v", ErrCorrupt, err)
	}
	f := v.([]any)
	if sb.Metadata, err = object.ParseVarDict(gvariant.MustEncode(gvariant.MustType("a{sv}"), f[0])); err != nil {
		return nil, fmt.Errorf("%w: superblock metadata: %v", ErrCorrupt, err)
	}
	parts, fallbacks := f[6].([]any), f[7].([]any)
	if e, ok := object.Lookup(sb.Metadata, "ostree.endianness"); ok {
		switch e.Value {
		case uint8('l'):
		case uint8('B'):
			sb.BigEndian = true
		default:
			return nil, fmt.Errorf("%w: endianness %v", ErrCorrupt, e.Value)
		}
	} else {
		// Written before deltas said their byte order: guessed from
		// which reading of the sizes is believable.
		sb.BigEndian, sb.EndiannessGuessed = guessSwapped(rawSizes(parts, fallbacks)), true
	}
	big := sb.BigEndian
	// Written in the generator's byte order (the timestamp is always
	// big-endian); decoded here as little-endian.
	u32 := func(x uint32) uint32 {
		if big {
			return bits.ReverseBytes32(x)
		}
		return x
	}
	u64 := func(x uint64) uint64 {
		if big {
			return bits.ReverseBytes64(x)
		}
		return x
	}
	sb.Timestamp = bits.ReverseBytes64(f[1].(uint64))
	if from := f[2].([]byte); len(from) != 0 {
		if len(from) != 32 {
			return nil, fmt.Errorf("%w: from checksum of %d bytes", ErrCorrupt, len(from))
		}
		copy(sb.From[:], from)
	}
	to := f[3].([]byte)
	if len(to) != 32 {
		return nil, fmt.Errorf("%w: to checksum of %d bytes", ErrCorrupt, len(to))
	}
	copy(sb.To[:], to)
	sb.Commit = gvariant.MustEncode(commitType, f[4])
	if object.Checksum(sha256.Sum256(sb.Commit)) != sb.To {
		return nil, fmt.Errorf("%w: the commit it carries is not %s", ErrCorrupt, sb.To)
	}
	if len(f[5].([]byte)) != 0 {
		return nil, fmt.Errorf("%w: recursive deltas are not supported", ErrCorrupt)
	}
	if len(parts) > maxParts {
		return nil, fmt.Errorf("%w: %d parts", ErrCorrupt, len(parts))
	}
	total := 0
	for i, p := range parts {
		pf := p.([]any)
		h := PartHeader{Version: u32(pf[0].(uint32)), Size: u64(pf[2].(uint64)), Uncompressed: u64(pf[3].(uint64))}
		sum := pf[1].([]byte)
		if len(sum) != 32 {
			return nil, fmt.Errorf("%w: part %d: checksum of %d bytes", ErrCorrupt, i, len(sum))
		}
		copy(h.Checksum[:], sum)
		if h.Version != 0 {
			return nil, fmt.Errorf("%w: part %d: version %d", ErrCorrupt, i, h.Version)
		}
		objs := pf[4].([]byte)
		if len(objs)%33 != 0 {
			return nil, fmt.Errorf("%w: part %d: object list of %d bytes", ErrCorrupt, i, len(objs))
		}
		total += len(objs) / 33
		if total > maxObjects {
			return nil, fmt.Errorf("%w: more than %d objects", ErrCorrupt, maxObjects)
		}
		for o := 0; o < len(objs); o += 33 {
			ref := ObjectRef{Type: object.Type(objs[o])}
			copy(ref.Checksum[:], objs[o+1:o+33])
			if err := checkType(ref.Type); err != nil {
				return nil, fmt.Errorf("%w: part %d: %v", ErrCorrupt, i, err)
			}
			h.Objects = append(h.Objects, ref)
		}
		sb.Parts = append(sb.Parts, h)
	}
	for i, fb := range fallbacks {
		ff := fb.([]any)
		x := Fallback{ObjectRef: ObjectRef{Type: object.Type(ff[0].(uint8))}, Size: u64(ff[2].(uint64)), Uncompressed: u64(ff[3].(uint64))}
		sum := ff[1].([]byte)
		if len(sum) != 32 {
			return nil, fmt.Errorf("%w: fallback %d: checksum of %d bytes", ErrCorrupt, i, len(sum))
		}
		copy(x.Checksum[:], sum)
		if err := checkType(x.Type); err != nil {
			return nil, fmt.Errorf("%w: fallback %d: %v", ErrCorrupt, i, err)
		}
		sb.Fallbacks = append(sb.Fallbacks, x)
	}
	if err := parseAlts(sb); err != nil {
		return nil, err
	}
	return sb, nil
}

func checkType(t object.Type) error {
	switch t {
	case object.TypeFile, object.TypeDirTree, object.TypeDirMeta, object.TypeCommit:
		return nil
	}
	return fmt.Errorf("object type %d", t)
}

// InlinePart is part i's file when the superblock carries it
// (static-delta generate --inline), under the key of its path.
func (sb *Superblock) InlinePart(i int) ([]byte, bool) {
	v, ok := object.Lookup(sb.Metadata, fmt.Sprintf("%s/%d", Dir(sb.From, sb.To), i))
	if !ok {
		return nil, false
	}
	f, ok := v.Value.([]any)
	if !ok || len(f) != 2 {
		return nil, false
	}
	c, _ := f[0].(uint8)
	data, _ := f[1].([]byte)
	return append([]byte{c}, data...), true
}

// CommitMeta is the target commit's detached metadata, when the
// superblock carries it.
func (sb *Superblock) CommitMeta() ([]byte, bool) {
	v, ok := object.Lookup(sb.Metadata, Dir(sb.From, sb.To)+"/commitmeta")
	if !ok {
		return nil, false
	}
	b, err := gvariant.Encode(v.Type, v.Value)
	return b, err == nil
}

// Checksum is what summaries and indexes bind a superblock file by.
func Checksum(file []byte) [32]byte { return sha256.Sum256(file) }

// unb64 reads a checksum in the modified base64 of delta paths.
func unb64(s string) (object.Checksum, error) {
	var c object.Checksum
	b, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s, "_", "/"))
	if err != nil || len(b) != 32 {
		return c, fmt.Errorf("%q is not a delta's checksum", s)
	}
	copy(c[:], b)
	return c, nil
}

// ParseDir reads a delta's directory, relative to deltas/ (XX/REST).
func ParseDir(rel string) (from, to object.Checksum, err error) {
	pre, rest, ok := strings.Cut(rel, "/")
	if !ok || len(pre) != 2 {
		return from, to, fmt.Errorf("%q is not a delta's directory", rel)
	}
	a, b, two := strings.Cut(pre+rest, "-")
	if !two {
		to, err = unb64(a)
		return from, to, err
	}
	if from, err = unb64(a); err != nil {
		return from, to, err
	}
	to, err = unb64(b)
	return from, to, err
}

// sizes are a superblock's numbers as stored, in the byte order of
// whoever wrote it: each part's file size, uncompressed size and object
// count, each fallback's sizes.
type sizes struct {
	parts     [][3]uint64 // size, uncompressed, objects
	fallbacks [][2]uint64 // size, uncompressed
}

func rawSizes(parts, fallbacks []any) sizes {
	var s sizes
	for _, p := range parts {
		pf := p.([]any)
		s.parts = append(s.parts, [3]uint64{pf[2].(uint64), pf[3].(uint64), uint64(len(pf[4].([]byte)) / 33)})
	}
	for _, fb := range fallbacks {
		ff := fb.([]any)
		s.fallbacks = append(s.fallbacks, [2]uint64{ff[2].(uint64), ff[3].(uint64)})
	}
	return s
}

// maxObjectSize is past any object a delta carries: an average over it
// means the numbers are read in the wrong byte order.
const maxObjectSize = 1 << 32

// maxFallback is past any file a fallback names (a terabyte).
const maxFallback = 1 << 40

// believable says whether sizes read one way could be a real delta's:
// no part over the bound a part may have, parts averaging no more than
// maxObjectSize an object, no fallback over maxFallback.
func (s sizes) believable(swap bool) bool {
	rd := func(x uint64) uint64 {
		if swap {
			return bits.ReverseBytes64(x)
		}
		return x
	}
	var total, objects uint64
	for _, p := range s.parts {
		size, usize := rd(p[0]), rd(p[1])
		if size > maxPart || usize > maxPart {
			return false
		}
		total += size
		objects += p[2]
	}
	if objects > 0 && total/objects > maxObjectSize {
		return false
	}
	for _, fb := range s.fallbacks {
		if rd(fb[0]) > maxFallback || rd(fb[1]) > maxFallback {
			return false
		}
	}
	return true
}

// guessSwapped says whether an unmarked superblock's numbers are in the
// other byte order than the little-endian they are decoded in: only when
// they are not believable as they are and are believable swapped. A
// number's swap is small only when its low bytes are zero, so real
// sizes are believable in one order alone.
func guessSwapped(s sizes) bool {
	return !s.believable(false) && s.believable(true)
}
