//go:build cgo

package delta

/*
#cgo LDFLAGS: -llzma
#include <stdint.h>
#include <lzma.h>

static int xz(uint32_t preset, const uint8_t *in, size_t in_size, uint8_t *out, size_t *out_pos, size_t out_size) {
	return lzma_easy_buffer_encode(preset, LZMA_CHECK_CRC64, NULL, in, in_size, out, out_pos, out_size);
}

static int unxz(uint64_t memlimit, const uint8_t *in, size_t in_size, size_t *in_pos,
		uint8_t *out, size_t out_size, size_t *out_pos) {
	uint64_t limit = memlimit;
	return lzma_stream_buffer_decode(&limit, 0, NULL, in, in_pos, in_size, out, out_pos, out_size);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// xzWhole compresses a part's payload with liblzma's preset 6 (an 8 MiB
// window, 94 MiB to encode): several times the Go encoder's speed, and
// smaller. ok is false when liblzma fails, and the Go encoder is used.
func xzWhole(in []byte) (out []byte, ok bool) {
	if len(in) == 0 {
		return nil, false
	}
	out = make([]byte, int(C.lzma_stream_buffer_bound(C.size_t(len(in)))))
	var pos C.size_t
	if C.xz(6, (*C.uint8_t)(unsafe.Pointer(&in[0])), C.size_t(len(in)), (*C.uint8_t)(unsafe.Pointer(&out[0])), &pos, C.size_t(len(out))) != C.LZMA_OK {
		return nil, false
	}
	return out[:pos], true
}

// unxzWhole decompresses one xz stream held in memory into out, which it
// must fill exactly, with liblzma: three times as fast as the Go decoder
// on a delta's parts. A stream whose window would take more memory than
// the larger of its output and xz's largest preset window (what liblzma
// allocates is the header's window, not what the stream needs) is left
// to the Go decoder, which caps the window at the output's size; so is
// nothing valid refused that the Go decoder takes. ok is false then.
func unxzWhole(in, out []byte) (ok bool, err error) {
	if len(in) == 0 || len(out) == 0 {
		return false, nil
	}
	limit := C.uint64_t(max(uint64(len(out)), 64<<20) + 8<<20)
	var inPos, outPos C.size_t
	r := C.unxz(limit, (*C.uint8_t)(unsafe.Pointer(&in[0])), C.size_t(len(in)), &inPos,
		(*C.uint8_t)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &outPos)
	switch r {
	case C.LZMA_OK:
	case C.LZMA_MEMLIMIT_ERROR:
		return false, nil
	case C.LZMA_BUF_ERROR:
		return true, fmt.Errorf("more than the %d bytes its index says, or truncated", len(out))
	default:
		return true, fmt.Errorf("liblzma status %d", int(r))
	}
	if int(outPos) != len(out) {
		return true, fmt.Errorf("%d bytes, not the %d its index says", int(outPos), len(out))
	}
	// After the stream, only its padding (zeros in fours).
	rest := in[inPos:]
	if len(rest)%4 != 0 {
		return true, errors.New("bytes after the stream")
	}
	for _, b := range rest {
		if b != 0 {
			return true, errors.New("bytes after the stream")
		}
	}
	return true, nil
}
