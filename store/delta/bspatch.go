package delta

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bspatch applies a bsdiff patch in the form ostree's deltas carry it
// (bsdiff's library form: no header, no compression) to old, making
// exactly size bytes. Every control triple is checked against both
// buffers before it is used.
func Bspatch(old, patch []byte, size uint64) ([]byte, error) {
	if size > maxPart {
		return nil, fmt.Errorf("a target of %d bytes", size)
	}
	out := make([]byte, 0, size)
	var oldPos int64
	p := patch
	offt := func() (int64, error) {
		if len(p) < 8 {
			return 0, errors.New("truncated control")
		}
		v := binary.LittleEndian.Uint64(p[:8])
		p = p[8:]
		n := int64(v &^ (1 << 63))
		if v&(1<<63) != 0 {
			n = -n
		}
		return n, nil
	}
	for uint64(len(out)) < size {
		var ctl [3]int64
		for i := range ctl {
			v, err := offt()
			if err != nil {
				return nil, err
			}
			ctl[i] = v
		}
		diff, extra := ctl[0], ctl[1]
		if diff < 0 || extra < 0 || uint64(len(out))+uint64(diff) > size || int64(len(p)) < diff {
			return nil, fmt.Errorf("a diff of %d bytes at %d", diff, len(out))
		}
		for i := int64(0); i < diff; i++ {
			b := p[i]
			if o := oldPos + i; o >= 0 && o < int64(len(old)) {
				b += old[o]
			}
			out = append(out, b)
		}
		p = p[diff:]
		oldPos += diff
		if uint64(len(out))+uint64(extra) > size || int64(len(p)) < extra {
			return nil, fmt.Errorf("an extra of %d bytes at %d", extra, len(out))
		}
		out = append(out, p[:extra]...)
		p = p[extra:]
		oldPos += ctl[2]
	}
	return out, nil
}
