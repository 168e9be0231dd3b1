//go:build !linux || !cgo

package xzproc

import (
	"errors"
	"os"
)

// Serve needs liblzma and Linux's seccomp: without them the helper
// refuses, and the part is decoded once verified, in the calling process.
func Serve(in, out *os.File) error {
	return errors.New("built without liblzma or seccomp")
}
