package delta

import (
	"fmt"
	"path/filepath"

	"arbor/store/atomic"
)

// writePart writes a part's file, named by its number as ostree's are
// (an alt part's alt-N): into the delta's directory of the repository,
// or, for a delta written to a file of its own (GenerateOptions.Output),
// beside that file, as ostree's --filename does.
func (g *generator) writePart(name string, f []byte) error {
	if g.o.Output == "" {
		return g.r.WriteFile(filepath.Join(g.dir, name), f)
	}
	// Into a directory that is there, as ostree's: a mistyped path
	// fails rather than leaving a tree of directories behind.
	if err := atomic.WriteFile(filepath.Join(filepath.Dir(g.o.Output), name), f, 0o644, true); err != nil {
		return fmt.Errorf("static delta part %s: %w", name, err)
	}
	return nil
}
