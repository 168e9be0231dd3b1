package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"arbor/store/object"
	"arbor/store/refs"
)

// A pack is what a recorded run of a commit read, published for clients
// to fetch in one request before the first run: the archive files of
// those objects one after another (PackPath), and their list
// (PackIndexPath), "arbor-pack 1" then a line "CHECKSUM SIZE" per object
// in pack order. ostree and flatpak clients never ask for either. The
// list needs no signature: each object is stored only once its checksum
// is checked, as any object fetched alone.

// PackPath is where a commit's pack is published.
func PackPath(c object.Checksum) string { return "extensions/arbor/packs/" + c.String() + ".pack" }

// PackIndexPath is where a commit's pack's list is published.
func PackIndexPath(c object.Checksum) string {
	return "extensions/arbor/packs/" + c.String() + ".packindex"
}

// MaxPack bounds a pack, and what a client reads of one.
const MaxPack = 512 << 20

// MaxPackIndex bounds a pack's list (a line per object).
const MaxPackIndex = 16 << 20

const packMagic = "arbor-pack 1"

// PackEntry is one object of a pack.
type PackEntry struct {
	Checksum object.Checksum
	Size     int64 // of its archive file
}

// ParsePackIndex reads a pack's list, refusing anything malformed or
// larger than MaxPack in all.
func ParsePackIndex(b []byte) ([]PackEntry, error) {
	if len(b) > MaxPackIndex {
		return nil, fmt.Errorf("pack index: larger than %d bytes", MaxPackIndex)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != packMagic {
		return nil, fmt.Errorf("pack index: does not start with %q", packMagic)
	}
	var out []PackEntry
	var total int64
	for n := 2; sc.Scan(); n++ {
		sum, size, ok := strings.Cut(sc.Text(), " ")
		c, err := object.ParseChecksum(sum)
		if !ok || err != nil {
			return nil, fmt.Errorf("pack index: line %d: not CHECKSUM SIZE", n)
		}
		sz, err := strconv.ParseInt(size, 10, 64)
		if err != nil || sz <= 0 || sz > MaxPack {
			return nil, fmt.Errorf("pack index: line %d: bad size %q", n, size)
		}
		if total += sz; total > MaxPack {
			return nil, fmt.Errorf("pack index: more than %d bytes of objects", MaxPack)
		}
		out = append(out, PackEntry{Checksum: c, Size: sz})
	}
	return out, sc.Err()
}

// WritePack publishes the pack of commit: the content objects at paths
// (relative to the commit's root; missing ones, directories and
// duplicates skipped), in that order. An archive repository only. It
// returns how many objects the pack holds and its size.
func (r *Repo) WritePack(ctx context.Context, commit object.Checksum, paths []string) (int, int64, error) {
	if r.Mode() != ModeArchive {
		return 0, 0, errors.New("packs are published from archive repositories")
	}
	seen := map[object.Checksum]bool{}
	var pack bytes.Buffer
	index := []string{packMagic}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		n, err := r.Lookup(commit, "/"+strings.TrimPrefix(p, "/"))
		if err != nil || n.IsDir || seen[n.File] {
			continue
		}
		seen[n.File] = true
		b, err := os.ReadFile(r.ObjectPath(n.File, object.TypeFile))
		if err != nil {
			return 0, 0, fmt.Errorf("pack of %s: %s: %w", commit, p, err)
		}
		if pack.Len()+len(b) > MaxPack {
			break // the first reads are worth the most
		}
		pack.Write(b)
		index = append(index, fmt.Sprintf("%s %d", n.File, len(b)))
	}
	if len(index) == 1 {
		return 0, 0, fmt.Errorf("pack of %s: none of the %d paths is a file of it", commit, len(paths))
	}
	// The pack first: a list is never published without its pack.
	if err := r.WriteExtensionFile(PackPath(commit), pack.Bytes()); err != nil {
		return 0, 0, err
	}
	if err := r.WriteExtensionFile(PackIndexPath(commit), []byte(strings.Join(index, "\n")+"\n")); err != nil {
		return 0, 0, err
	}
	return len(index) - 1, int64(pack.Len()), nil
}

// ParseProfile reads what `arbor run --record-profile` wrote: a line
// REF<TAB>PATH per read, in order. It returns the paths of each ref, and
// the refs in the order they first appear.
func ParseProfile(b []byte) (map[string][]string, []string, error) {
	paths := map[string][]string{}
	var order []string
	for n, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		ref, p, ok := strings.Cut(line, "\t")
		if !ok || p == "" {
			return nil, nil, fmt.Errorf("profile: line %d: not REF<TAB>PATH", n+1)
		}
		if err := refs.Validate(ref); err != nil {
			return nil, nil, fmt.Errorf("profile: line %d: %w", n+1, err)
		}
		if _, ok := paths[ref]; !ok {
			order = append(order, ref)
		}
		paths[ref] = append(paths[ref], p)
	}
	return paths, order, nil
}
