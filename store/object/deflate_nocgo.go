//go:build !cgo

package object

import (
	"github.com/klauspost/compress/flate"
	"io"
)

// Without cgo, Go's flate: valid objects, though not of zlib's sizes.
func newDeflater(w io.Writer, level int) (deflater, error) { return flate.NewWriter(w, level) }
