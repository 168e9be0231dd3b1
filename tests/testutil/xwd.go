package testutil

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math/bits"
)

// DecodeXWD reads a TrueColor screen dump as xwd writes it (24-bit
// colour in 3 or 4 bytes a pixel), enough to check and save a screenshot
// of an X display.
func DecodeXWD(b []byte) (*image.RGBA, error) {
	if len(b) < 100 {
		return nil, fmt.Errorf("xwd: %d bytes, no header", len(b))
	}
	f := func(i int) uint32 { return binary.BigEndian.Uint32(b[4*i:]) }
	hdr, version, bpp, bpl := f(0), f(1), f(11), f(12)
	w, h, order := int(f(4)), int(f(5)), f(7)
	rm, gm, bm, ncolors := f(14), f(15), f(16), f(19)
	if version != 7 || bpp != 24 && bpp != 32 || rm == 0 || gm == 0 || bm == 0 {
		return nil, fmt.Errorf("xwd: version %d, %d bits a pixel, masks %x/%x/%x: not a TrueColor dump", version, bpp, rm, gm, bm)
	}
	off := int(hdr) + 12*int(ncolors)
	if w <= 0 || h <= 0 || off+int(bpl)*h > len(b) {
		return nil, fmt.Errorf("xwd: %dx%d, %d bytes a line, does not fit %d bytes", w, h, bpl, len(b))
	}
	n := int(bpl) / w // bytes a pixel
	if n != 3 && n != 4 {
		return nil, fmt.Errorf("xwd: %d bytes a line for %d pixels", bpl, w)
	}
	ch := func(p, m uint32) uint8 { return uint8((p & m) >> bits.TrailingZeros32(m)) }
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		line := b[off+y*int(bpl):]
		for x := 0; x < w; x++ {
			var q [4]byte
			copy(q[:], line[n*x:n*x+n])
			var p uint32
			if order == 0 { // LSBFirst
				p = binary.LittleEndian.Uint32(q[:])
			} else {
				p = binary.BigEndian.Uint32(q[:]) >> (8 * (4 - n))
			}
			img.SetRGBA(x, y, color.RGBA{ch(p, rm), ch(p, gm), ch(p, bm), 255})
		}
	}
	return img, nil
}
