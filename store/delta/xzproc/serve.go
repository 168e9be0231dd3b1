//go:build linux && cgo

package xzproc

/*
#cgo LDFLAGS: -llzma
#include <stdint.h>
#include <stdlib.h>
#include <lzma.h>

// step runs the decoder over the input it is given, into the output
// buffer, until one of them is used up or the stream ends.
static int step(lzma_stream *s, const uint8_t *in, size_t *in_n, uint8_t *out, size_t *out_n, int finish) {
	s->next_in = in;
	s->avail_in = *in_n;
	s->next_out = out;
	s->avail_out = *out_n;
	lzma_ret r = LZMA_OK;
	while (r == LZMA_OK && s->avail_out > 0 && (s->avail_in > 0 || finish))
		r = lzma_code(s, finish ? LZMA_FINISH : LZMA_RUN);
	*in_n -= s->avail_in;
	*out_n -= s->avail_out;
	return r;
}

static int begin(lzma_stream *s, uint64_t memlimit) {
	lzma_stream init = LZMA_STREAM_INIT;
	*s = init;
	return lzma_stream_decoder(s, memlimit, 0);
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Serve is the helper's whole work: it locks itself down, reads the
// bound on the output and then one xz stream (and its padding) from in,
// and writes what it decodes to out. An error says why it stopped; the
// caller then decodes the part itself.
func Serve(in, out *os.File) error {
	// Blocking reads and writes, whatever the descriptors were given
	// with: there is no polling once locked down.
	for _, f := range []*os.File{in, out} {
		if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
			return fmt.Errorf("descriptor %d: %w", f.Fd(), err)
		}
	}
	// The runtime sets its poller up for its first timer: made here, it
	// asks nothing refused later.
	time.AfterFunc(time.Hour, func() {}).Stop()
	if err := lockDown(); err != nil {
		return err
	}
	rd := func(b []byte) (int, error) {
		for {
			n, err := unix.Read(int(in.Fd()), b)
			if err == unix.EINTR {
				continue
			}
			return n, err
		}
	}
	wr := func(b []byte) error {
		for len(b) > 0 {
			n, err := unix.Write(int(out.Fd()), b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	var hdr [8]byte
	for got := 0; got < len(hdr); {
		n, err := rd(hdr[got:])
		if err != nil {
			return fmt.Errorf("reading the bound: %w", err)
		}
		if n == 0 {
			return errors.New("no bound before the input's end")
		}
		got += n
	}
	bound := binary.LittleEndian.Uint64(hdr[:])
	var s C.lzma_stream
	if r := C.begin(&s, C.uint64_t(MemLimit(bound))); r != C.LZMA_OK {
		return fmt.Errorf("liblzma status %d", int(r))
	}
	defer C.lzma_end(&s)
	inBuf := C.malloc(64 << 10)
	outBuf := C.malloc(256 << 10)
	defer C.free(inBuf)
	defer C.free(outBuf)
	if inBuf == nil || outBuf == nil {
		return errors.New("no memory for the buffers")
	}
	ib := unsafe.Slice((*byte)(inBuf), 64<<10)
	ob := unsafe.Slice((*byte)(outBuf), 256<<10)
	var total uint64
	pending, eof := 0, false
	for {
		if pending == 0 && !eof {
			n, err := rd(ib)
			if err != nil {
				return fmt.Errorf("reading: %w", err)
			}
			pending, eof = n, n == 0
		}
		inN, outN := C.size_t(pending), C.size_t(len(ob))
		finish := C.int(0)
		if eof {
			finish = 1
		}
		r := C.step(&s, (*C.uint8_t)(inBuf), &inN, (*C.uint8_t)(outBuf), &outN, finish)
		copy(ib, ib[inN:pending])
		pending -= int(inN)
		if total += uint64(outN); total > bound {
			return fmt.Errorf("more than the %d bytes allowed", bound)
		}
		if err := wr(ob[:outN]); err != nil {
			return fmt.Errorf("writing: %w", err)
		}
		switch r {
		case C.LZMA_OK:
			if eof && outN == 0 {
				return errors.New("the stream is cut short")
			}
		case C.LZMA_STREAM_END:
			return padding(ib[:pending], rd)
		case C.LZMA_BUF_ERROR:
			return errors.New("the stream is cut short")
		default:
			return fmt.Errorf("liblzma status %d", int(r))
		}
	}
}

// padding checks that what follows the stream is xz's stream padding
// alone: zeros, in fours.
func padding(rest []byte, rd func([]byte) (int, error)) error {
	n := 0
	buf := make([]byte, 4096)
	for {
		for _, b := range rest {
			if b != 0 {
				return errors.New("bytes after the stream")
			}
		}
		n += len(rest)
		k, err := rd(buf)
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
		if k == 0 {
			break
		}
		rest = buf[:k]
	}
	if n%4 != 0 {
		return errors.New("bytes after the stream")
	}
	return nil
}
