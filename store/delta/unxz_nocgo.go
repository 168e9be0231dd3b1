//go:build !cgo

package delta

import "context"

// withLiblzma says liblzma is not built in.
const withLiblzma = false

// unxzWhole is liblzma's decoder, absent without cgo: the Go one decodes.
func unxzWhole(in, out []byte) (bool, error) { return false, nil }

// xzWhole is liblzma's encoder, absent without cgo: the Go one encodes.
func xzWhole(ctx context.Context, in [3][]byte, threads int) ([]byte, bool) { return nil, false }

// xzPrimed is liblzma's encoders side by side, absent without cgo.
func xzPrimed(ctx context.Context, in [3][]byte, window int, slots chan struct{}) ([]byte, bool) {
	return nil, false
}
