package store

import (
	"fmt"

	"arbor/store/object"
)

// ChecksumError is an object whose bytes hash to another checksum than
// its name, worded as ostree words it (scripts grep for it).
type ChecksumError struct {
	Type             object.Type
	Expected, Actual object.Checksum
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("Corrupted %s object; checksum expected='%s' actual='%s'", e.Type, e.Expected, e.Actual)
}

// Is makes a ChecksumError match ErrCorrupt.
func (e *ChecksumError) Is(target error) bool { return target == ErrCorrupt }

// mismatch is the error for an object of type t named want whose bytes
// hash to got.
func mismatch(t object.Type, want, got object.Checksum) error {
	return &ChecksumError{Type: t, Expected: want, Actual: got}
}

// corruptError marks err as ErrCorrupt without adding words to its
// message, so that what was wrong reads first.
type corruptError struct{ err error }

func (e corruptError) Error() string   { return e.err.Error() }
func (e corruptError) Unwrap() []error { return []error{ErrCorrupt, e.err} }

// corrupt marks err as a fault of an object's bytes.
func corrupt(err error) error { return corruptError{err} }
