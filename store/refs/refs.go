// Package refs reads and writes a repository's ref files (refs/heads and
// refs/remotes), as OSTree lays them out. It needs nothing of the object
// store, so the quick paths of the command line (arbor run) use it without
// linking the store's index.
package refs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode"

	"arbor/store/atomic"
	"arbor/store/object"
)

// ErrNotFound is returned for refs that do not exist.
var ErrNotFound = errors.New("ref not found")

// Validate checks a ref name against OSTree's grammar: fragments of
// word characters, '-', '.' and '_', not starting with '-' or '.', joined by '/'.
func Validate(ref string) error {
	if ref == "" {
		return errors.New("empty ref name")
	}
	for _, frag := range strings.Split(ref, "/") {
		if err := validateFragment(frag); err != nil {
			return fmt.Errorf("Invalid ref name %q: %w", ref, err) // ostree's words, which scripts match
		}
	}
	return nil
}

// ValidateCollectionID checks a collection ID as ostree does: reverse
// DNS, two or more elements of [A-Za-z0-9_-] joined by dots, none
// starting with a digit, at most 255 bytes.
func ValidateCollectionID(id string) error {
	bad := fmt.Errorf("Invalid collection ID %q: want reverse DNS, as org.example.Apps", id)
	parts := strings.Split(id, ".")
	if len(id) > 255 || len(parts) < 2 {
		return bad
	}
	for _, p := range parts {
		if p == "" || p[0] >= '0' && p[0] <= '9' {
			return bad
		}
		for _, r := range p {
			if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return bad
			}
		}
	}
	return nil
}

// ValidateRemote checks a remote name: a single ref fragment.
func ValidateRemote(name string) error {
	if err := validateFragment(name); err != nil {
		return fmt.Errorf("invalid remote name %q: %w", name, err)
	}
	return nil
}

func validateFragment(f string) error {
	if f == "" {
		return errors.New("empty component")
	}
	word := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i, r := range f {
		if i == 0 && !word(r) {
			return fmt.Errorf("component %q must start with a letter, digit or '_'", f)
		}
		if !word(r) && r != '-' && r != '.' {
			return fmt.Errorf("component %q contains %q", f, r)
		}
	}
	return nil
}

// Split splits "remote:ref" into its parts; remote is empty for a local ref.
func Split(spec string) (remote, ref string, err error) {
	if i := strings.IndexByte(spec, ':'); i >= 0 {
		remote, ref = spec[:i], spec[i+1:]
		if err := ValidateRemote(remote); err != nil {
			return "", "", err
		}
	} else {
		ref = spec
	}
	return remote, ref, Validate(ref)
}

// Dir is the ref files of the repository whose root is the string.
type Dir string

func (d Dir) path(remote, ref string) string {
	if remote != "" {
		return filepath.Join(string(d), "refs", "remotes", remote, ref)
	}
	return filepath.Join(string(d), "refs", "heads", ref)
}

func readFile(path, name string) (object.Checksum, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return object.Zero, err
	}
	c, err := object.ParseChecksum(strings.TrimSpace(string(b)))
	if err != nil {
		return object.Zero, fmt.Errorf("ref %s: %w", name, err)
	}
	return c, nil
}

// Read reads a refspec ("ref" or "remote:ref").
func (d Dir) Read(spec string) (object.Checksum, error) {
	remote, ref, err := Split(spec)
	if err != nil {
		return object.Zero, err
	}
	p := d.path(remote, ref)
	if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		// An alias (refs -A): the ref it names, within refs/heads.
		t, err := d.aliasTarget(p)
		if err != nil || remote != "" {
			return object.Zero, fmt.Errorf("ref %s: %w", spec, ErrNotFound)
		}
		p = d.path("", t)
	}
	c, err := readFile(p, spec)
	if errors.Is(err, fs.ErrNotExist) {
		return object.Zero, fmt.Errorf("ref %s: %w", spec, ErrNotFound)
	}
	return c, err
}

// Set points a refspec at a commit atomically; with fsync, durably too
// (refs are the last thing a command writes). Without it, for refs that
// only live as long as a process.
func (d Dir) Set(spec string, c object.Checksum, fsync bool) error {
	remote, ref, err := Split(spec)
	if err != nil {
		return err
	}
	p := d.path(remote, ref)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("ref %s: %w", spec, err)
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return fmt.Errorf("ref %s: a ref directory of that name exists", spec)
	}
	data := []byte(c.String() + "\n")
	if same, err := alreadySet(p, data, fsync); err != nil {
		return fmt.Errorf("ref %s: %w", spec, err)
	} else if same {
		return nil
	}
	if err := atomic.WriteFile(p, data, 0o644, fsync); err != nil {
		return fmt.Errorf("ref %s: %w", spec, err)
	}
	return nil
}

// alreadySet reports whether the ref file at p (a file, not an alias)
// holds data already, as a pull of a commit already here finds it: a
// rewrite would cost a new file and its rename, which a journal commits
// on every fsync. With fsync the file and its directory are flushed as
// they are, which costs nothing once a writer before flushed them, and
// makes the ref as durable as a write would have.
func alreadySet(p string, data []byte, fsync bool) (bool, error) {
	// Read without touching its access time, which would make the inode
	// dirty again and the flush below a journal commit.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0) // not the file's owner
	}
	if err != nil {
		return false, nil // absent, or an alias: written
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != int64(len(data)) {
		return false, nil
	}
	buf := make([]byte, len(data)+1)
	n, _ := io.ReadFull(f, buf)
	if n != len(data) || string(buf[:n]) != string(data) {
		return false, nil
	}
	if !fsync {
		return true, nil
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	return true, atomic.SyncDir(filepath.Dir(p))
}

// Delete removes a ref and any directories it leaves empty.
func (d Dir) Delete(spec string) error {
	remote, ref, err := Split(spec)
	if err != nil {
		return err
	}
	p := d.path(remote, ref)
	if remote == "" {
		aliases, err := d.Aliases()
		if err != nil {
			return err
		}
		var by []string
		for a, t := range aliases {
			if t == ref {
				by = append(by, a)
			}
		}
		if len(by) > 0 {
			sort.Strings(by)
			return fmt.Errorf("Ref %s has active aliases: %s", spec, strings.Join(by, ", "))
		}
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ref %s: %w", spec, ErrNotFound)
		}
		return fmt.Errorf("deleting ref %s: %w", spec, err)
	}
	top := filepath.Join(string(d), "refs", "heads")
	if remote != "" {
		top = filepath.Join(string(d), "refs", "remotes")
	}
	for dir := filepath.Dir(p); dir != top && strings.HasPrefix(dir, top); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// All lists every ref: local ones by name, remote ones as "remote:ref".
func (d Dir) All() (map[string]object.Checksum, error) {
	out := map[string]object.Checksum{}
	if err := d.walk(filepath.Join(string(d), "refs", "heads"), "", false, out); err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	if err := d.walk(filepath.Join(string(d), "refs", "remotes"), "", true, out); err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	return out, nil
}

// Local lists the local refs below prefix (such as "deploy"), without
// walking the others.
func (d Dir) Local(prefix string) (map[string]object.Checksum, error) {
	if err := Validate(prefix); err != nil {
		return nil, err
	}
	out := map[string]object.Checksum{}
	if err := d.walk(filepath.Join(string(d), "refs", "heads", filepath.FromSlash(prefix)), prefix+"/", false, out); err != nil {
		return nil, fmt.Errorf("listing refs %s/: %w", prefix, err)
	}
	return out, nil
}

// walk adds the ref files below top to out, named prefix + their path,
// or "remote:ref" at the remotes' level.
func (d Dir) walk(top, prefix string, remoteLevel bool, out map[string]object.Checksum) error {
	return filepath.WalkDir(top, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(e.Name(), ".") {
			// A ref write a killed command left (refs never begin with
			// a dot), not a ref.
			if e.IsDir() && p != top {
				return filepath.SkipDir
			}
			if !e.IsDir() {
				return nil
			}
		}
		if e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(top, p)
		rel = filepath.ToSlash(rel)
		name := prefix + rel
		if remoteLevel {
			i := strings.IndexByte(rel, '/')
			if i < 0 {
				return nil
			}
			name = rel[:i] + ":" + rel[i+1:]
		}
		if e.Type()&fs.ModeSymlink != 0 {
			// An alias lists as a ref of its target's commit; a link
			// that leads anywhere else is not followed.
			t, err := d.aliasTarget(p)
			if remoteLevel || err != nil {
				return nil
			}
			p = d.path("", t)
		}
		c, err := readFile(p, name)
		if err != nil {
			return err
		}
		out[name] = c
		return nil
	})
}

// aliasTarget is the local ref an alias's symlink at p names; an error
// when it names anything but a ref file within refs/heads.
func (d Dir) aliasTarget(p string) (string, error) {
	link, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	heads := filepath.Join(string(d), "refs", "heads")
	if filepath.IsAbs(link) {
		return "", fmt.Errorf("alias %s: absolute link", p)
	}
	rel, err := filepath.Rel(heads, filepath.Join(filepath.Dir(p), link))
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("alias %s: leads out of refs/heads", p)
	}
	rel = filepath.ToSlash(rel)
	if err := Validate(rel); err != nil {
		return "", err
	}
	if st, err := os.Lstat(filepath.Join(heads, filepath.FromSlash(rel))); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("alias %s: %s is not a ref", p, rel)
	}
	return rel, nil
}

// Aliases maps each local alias to the ref it names.
func (d Dir) Aliases() (map[string]string, error) {
	heads := filepath.Join(string(d), "refs", "heads")
	out := map[string]string{}
	err := filepath.WalkDir(heads, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if t, err := d.aliasTarget(p); err == nil {
			rel, _ := filepath.Rel(heads, p)
			out[filepath.ToSlash(rel)] = t
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing ref aliases: %w", err)
	}
	return out, nil
}

// SetAlias makes alias name the local ref target (both local), replacing
// an alias of that name; not a ref that is not one.
func (d Dir) SetAlias(alias, target string) error {
	if err := Validate(alias); err != nil {
		return err
	}
	if err := Validate(target); err != nil {
		return err
	}
	tp, ap := d.path("", target), d.path("", alias)
	if st, err := os.Lstat(tp); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("Cannot create alias to non-existent ref: %s", target)
	}
	if st, err := os.Lstat(ap); err == nil && st.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("--create specified but ref %s already exists", alias)
	}
	if err := os.MkdirAll(filepath.Dir(ap), 0o755); err != nil {
		return fmt.Errorf("alias %s: %w", alias, err)
	}
	link, err := filepath.Rel(filepath.Dir(ap), tp)
	if err != nil {
		return fmt.Errorf("alias %s: %w", alias, err)
	}
	// A link made beside it under a name no ref has, then renamed over.
	tmp := filepath.Join(filepath.Dir(ap), "."+filepath.Base(ap)+".alias-tmp")
	os.Remove(tmp)
	if err := os.Symlink(link, tmp); err != nil {
		return fmt.Errorf("alias %s: %w", alias, err)
	}
	if err := os.Rename(tmp, ap); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("alias %s: %w", alias, err)
	}
	return nil
}

// SortedNames returns the names of refs in byte order.
func SortedNames(m map[string]object.Checksum) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadInRemotes finds ref under any remote, as ostree does for a ref
// that is neither local nor given with its remote: refs/remotes/REF
// (REMOTE/REF spelled as a path), then each remote in name order.
func (d Dir) ReadInRemotes(ref string) (object.Checksum, error) {
	if err := Validate(ref); err != nil {
		return object.Zero, err
	}
	base := filepath.Join(string(d), "refs", "remotes")
	if c, err := readFile(filepath.Join(base, ref), ref); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	ents, err := os.ReadDir(base)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return object.Zero, fmt.Errorf("ref %s: %w", ref, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := readFile(filepath.Join(base, e.Name(), ref), ref)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return c, err
		}
	}
	return object.Zero, fmt.Errorf("ref %s: %w", ref, ErrNotFound)
}

// CollectionRef names a ref within a collection: how refs are known
// across repositories that share a collection ID.
type CollectionRef struct {
	Collection, Ref string
}

func (cr CollectionRef) validate() error {
	if err := ValidateCollectionID(cr.Collection); err != nil {
		return err
	}
	return Validate(cr.Ref)
}

func (d Dir) mirrorPath(cr CollectionRef) string {
	return filepath.Join(string(d), "refs", "mirrors", cr.Collection, filepath.FromSlash(cr.Ref))
}

// Mirrors lists the refs of other collections kept under refs/mirrors;
// a repository without that directory has none.
func (d Dir) Mirrors() (map[CollectionRef]object.Checksum, error) {
	top := filepath.Join(string(d), "refs", "mirrors")
	ents, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return map[CollectionRef]object.Checksum{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("listing mirrored refs: %w", err)
	}
	out := map[CollectionRef]object.Checksum{}
	for _, e := range ents {
		if !e.IsDir() || ValidateCollectionID(e.Name()) != nil {
			continue
		}
		m := map[string]object.Checksum{}
		if err := d.walk(filepath.Join(top, e.Name()), "", false, m); err != nil {
			return nil, fmt.Errorf("listing mirrored refs of %s: %w", e.Name(), err)
		}
		for n, c := range m {
			out[CollectionRef{e.Name(), n}] = c
		}
	}
	return out, nil
}

// SetMirror points a ref of another collection at a commit.
func (d Dir) SetMirror(cr CollectionRef, c object.Checksum, fsync bool) error {
	if err := cr.validate(); err != nil {
		return err
	}
	p := d.mirrorPath(cr)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("ref (%s, %s): %w", cr.Collection, cr.Ref, err)
	}
	if err := atomic.WriteFile(p, []byte(c.String()+"\n"), 0o644, fsync); err != nil {
		return fmt.Errorf("ref (%s, %s): %w", cr.Collection, cr.Ref, err)
	}
	return nil
}

// DeleteMirror removes a mirrored ref and the directories it leaves empty.
func (d Dir) DeleteMirror(cr CollectionRef) error {
	if err := cr.validate(); err != nil {
		return err
	}
	p := d.mirrorPath(cr)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ref (%s, %s): %w", cr.Collection, cr.Ref, ErrNotFound)
		}
		return fmt.Errorf("deleting ref (%s, %s): %w", cr.Collection, cr.Ref, err)
	}
	top := filepath.Join(string(d), "refs", "mirrors")
	for dir := filepath.Dir(p); dir != top && strings.HasPrefix(dir, top); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// SortedCollectionRefs returns the keys of m ordered by collection, then ref.
func SortedCollectionRefs(m map[CollectionRef]object.Checksum) []CollectionRef {
	out := make([]CollectionRef, 0, len(m))
	for cr := range m {
		out = append(out, cr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].Ref < out[j].Ref
	})
	return out
}
