// Package mountinfo tells arbor's FUSE mounts apart in /proc/self/mountinfo,
// for commands that only need to know whether a mount is up.
package mountinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/internal/mounts"
)

// FSType is the filesystem type arbor's FUSE mounts show in mountinfo.
const FSType = "fuse.arbor"

// IsArbor reports whether dir is the mount point of an arbor mount
// (live or left behind by a daemon that died).
func IsArbor(dir string) bool {
	_, ok := source(dir)
	return ok
}

// SourceName is the source an arbor mount of source shows in mountinfo,
// arbor:TAG:SOURCE: TAG names the repository whose daemon serves it, so
// that a daemon or a command of one repository never takes down another's
// mounts.
func SourceName(repo, source string) string {
	return "arbor:" + repoTag(repo) + ":" + source
}

// OwnedBy reports whether dir is the mount point of an arbor mount of the
// repository at repo.
func OwnedBy(dir, repo string) bool {
	src, ok := source(dir)
	return ok && strings.HasPrefix(src, "arbor:"+repoTag(repo)+":")
}

// Untagged reports whether dir is an arbor mount made before mounts named
// their repository (arbor:SOURCE): whose it is, only the repository's
// own records can say.
func Untagged(dir string) bool {
	src, ok := source(dir)
	if !ok {
		return false
	}
	rest, ok := strings.CutPrefix(src, "arbor:")
	tag, _, tagged := strings.Cut(rest, ":")
	return ok && !(tagged && len(tag) == tagLen && isHex(tag))
}

// tagLen is the length of a repository's tag, in hex digits.
const tagLen = 12

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// repoTag names a repository by its path, resolved.
func repoTag(repo string) string {
	p, err := filepath.Abs(repo)
	if err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
	}
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:tagLen/2])
}

// source is the source field of the arbor mount at dir, if there is one
// (the last mounted, where mounts are stacked).
func source(dir string) (string, bool) {
	ms, err := mounts.Read()
	if err != nil {
		return "", false
	}
	dir = filepath.Clean(dir)
	found, src := false, ""
	for _, m := range ms {
		// A later mount on the same point hides the earlier ones.
		if m.Point == dir {
			found, src = m.FSType == FSType, m.Source
		}
	}
	return src, found
}

// Serving reports whether dir is a mount point that answers: a stat of it
// works and finds another device than its parent's. Two stats, not a read
// of mountinfo, because every app start asks; a mount whose daemon died
// fails the stat.
func Serving(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(filepath.Clean(dir)), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
