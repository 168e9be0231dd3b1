package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// xzSize is the uncompressed size an xz file's index records: the exact
// size of what it decompresses to, which the decoder checks against what
// it makes. Part headers carry only an estimate (the sum of the objects'
// sizes: less than the payload by its tables and ops for new objects,
// more for objects rebuilt from old ones), so the estimate bounds this
// with room for that difference, and this bounds the decompression.
func xzSize(b []byte) (uint64, error) {
	// Stream padding: zero bytes in fours after the footer.
	for len(b) >= 4 && bytes.Equal(b[len(b)-4:], []byte{0, 0, 0, 0}) {
		b = b[:len(b)-4]
	}
	if len(b) < 24 || string(b[len(b)-2:]) != "YZ" {
		return 0, errors.New("no xz stream footer")
	}
	footer := b[len(b)-12:]
	backward := (uint64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
	if backward > uint64(len(b)-24) {
		return 0, errors.New("the xz index is past the file's start")
	}
	idx := b[uint64(len(b))-12-backward : len(b)-12]
	if idx[0] != 0 {
		return 0, errors.New("no xz index indicator")
	}
	p := idx[1:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return 0, errors.New("a bad xz index record count")
	}
	p = p[k:]
	var total uint64
	for i := uint64(0); i < n; i++ {
		if _, k = binary.Uvarint(p); k <= 0 {
			return 0, errors.New("a bad xz index record")
		}
		p = p[k:]
		u, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, errors.New("a bad xz index record")
		}
		p = p[k:]
		if total+u < total {
			return 0, errors.New("xz index sizes overflow")
		}
		total += u
	}
	return total, nil
}

// PayloadBound is the most a part's payload may decompress to, from its
// header: the bound a decoder outside this package is given.
func PayloadBound(h PartHeader) uint64 { return min(payloadBound(h), maxPart) }

// payloadBound is the most a part's payload may decompress to, from its
// header's estimate and its object count.
func payloadBound(h PartHeader) uint64 {
	return h.Uncompressed + 1<<20 + 256*uint64(len(h.Objects))
}

func checkPayloadSize(h PartHeader, exact uint64) error {
	if exact > payloadBound(h) || exact > maxPart {
		return fmt.Errorf("%w: the part's xz stream makes %d bytes, far past the %d its superblock estimates", ErrCorrupt, exact, h.Uncompressed)
	}
	return nil
}
