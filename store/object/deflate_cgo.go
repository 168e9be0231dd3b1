//go:build cgo

package object

/*
#cgo LDFLAGS: -lz
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// Raw deflate, as GLib's zlib compressor writes it for ostree: window
// 15, memory level 8, the default strategy.
static int arbor_deflate_init(z_stream *s, int level) {
	return deflateInit2(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}
*/
import "C"

import (
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

const zBuf = 64 << 10

// zDeflater compresses with zlib itself, so archive objects come out
// byte for byte as ostree writes them (Go's flate picks other matches and
// blocks, and files of another size). Its stream and buffers live in C
// memory, so zlib keeps no pointer into Go's heap between calls.
type zDeflater struct {
	s       *C.z_stream
	in, out unsafe.Pointer
	w       io.Writer
	err     error
}

func newDeflater(w io.Writer, level int) (deflater, error) {
	d := &zDeflater{w: w}
	d.s = (*C.z_stream)(C.calloc(1, C.size_t(unsafe.Sizeof(C.z_stream{}))))
	d.in, d.out = C.malloc(zBuf), C.malloc(zBuf)
	if rc := C.arbor_deflate_init(d.s, C.int(level)); rc != C.Z_OK {
		C.free(d.in)
		C.free(d.out)
		C.free(unsafe.Pointer(d.s))
		return nil, fmt.Errorf("zlib deflateInit2: %d", int(rc))
	}
	runtime.SetFinalizer(d, (*zDeflater).free)
	return d, nil
}

func (d *zDeflater) free() {
	C.deflateEnd(d.s)
	C.free(d.in)
	C.free(d.out)
	C.free(unsafe.Pointer(d.s))
}

// Reset starts a new stream to w.
func (d *zDeflater) Reset(w io.Writer) {
	C.deflateReset(d.s)
	d.w, d.err = w, nil
}

// run deflates what is in the input buffer, writing out what zlib makes,
// until it wants more input (or, finishing, until the stream's end).
func (d *zDeflater) run(flush C.int) error {
	for {
		d.s.next_out = (*C.Bytef)(d.out)
		d.s.avail_out = zBuf
		rc := C.deflate(d.s, flush)
		if rc != C.Z_OK && rc != C.Z_STREAM_END && rc != C.Z_BUF_ERROR {
			return fmt.Errorf("zlib deflate: %d", int(rc))
		}
		if n := zBuf - int(d.s.avail_out); n > 0 {
			if _, err := d.w.Write(C.GoBytes(d.out, C.int(n))); err != nil {
				return err
			}
		}
		if flush == C.Z_FINISH {
			if rc == C.Z_STREAM_END {
				return nil
			}
			continue
		}
		if d.s.avail_out != 0 {
			return nil // all input taken
		}
	}
}

func (d *zDeflater) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), zBuf)
		C.memcpy(d.in, unsafe.Pointer(&p[0]), C.size_t(k))
		d.s.next_in = (*C.Bytef)(d.in)
		d.s.avail_in = C.uInt(k)
		if d.err = d.run(C.Z_NO_FLUSH); d.err != nil {
			return n, d.err
		}
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close ends the stream; the deflater can be Reset for another.
func (d *zDeflater) Close() error {
	if d.err != nil {
		return d.err
	}
	d.s.next_in, d.s.avail_in = nil, 0
	d.err = d.run(C.Z_FINISH)
	return d.err
}
