package exports

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxWarnings bounds the warnings of one export: a hostile tree can hold
// thousands of links.
const maxWarnings = 32

// plan is what a walk of an export tree chose to export, by rule, with
// the limits checked as it went.
type plan struct {
	id     string
	byRule [][]Entry
	names  int // names looked at
	files  int
	bytes  int64
	warned []string
	more   int // warnings past maxWarnings
}

// visit looks at one name of the tree.
func (p *plan) visit(e Entry) error {
	rel := e.Path()
	if p.names++; p.names > MaxNames {
		return fmt.Errorf("%s: more than %d names where exports are looked for", treePath(rel), MaxNames)
	}
	dir := path.Dir(rel)
	switch e.Type() {
	case Directory:
		r, ok := ruleFor(rel)
		switch {
		case ok && r.deep && strings.Count(rel[len(r.dir):], "/") > maxDepth:
			return fmt.Errorf("%s: more than %d directories deep", treePath(rel), maxDepth)
		case ok || leadsToRule(rel):
			return nil
		}
		return fs.SkipDir
	case Regular:
		i, ok := ruleIndex(dir)
		if !ok || !rules[i].allows(path.Base(rel), p.id) {
			return nil
		}
		if p.files == MaxFiles {
			return fmt.Errorf("%s: more than %d exported files", treePath(rel), MaxFiles)
		}
		if n := e.Size(); n > MaxFileBytes {
			return fmt.Errorf("%s: %d bytes, over the limit of %d bytes for an exported file", treePath(rel), n, MaxFileBytes)
		}
		if p.bytes += e.Size(); p.bytes > MaxTotalBytes {
			return fmt.Errorf("%s: the exported files together are over the limit of %d bytes", treePath(rel), MaxTotalBytes)
		}
		p.files++
		p.byRule[i] = append(p.byRule[i], e)
	default:
		// In an exported directory, or in the place of one or of a
		// directory on the way: what the app may have meant to export.
		if _, ok := ruleIndex(dir); ok || leadsToRule(rel) {
			p.warn(e)
		}
	}
	return nil
}

func (p *plan) warn(e Entry) {
	if len(p.warned) == maxWarnings {
		p.more++
		return
	}
	what := "a symbolic link, not followed or exported"
	if e.Type() != Symlink {
		what = "a special file, not exported"
	}
	p.warned = append(p.warned, treePath(e.Path())+": "+what)
}

func (p *plan) warnings() []string {
	if p.more > 0 {
		return append(p.warned, fmt.Sprintf("and %d more links or special files, not exported", p.more))
	}
	return p.warned
}

// treePath is how errors and warnings name a path of the tree.
func treePath(rel string) string { return "export/" + rel }
