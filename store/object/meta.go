package object

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"arbor/store/gvariant"
)

var (
	tXattrs     = gvariant.MustType("a(ayay)")
	tDirMeta    = gvariant.MustType("(uuua(ayay))")
	tDirTree    = gvariant.MustType("(a(say)a(sayay))")
	tCommit     = gvariant.MustType("(a{sv}aya(say)sstayay)")
	tVarDict    = gvariant.MustType("a{sv}")
	tFileHeader = gvariant.MustType("(uuuusa(ayay))")
	tArchHeader = gvariant.MustType("(tuuuusa(ayay))")
)

// Xattr is one extended attribute; Name has no trailing NUL.
type Xattr struct {
	Name  string
	Value []byte
}

// SortXattrs puts xattrs in OSTree's canonical order (strcmp of names).
func SortXattrs(xs []Xattr) {
	sort.Slice(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name })
}

func xattrsValue(xs []Xattr) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		name := make([]byte, len(x.Name)+1)
		copy(name, x.Name)
		v := x.Value
		if v == nil {
			v = []byte{}
		}
		out[i] = []any{name, v}
	}
	return out
}

// XattrsFrom reads a decoded a(ayay), as xattrsFrom.
func XattrsFrom(v any) ([]Xattr, error) { return xattrsFrom(v) }

// xattrsFrom converts a decoded a(ayay), in its order (see
// FileHeader.Validate), refusing empty or NUL-holding names.
func xattrsFrom(v any) ([]Xattr, error) {
	items := v.([]any)
	out := make([]Xattr, 0, len(items))
	for _, it := range items {
		pair := it.([]any)
		name := pair[0].([]byte)
		if len(name) < 2 || name[len(name)-1] != 0 || bytes.IndexByte(name[:len(name)-1], 0) >= 0 {
			return nil, fmt.Errorf("invalid xattr name %q", name)
		}
		out = append(out, Xattr{Name: string(name[:len(name)-1]), Value: pair[1].([]byte)})
	}
	return out, nil
}

// DirMeta is a directory's ownership, mode and xattrs.
type DirMeta struct {
	UID, GID, Mode uint32
	Xattrs         []Xattr
}

// Marshal encodes the dirmeta object; xattrs must be sorted.
func (m DirMeta) Marshal() []byte {
	return gvariant.MustEncode(tDirMeta, []any{be32(m.UID), be32(m.GID), be32(m.Mode), xattrsValue(m.Xattrs)})
}

// ParseDirMeta decodes and validates a dirmeta object.
func ParseDirMeta(b []byte) (DirMeta, error) {
	v, err := gvariant.Decode(tDirMeta, b)
	if err != nil {
		return DirMeta{}, fmt.Errorf("dirmeta: %w", err)
	}
	f := v.([]any)
	m := DirMeta{UID: be32(f[0].(uint32)), GID: be32(f[1].(uint32)), Mode: be32(f[2].(uint32))}
	if err := ValidateDirMode(m.Mode); err != nil {
		return DirMeta{}, fmt.Errorf("dirmeta: %w", err)
	}
	if m.Xattrs, err = xattrsFrom(f[3]); err != nil {
		return DirMeta{}, fmt.Errorf("dirmeta: %w", err)
	}
	return m, nil
}

// FileEntry names a content object inside a dirtree.
type FileEntry struct {
	Name     string
	Checksum Checksum
}

// DirEntry names a subdirectory: its dirtree and dirmeta.
type DirEntry struct {
	Name       string
	Tree, Meta Checksum
}

// DirTree is a directory listing.
type DirTree struct {
	Files []FileEntry
	Dirs  []DirEntry
}

// Marshal sorts both lists by byte order, as OSTree does, and encodes.
func (t *DirTree) Marshal() []byte {
	sort.Slice(t.Files, func(i, j int) bool { return t.Files[i].Name < t.Files[j].Name })
	sort.Slice(t.Dirs, func(i, j int) bool { return t.Dirs[i].Name < t.Dirs[j].Name })
	for _, f := range t.Files {
		if !encodable(f.Name) {
			return t.marshalGeneric()
		}
	}
	for _, d := range t.Dirs {
		if !encodable(d.Name) {
			return t.marshalGeneric()
		}
	}
	return encodeDirTree(make([]byte, 0, dirTreeSize(t)), t)
}

// encodable says whether a GVariant string can hold s.
func encodable(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// marshalGeneric is Marshal by the generic encoder, which refuses (by a
// panic, as before) what no GVariant string can hold.
func (t *DirTree) marshalGeneric() []byte {
	files := make([]any, len(t.Files))
	for i, f := range t.Files {
		files[i] = []any{f.Name, f.Checksum[:]}
	}
	dirs := make([]any, len(t.Dirs))
	for i, d := range t.Dirs {
		dirs[i] = []any{d.Name, d.Tree[:], d.Meta[:]}
	}
	return gvariant.MustEncode(tDirTree, []any{files, dirs})
}

// ParseDirTree decodes a dirtree and refuses names that could escape a
// checkout or a mount, and names given twice.
func ParseDirTree(b []byte) (DirTree, error) {
	if t, ok := parseDirTreeFast(b); ok {
		return t, nil
	}
	v, err := gvariant.Decode(tDirTree, b)
	if err != nil {
		return DirTree{}, fmt.Errorf("dirtree: %w", err)
	}
	f := v.([]any)
	var t DirTree
	seen := map[string]bool{}
	check := func(name string) error {
		if err := ValidateName(name); err != nil {
			return err // ostree's words alone, which scripts grep for
		}
		if seen[name] {
			return fmt.Errorf("dirtree: name %q listed twice", name)
		}
		seen[name] = true
		return nil
	}
	for _, it := range f[0].([]any) {
		e := it.([]any)
		name := e[0].(string)
		if err := check(name); err != nil {
			return DirTree{}, err
		}
		c, err := ChecksumFromBytes(e[1].([]byte))
		if err != nil {
			return DirTree{}, fmt.Errorf("dirtree: file %q: %w", name, err)
		}
		t.Files = append(t.Files, FileEntry{name, c})
	}
	for _, it := range f[1].([]any) {
		e := it.([]any)
		name := e[0].(string)
		if err := check(name); err != nil {
			return DirTree{}, err
		}
		tc, err := ChecksumFromBytes(e[1].([]byte))
		if err != nil {
			return DirTree{}, fmt.Errorf("dirtree: dir %q: %w", name, err)
		}
		mc, err := ChecksumFromBytes(e[2].([]byte))
		if err != nil {
			return DirTree{}, fmt.Errorf("dirtree: dir %q: %w", name, err)
		}
		t.Dirs = append(t.Dirs, DirEntry{name, tc, mc})
	}
	return t, nil
}

// MetaEntry is one key of an a{sv} dictionary, kept in the producer's order.
type MetaEntry struct {
	Key   string
	Value gvariant.Variant
}

// String builds a string-valued metadata entry.
func String(key, v string) MetaEntry {
	return MetaEntry{key, gvariant.Variant{Type: gvariant.MustType("s"), Value: v}}
}

// Bool builds a boolean metadata entry.
func Bool(key string, v bool) MetaEntry {
	return MetaEntry{key, gvariant.Variant{Type: gvariant.MustType("b"), Value: v}}
}

// Strings builds an as-valued metadata entry.
func Strings(key string, vs []string) MetaEntry {
	items := make([]any, len(vs))
	for i, s := range vs {
		items[i] = s
	}
	return MetaEntry{key, gvariant.Variant{Type: gvariant.MustType("as"), Value: items}}
}

func dictValue(m []MetaEntry) []any {
	out := make([]any, len(m))
	for i, e := range m {
		out[i] = []any{e.Key, e.Value}
	}
	return out
}

func dictFrom(v any) ([]MetaEntry, error) {
	var out []MetaEntry
	for _, it := range v.([]any) {
		e := it.([]any)
		k := e[0].(string)
		if k == "" {
			return nil, errors.New("empty metadata key")
		}
		out = append(out, MetaEntry{k, e[1].(gvariant.Variant)})
	}
	return out, nil
}

// MarshalVarDict encodes an a{sv} (detached metadata, summary.sig).
func MarshalVarDict(m []MetaEntry) ([]byte, error) { return gvariant.Encode(tVarDict, dictValue(m)) }

// ParseVarDict decodes an a{sv}.
func ParseVarDict(b []byte) ([]MetaEntry, error) {
	v, err := gvariant.Decode(tVarDict, b)
	if err != nil {
		return nil, err
	}
	return dictFrom(v)
}

// Lookup returns the value of key in m.
func Lookup(m []MetaEntry, key string) (gvariant.Variant, bool) {
	for _, e := range m {
		if e.Key == key {
			return e.Value, true
		}
	}
	return gvariant.Variant{}, false
}

// Commit is a decoded commit.
type Commit struct {
	Metadata  []MetaEntry
	Parent    Checksum // Zero when there is none
	Subject   string
	Body      string
	Timestamp uint64 // seconds since the epoch, UTC
	RootTree  Checksum
	RootMeta  Checksum
	// Related are the commit's related objects (name, commit), which
	// ostree writes none of; kept so the commit re-encodes as it came.
	Related []Related
}

// Related is a related object of a commit.
type Related struct {
	Name     string
	Checksum Checksum
}

// Marshal encodes the commit.
func (c *Commit) Marshal() ([]byte, error) {
	parent := []byte{}
	if !c.Parent.IsZero() {
		parent = c.Parent[:]
	}
	related := make([]any, len(c.Related))
	for i, r := range c.Related {
		related[i] = []any{r.Name, r.Checksum[:]}
	}
	return gvariant.Encode(tCommit, []any{dictValue(c.Metadata), parent, related, c.Subject, c.Body,
		be64(c.Timestamp), c.RootTree[:], c.RootMeta[:]})
}

// ParseCommit decodes and validates a commit.
func ParseCommit(b []byte) (*Commit, error) {
	v, err := gvariant.Decode(tCommit, b)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	f := v.([]any)
	c := &Commit{Subject: f[3].(string), Body: f[4].(string), Timestamp: be64(f[5].(uint64))}
	if c.Metadata, err = dictFrom(f[0]); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if p := f[1].([]byte); len(p) != 0 {
		if c.Parent, err = ChecksumFromBytes(p); err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
	}
	for _, it := range f[2].([]any) {
		kv := it.([]any)
		r := Related{Name: kv[0].(string)}
		if r.Checksum, err = ChecksumFromBytes(kv[1].([]byte)); err != nil {
			return nil, fmt.Errorf("commit related object %q: %w", r.Name, err)
		}
		c.Related = append(c.Related, r)
	}
	if c.RootTree, err = ChecksumFromBytes(f[6].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root dirtree: %w", err)
	}
	if c.RootMeta, err = ChecksumFromBytes(f[7].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root dirmeta: %w", err)
	}
	return c, nil
}
