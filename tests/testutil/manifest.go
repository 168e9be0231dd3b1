package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ManifestOpts says what Manifest leaves out. The zero value compares
// everything a checkout is expected to reproduce.
type ManifestOpts struct {
	// IgnoreOwner drops uid/gid: unprivileged checkouts own everything.
	IgnoreOwner bool
	// IgnoreXattrs drops user.* xattrs, e.g. for filesystems without them.
	IgnoreXattrs bool
	// DropModeBits are cleared from st_mode before printing, e.g.
	// S_ISUID|S_ISGID for checkouts that legitimately strip them.
	DropModeBits uint32
	// SkipXattr, if set, hides individual xattrs (such as ostree's own
	// user.ostreemeta) while still comparing the rest.
	SkipXattr func(name string) bool
}

// Manifest describes the tree at root with the zero ManifestOpts.
func Manifest(root string) (string, error) {
	return ManifestWith(root, ManifestOpts{})
}

// ManifestWith returns one line per path under root (root itself is "."),
// sorted by byte order of the path, giving type, st_mode, owner, size and
// sha256 of regular files, symlink targets and user.* xattrs. Times, inode
// numbers and link counts are left out: checkouts need not preserve them.
func ManifestWith(root string, opt ManifestOpts) (string, error) {
	type entry struct{ rel, line string }
	var ents []entry
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("manifest: walk %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return fmt.Errorf("manifest: %s: %w", path, err)
		}
		rel = filepath.ToSlash(rel)
		line, err := describe(path, rel, opt)
		if err != nil {
			return err
		}
		ents = append(ents, entry{rel, line})
		return nil
	})
	if err != nil {
		return "", err
	}
	// WalkDir orders per directory; full-path byte order differs ("a b" <
	// "a/x"), and is what the manifest promises.
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	var sb strings.Builder
	for _, e := range ents {
		sb.WriteString(e.line)
		sb.WriteByte('\n')
	}
	return sb.String(), nil
}

func describe(path, rel string, opt ManifestOpts) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return "", fmt.Errorf("manifest: lstat %s: %w", path, err)
	}
	mode := st.Mode &^ opt.DropModeBits
	f := []string{strconv.Quote(rel)}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		f = append(f, "file")
	case syscall.S_IFDIR:
		f = append(f, "dir")
	case syscall.S_IFLNK:
		f = append(f, "symlink")
	case syscall.S_IFIFO:
		f = append(f, "fifo")
	case syscall.S_IFSOCK:
		f = append(f, "socket")
	case syscall.S_IFCHR:
		f = append(f, "chardev", fmt.Sprintf("rdev=%#x", st.Rdev))
	case syscall.S_IFBLK:
		f = append(f, "blockdev", fmt.Sprintf("rdev=%#x", st.Rdev))
	default:
		f = append(f, "unknown")
	}
	f = append(f, fmt.Sprintf("mode=%07o", mode))
	if !opt.IgnoreOwner {
		f = append(f, fmt.Sprintf("uid=%d", st.Uid), fmt.Sprintf("gid=%d", st.Gid))
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		sum, err := fileSHA256(path)
		if err != nil {
			return "", err
		}
		f = append(f, fmt.Sprintf("size=%d", st.Size), "sha256="+sum)
	case syscall.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("manifest: readlink %s: %w", path, err)
		}
		f = append(f, "target="+strconv.Quote(target))
	}
	// The syscall package only has xattr calls that follow symlinks, and
	// Linux refuses user.* on symlinks anyway, so they are not asked.
	if !opt.IgnoreXattrs && st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		xs, err := userXattrs(path, opt.SkipXattr)
		if err != nil {
			return "", err
		}
		if len(xs) > 0 {
			f = append(f, "xattrs="+strings.Join(xs, ","))
		}
	}
	return strings.Join(f, " "), nil
}

func fileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("manifest: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// userXattrs returns "name=hexvalue" for each user.* xattr, sorted by name.
func userXattrs(path string, skip func(string) bool) ([]string, error) {
	names, err := getSized(func(b []byte) (int, error) { return syscall.Listxattr(path, b) })
	if errors.Is(err, syscall.ENOTSUP) {
		return nil, nil // filesystem without xattrs: nothing to report
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: listxattr %s: %w", path, err)
	}
	var out []string
	for _, n := range strings.Split(string(names), "\x00") {
		if !strings.HasPrefix(n, "user.") || (skip != nil && skip(n)) {
			continue
		}
		v, err := getSized(func(b []byte) (int, error) { return syscall.Getxattr(path, n, b) })
		if err != nil {
			return nil, fmt.Errorf("manifest: getxattr %s %s: %w", path, n, err)
		}
		out = append(out, n+"="+hex.EncodeToString(v))
	}
	sort.Strings(out)
	return out, nil
}

// getSized calls a size-probing xattr syscall, retrying if the value grew
// between the size query and the read.
func getSized(call func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := call(nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		n, err = call(buf)
		if errors.Is(err, syscall.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// DiffLimit caps how many differing lines Diff shows.
const DiffLimit = 40

// Diff returns a short line diff of two manifests ("-" only in a, "+" only
// in b), or "" if they are equal. It is for failure messages, not patches.
func Diff(a, b string) string {
	if a == b {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	// Trim the common ends so the quadratic LCS only sees the changed middle.
	pre := 0
	for pre < len(al) && pre < len(bl) && al[pre] == bl[pre] {
		pre++
	}
	suf := 0
	for suf < len(al)-pre && suf < len(bl)-pre && al[len(al)-1-suf] == bl[len(bl)-1-suf] {
		suf++
	}
	am, bm := al[pre:len(al)-suf], bl[pre:len(bl)-suf]
	var out []string
	if len(am)*len(bm) > 4_000_000 {
		// Too big for LCS; a set difference still says what changed.
		out = setDiff(am, bm)
	} else {
		out = lcsDiff(am, bm)
	}
	var sb strings.Builder
	sb.WriteString("--- a\n+++ b\n")
	fmt.Fprintf(&sb, "@@ from line %d @@\n", pre+1)
	for i, l := range out {
		if i == DiffLimit {
			fmt.Fprintf(&sb, "... and %d more differing lines\n", len(out)-i)
			break
		}
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func lcsDiff(a, b []string) []string {
	// l[i][j] is the LCS length of a[i:] and b[j:].
	l := make([][]int, len(a)+1)
	for i := range l {
		l[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i++
			j++
		case j == len(b) || (i < len(a) && l[i+1][j] >= l[i][j+1]):
			out = append(out, "-"+a[i])
			i++
		default:
			out = append(out, "+"+b[j])
			j++
		}
	}
	return out
}

func setDiff(a, b []string) []string {
	in := func(s []string) map[string]bool {
		m := make(map[string]bool, len(s))
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	ia, ib := in(a), in(b)
	var out []string
	for _, x := range a {
		if !ib[x] {
			out = append(out, "-"+x)
		}
	}
	for _, x := range b {
		if !ia[x] {
			out = append(out, "+"+x)
		}
	}
	return out
}
