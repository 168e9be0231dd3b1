package exports

import "context"

// FileType is what a name in an export tree is, as stored: a link is a
// link, whatever it points at.
type FileType int

const (
	Regular FileType = iota
	Directory
	Symlink
	Special // a device, FIFO or socket
)

// Entry is a name in an export tree.
type Entry interface {
	Path() string // below the tree's root, slash-separated
	Type() FileType
	Size() int64 // of a regular file, in bytes
	// Read reads a regular file, failing if it holds more than limit
	// bytes.
	Read(ctx context.Context, limit int64) ([]byte, error)
}

// Source is an export tree where it is stored (a commit's export/, in
// the store).
type Source interface {
	// Walk calls visit for the names below the tree's root, depth first,
	// each directory before what is in it. visit returning fs.SkipDir for
	// a directory skips what is in it; another error ends the walk, which
	// returns it.
	Walk(ctx context.Context, visit func(Entry) error) error
}
