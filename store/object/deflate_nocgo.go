//go:build !cgo

package object

import "io"

// Without cgo, Go's flate: valid objects, though not of zlib's sizes.
func newDeflater(w io.Writer, level int) (deflater, error) { return newGoDeflater(w, level) }
