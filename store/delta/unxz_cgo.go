//go:build cgo

package delta

/*
#cgo LDFLAGS: -llzma
#include <stdint.h>
#include <stdlib.h>
#include <lzma.h>

// stopped is what the encoders return when *stop is raised: no status
// of liblzma's.
#define STOPPED (-1)

// encode runs the encoder s over the k pieces as one input, to its end,
// and ends s. It feeds the input a mebibyte at a time, and looks at
// *stop before each step: a stopped generation waits for one step, not
// a part (liblzma's output does not depend on how its input is fed).
static int encode(lzma_stream *s, const uint8_t **in, const size_t *n, int k,
		uint8_t *out, size_t *out_pos, size_t out_size, const int *stop) {
	lzma_ret r = LZMA_OK;
	int stopped = 0;
	s->next_out = out;
	s->avail_out = out_size;
	for (int i = 0; i < k && r == LZMA_OK && !stopped; i++) {
		const uint8_t *p = in[i];
		size_t left = n[i];
		while (r == LZMA_OK && left > 0 && s->avail_out > 0) {
			if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED)) {
				stopped = 1;
				break;
			}
			size_t step = left < (1 << 20) ? left : (1 << 20);
			s->next_in = p;
			s->avail_in = step;
			r = lzma_code(s, LZMA_RUN);
			size_t used = step - s->avail_in;
			p += used;
			left -= used;
		}
	}
	while (r == LZMA_OK && !stopped && s->avail_out > 0) {
		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED)) {
			stopped = 1;
			break;
		}
		r = lzma_code(s, LZMA_FINISH);
	}
	*out_pos = out_size - s->avail_out;
	lzma_end(s);
	if (stopped)
		return STOPPED;
	return r == LZMA_STREAM_END ? LZMA_OK : (r == LZMA_OK ? LZMA_BUF_ERROR : r);
}

// xz compresses the three pieces in0, in1, in2 as one input, with
// preset 6's filter but the given window, in blocks of block bytes on up
// to threads threads: one stream either way.
static int xz(uint32_t threads, uint64_t block, uint32_t dict,
		const uint8_t *in0, size_t n0, const uint8_t *in1, size_t n1, const uint8_t *in2, size_t n2,
		uint8_t *out, size_t *out_pos, size_t out_size, const int *stop) {
	lzma_options_lzma opt;
	if (lzma_lzma_preset(&opt, 6))
		return LZMA_OPTIONS_ERROR;
	opt.dict_size = dict;
	lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	if (block >= n0 + n1 + n2) {
		// One block: the plain encoder, which holds no copy of it.
		r = lzma_stream_encoder(&s, filters, LZMA_CHECK_CRC64);
	} else {
		lzma_mt mt = {0};
		mt.threads = threads;
		mt.block_size = block;
		mt.filters = filters;
		mt.check = LZMA_CHECK_CRC64;
		mt.timeout = 100; // ms: lzma_code returns to look at *stop while its threads work
		r = lzma_stream_encoder_mt(&s, &mt);
	}
	if (r != LZMA_OK)
		return r;
	const uint8_t *in[3] = {in0, in1, in2};
	size_t n[3] = {n0, n1, n2};
	return encode(&s, in, n, 3, out, out_pos, out_size, stop);
}

// lzma2 encodes n0+n1 bytes (in two pieces, one input) as raw LZMA2
// chunks with preset 6's filter and the given window, primed with the
// pre_n bytes at pre when pre is not NULL: the bytes a decoder will have
// just decoded before these, so that matches reach back into them and
// the first chunk resets no dictionary.
static int lzma2(uint32_t dict, const uint8_t *pre, size_t pre_n,
		const uint8_t *in0, size_t n0, const uint8_t *in1, size_t n1,
		uint8_t *out, size_t *out_pos, size_t out_size, const int *stop) {
	lzma_options_lzma opt;
	if (lzma_lzma_preset(&opt, 6))
		return LZMA_OPTIONS_ERROR;
	opt.dict_size = dict;
	opt.preset_dict = pre;
	opt.preset_dict_size = pre ? pre_n : 0;
	lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = lzma_raw_encoder(&s, filters);
	if (r != LZMA_OK)
		return r;
	const uint8_t *in[2] = {in0, in1};
	size_t n[2] = {n0, n1};
	return encode(&s, in, n, 2, out, out_pos, out_size, stop);
}

static int unxz(uint64_t memlimit, const uint8_t *in, size_t in_size, size_t *in_pos,
		uint8_t *out, size_t out_size, size_t *out_pos) {
	uint64_t limit = memlimit;
	return lzma_stream_buffer_decode(&limit, 0, NULL, in, in_pos, in_size, out, out_pos, out_size);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"sync"
	"sync/atomic"
	"unsafe"

	"arbor/store/delta/xzproc"
)

// xzWhole compresses a part's payload with liblzma's preset 6: several
// times the Go encoder's speed, and smaller. ok is false when liblzma
// fails, and the Go encoder is used.
//
// A payload of up to 8 MiB is cut in halves (one block up to 1 MiB),
// compressed side by side, in one stream as any xz reader takes it,
// each with a window as large as its half, which finds everything
// preset 6's 8 MiB one would in it: the halves lose only matches
// across their edge, 0.1% on a library's update, for half the time on
// two cores. A larger one that xzPrimed does not take is one block with
// preset 6's window, on one thread: independent blocks of it lose far
// more (4 MiB blocks of a part of libraries came out 26% larger, its
// halves 6%). The blocks depend on the payload alone, so a part is the
// same whatever the processors.
func xzWhole(ctx context.Context, in [3][]byte, threads int) (out []byte, ok bool) {
	n := len(in[0]) + len(in[1]) + len(in[2])
	if n == 0 {
		return nil, false
	}
	const minBlock, window = 1 << 20, 8 << 20
	block, dict := n, window
	if n <= window {
		block = max((n+1)/2, minBlock)
		dict = max(block, 4096)
	}
	blocks := (n + block - 1) / block
	threads = max(1, min(threads, blocks))
	// The output's room is C's: pages of it never written are never
	// resident, where a Go slice is zeroed whole.
	size := int(C.lzma_stream_buffer_bound(C.size_t(n))) + blocks*64
	buf := C.malloc(C.size_t(size))
	if buf == nil {
		return nil, false
	}
	defer C.free(buf)
	stop, free := stopOn(ctx)
	defer free()
	var pos C.size_t
	if C.xz(C.uint32_t(threads), C.uint64_t(block), C.uint32_t(dict),
		cptr(in[0]), C.size_t(len(in[0])), cptr(in[1]), C.size_t(len(in[1])), cptr(in[2]), C.size_t(len(in[2])),
		(*C.uint8_t)(buf), &pos, C.size_t(size), stop) != C.LZMA_OK {
		return nil, false
	}
	return C.GoBytes(buf, C.int(pos)), true
}

// xzPrimed compresses a payload of more than twice its window on two
// encoders at once, into one xz block: the first encodes the first half;
// the second the rest, primed with the window's half before it. Its
// chunks follow the first's (less its end mark) in the block, and a
// decoder meets them with those bytes just decoded, so matches across
// the middle are found as one encoder finds them: against one encoder
// with preset 6's 8 MiB window, 0.6% larger on a part of libraries, in
// 0.53x its time. Two 8 MiB windows would take 190 MiB; two of 4 MiB take
// 95. ok is false when the payload does not suit (its middle outside the
// blob) or liblzma fails.
func xzPrimed(ctx context.Context, in [3][]byte, window int, slots chan struct{}) (out []byte, ok bool) {
	head, blob, tail := in[0], in[1], in[2]
	n := len(head) + len(blob) + len(tail)
	prime := window / 2
	mid := n/2 - len(head) // the second encoder's start, in the blob
	if n <= 2*window || mid < prime || mid >= len(blob) {
		return nil, false
	}
	type half struct {
		buf unsafe.Pointer
		n   C.size_t
		r   C.int
	}
	var a, b half
	stop, free := stopOn(ctx)
	defer free()
	encode := func(h *half, pre []byte, in0, in1 []byte) {
		size := C.lzma_stream_buffer_bound(C.size_t(len(in0) + len(in1)))
		if h.buf = C.malloc(size); h.buf == nil {
			h.r = C.LZMA_MEM_ERROR
			return
		}
		h.r = C.lzma2(C.uint32_t(window), cptr(pre), C.size_t(len(pre)), cptr(in0), C.size_t(len(in0)),
			cptr(in1), C.size_t(len(in1)), (*C.uint8_t)(h.buf), &h.n, size, stop)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		held(slots, func() (struct{}, bool) { encode(&a, nil, head, blob[:mid]); return struct{}{}, true })
	}()
	go func() {
		defer wg.Done()
		held(slots, func() (struct{}, bool) { encode(&b, blob[mid-prime:mid], blob[mid:], tail); return struct{}{}, true })
	}()
	crc := crc64.New(crc64.MakeTable(crc64.ECMA))
	for _, p := range in {
		crc.Write(p)
	}
	wg.Wait()
	defer C.free(a.buf)
	defer C.free(b.buf)
	if a.r != C.LZMA_OK || b.r != C.LZMA_OK || a.n == 0 {
		return nil, false
	}
	ca := unsafe.Slice((*byte)(a.buf), int(a.n))
	cb := unsafe.Slice((*byte)(b.buf), int(b.n))
	if ca[len(ca)-1] != 0 { // the first's end mark, dropped
		return nil, false
	}
	return xzBlock(window, [][]byte{ca[:len(ca)-1], cb}, uint64(n), crc.Sum64()), true
}

// stopOn is a flag in C's memory that the end of ctx raises, for the
// encoders to look at between steps; free stops the watch and frees it.
func stopOn(ctx context.Context) (flag *C.int, free func()) {
	p := (*C.int)(C.calloc(1, C.sizeof_int))
	if p == nil {
		return nil, func() {} // not stoppable, as before
	}
	raised := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		atomic.StoreInt32((*int32)(unsafe.Pointer(p)), 1)
		close(raised)
	})
	return p, func() {
		if !stop() {
			<-raised
		}
		C.free(unsafe.Pointer(p))
	}
}

// withLiblzma says the encoders and decoder above are liblzma's: a test
// of them skips only without it.
const withLiblzma = true

// cptr is b's first byte for C, or NULL for none.
func cptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
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
	limit := C.uint64_t(xzproc.MemLimit(uint64(len(out))))
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
