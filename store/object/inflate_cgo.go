//go:build cgo

package object

/*
#cgo LDFLAGS: -ldeflate
#include <libdeflate.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// haveWholeInflate says inflateWhole works in this build.
const haveWholeInflate = true

// inflateWhole inflates a raw deflate stream held in memory into out,
// which must come out exactly full. libdeflate does this about three times
// as fast as a streaming inflater, which matters when a pull inflates every
// file it fetches to check its checksum.
func inflateWhole(in, out []byte) error {
	d := C.libdeflate_alloc_decompressor()
	if d == nil {
		return errors.New("inflate: out of memory")
	}
	defer C.libdeflate_free_decompressor(d)
	var inp, outp unsafe.Pointer
	if len(in) > 0 {
		inp = unsafe.Pointer(&in[0])
	}
	if len(out) > 0 {
		outp = unsafe.Pointer(&out[0])
	}
	var got C.size_t
	switch r := C.libdeflate_deflate_decompress(d, inp, C.size_t(len(in)), outp, C.size_t(len(out)), &got); r {
	case C.LIBDEFLATE_SUCCESS:
		if int(got) != len(out) {
			return ErrSizeMismatch
		}
		return nil
	case C.LIBDEFLATE_INSUFFICIENT_SPACE:
		return ErrSizeMismatch
	default:
		return fmt.Errorf("inflate: corrupt deflate data (libdeflate status %d)", int(r))
	}
}
