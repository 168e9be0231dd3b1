package fs

import (
	"context"
	"strings"

	"arbor/store/object"
)

// Python reads a module as: stat D/NAME.py, read D/__pycache__/NAME.*.pyc,
// then, when the bytecode is stale, read D/NAME.py. On a commit it always
// is for timestamp-checked bytecode (files check out with mtime 0, which
// no such .pyc records), so each import reads both, one after the other.
// On a lazy source each is a round trip; fetching the one beside the
// other as soon as either is touched makes a module one round trip.

// bytecodeStem is NAME for a file NAME.TAG.pyc in a __pycache__
// directory; not for the optimised NAME.TAG.opt-N.pyc, which python -O
// reads instead.
func bytecodeStem(dir, base string) (string, bool) {
	parts := strings.Split(base, ".")
	if dir != "__pycache__" || len(parts) != 3 || parts[2] != "pyc" || parts[0] == "" {
		return "", false
	}
	return parts[0], true
}

// prefetchModule starts fetching the file name of dt, if there is one.
func (t *tree) prefetchModule(dt *object.DirTree, name string) {
	pf, ok := t.src.(Prefetcher)
	if !ok || dt == nil {
		return
	}
	if i, ok := findFile(dt, name); ok {
		c := dt.Files[i].Checksum
		pf.Background(func(ctx context.Context) { pf.FetchFile(ctx, c) })
	}
}

// prefetchBytecode starts fetching __pycache__/NAME.*.pyc of a directory
// whose tree is dt, when a program looks NAME.py up in it (a listing's
// entries are no sign of an import).
func (t *tree) prefetchBytecode(dt *object.DirTree, name string) {
	stem, ok := strings.CutSuffix(name, ".py")
	pf, isPF := t.src.(Prefetcher)
	if !ok || !isPF || stem == "" || dt == nil {
		return
	}
	e, ok := findDir(dt, "__pycache__")
	if !ok {
		return
	}
	pf.Background(func(ctx context.Context) {
		cache, err := t.src.DirTree(ctx, e.Tree)
		if err != nil {
			return // a read of it says what is wrong
		}
		for _, f := range cache.Files {
			if s, ok := bytecodeStem("__pycache__", f.Name); ok && s == stem {
				pf.FetchFile(ctx, f.Checksum)
			}
		}
	})
}
