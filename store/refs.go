package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"arbor/store/atomic"
	"arbor/store/object"
)

// ValidateRef checks a ref name against OSTree's grammar: fragments of
// word characters, '-', '.' and '_', not starting with '-' or '.', joined by '/'.
func ValidateRef(ref string) error {
	if ref == "" {
		return errors.New("empty ref name")
	}
	for _, frag := range strings.Split(ref, "/") {
		if err := validateFragment(frag); err != nil {
			return fmt.Errorf("invalid ref %q: %w", ref, err)
		}
	}
	return nil
}

// ValidateRemoteName checks a remote name: a single ref fragment.
func ValidateRemoteName(name string) error {
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

// SplitRefspec splits "remote:ref" into its parts; remote is empty for a
// local ref.
func SplitRefspec(spec string) (remote, ref string, err error) {
	if i := strings.IndexByte(spec, ':'); i >= 0 {
		remote, ref = spec[:i], spec[i+1:]
		if err := ValidateRemoteName(remote); err != nil {
			return "", "", err
		}
	} else {
		ref = spec
	}
	return remote, ref, ValidateRef(ref)
}

func (r *Repo) refPath(remote, ref string) string {
	if remote != "" {
		return filepath.Join(r.path, "refs", "remotes", remote, ref)
	}
	return filepath.Join(r.path, "refs", "heads", ref)
}

func readRefFile(path, name string) (object.Checksum, error) {
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

// ErrRefNotFound is returned for refs that do not exist.
var ErrRefNotFound = errors.New("ref not found")

// ReadRef reads a refspec ("ref" or "remote:ref").
func (r *Repo) ReadRef(spec string) (object.Checksum, error) {
	remote, ref, err := SplitRefspec(spec)
	if err != nil {
		return object.Zero, err
	}
	c, err := readRefFile(r.refPath(remote, ref), spec)
	if errors.Is(err, fs.ErrNotExist) {
		return object.Zero, fmt.Errorf("ref %s: %w", spec, ErrRefNotFound)
	}
	return c, err
}

// SetRef points a refspec at a commit, atomically and durably; refs are the
// last thing a command writes.
func (r *Repo) SetRef(spec string, c object.Checksum) error {
	return r.setRef(spec, c, r.fsync)
}

// SetTransientRef is SetRef without the flush to disk, for refs that only
// live as long as a process (a running app's hold on its commits).
func (r *Repo) SetTransientRef(spec string, c object.Checksum) error {
	return r.setRef(spec, c, false)
}

func (r *Repo) setRef(spec string, c object.Checksum, fsync bool) error {
	remote, ref, err := SplitRefspec(spec)
	if err != nil {
		return err
	}
	p := r.refPath(remote, ref)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("ref %s: %w", spec, err)
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return fmt.Errorf("ref %s: a ref directory of that name exists", spec)
	}
	if err := atomic.WriteFile(p, []byte(c.String()+"\n"), 0o644, fsync); err != nil {
		return fmt.Errorf("ref %s: %w", spec, err)
	}
	return nil
}

// DeleteRef removes a ref and any directories it leaves empty.
func (r *Repo) DeleteRef(spec string) error {
	remote, ref, err := SplitRefspec(spec)
	if err != nil {
		return err
	}
	p := r.refPath(remote, ref)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ref %s: %w", spec, ErrRefNotFound)
		}
		return fmt.Errorf("deleting ref %s: %w", spec, err)
	}
	top := filepath.Join(r.path, "refs", "heads")
	if remote != "" {
		top = filepath.Join(r.path, "refs", "remotes")
	}
	for d := filepath.Dir(p); d != top && strings.HasPrefix(d, top); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// Refs lists every ref: local ones by name, remote ones as "remote:ref".
func (r *Repo) Refs() (map[string]object.Checksum, error) {
	out := map[string]object.Checksum{}
	if err := walkRefs(filepath.Join(r.path, "refs", "heads"), "", false, out); err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	if err := walkRefs(filepath.Join(r.path, "refs", "remotes"), "", true, out); err != nil {
		return nil, fmt.Errorf("listing refs: %w", err)
	}
	return out, nil
}

// LocalRefs lists the local refs below prefix (such as "deploy"), without
// walking the others.
func (r *Repo) LocalRefs(prefix string) (map[string]object.Checksum, error) {
	if err := ValidateRef(prefix); err != nil {
		return nil, err
	}
	out := map[string]object.Checksum{}
	if err := walkRefs(filepath.Join(r.path, "refs", "heads", filepath.FromSlash(prefix)), prefix+"/", false, out); err != nil {
		return nil, fmt.Errorf("listing refs %s/: %w", prefix, err)
	}
	return out, nil
}

// walkRefs adds the ref files below top to out, named prefix + their path,
// or "remote:ref" at the remotes' level.
func walkRefs(top, prefix string, remoteLevel bool, out map[string]object.Checksum) error {
	return filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			// A ref write a killed command left (refs never begin with
			// a dot), not a ref.
			if d.IsDir() && p != top {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				return nil
			}
		}
		if d.IsDir() {
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
		c, err := readRefFile(p, name)
		if err != nil {
			return err
		}
		out[name] = c
		return nil
	})
}

// SortedRefNames returns the names of refs in byte order.
func SortedRefNames(m map[string]object.Checksum) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resolve turns a revision into a commit checksum: a full checksum, a ref,
// "remote:ref", "remote/ref", each optionally followed by '^' for parents.
func (r *Repo) Resolve(rev string) (object.Checksum, error) {
	base := strings.TrimRight(rev, "^")
	ups := len(rev) - len(base)
	var c object.Checksum
	var err error
	if len(base) == 64 {
		if c, err = object.ParseChecksum(base); err == nil {
			return r.parents(c, ups, rev)
		}
	}
	c, err = r.ReadRef(base)
	if errors.Is(err, ErrRefNotFound) && !strings.Contains(base, ":") && strings.Contains(base, "/") {
		// ostree also finds refs/remotes/REMOTE/REF given as REMOTE/REF.
		i := strings.IndexByte(base, '/')
		if c2, err2 := r.ReadRef(base[:i] + ":" + base[i+1:]); err2 == nil {
			c, err = c2, nil
		}
	}
	if err != nil {
		return object.Zero, fmt.Errorf("cannot resolve %q: %w", rev, err)
	}
	return r.parents(c, ups, rev)
}

func (r *Repo) parents(c object.Checksum, n int, rev string) (object.Checksum, error) {
	for i := 0; i < n; i++ {
		cm, err := r.ReadCommit(c)
		if err != nil {
			return object.Zero, fmt.Errorf("resolving %q: %w", rev, err)
		}
		if cm.Parent.IsZero() {
			return object.Zero, fmt.Errorf("resolving %q: commit %s has no parent", rev, c)
		}
		c = cm.Parent
	}
	return c, nil
}
