// Package mounts reads the kernel's table of mounts, /proc/self/mountinfo.
package mounts

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of the table.
type Mount struct {
	ID, Parent int
	Point      string // where it is mounted, as this process sees it
	FSType     string
	Source     string
}

// Read is this process's table.
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a table in mountinfo's format. A line it cannot read is an
// error, not skipped: a caller deciding what is safe to show must not
// miss a mount.
func Parse(r io.Reader) ([]Mount, error) {
	var ms []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20) // a line may be longer than the default 64K
	for n := 1; sc.Scan(); n++ {
		m, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return ms, nil
}

// parseLine reads ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER.
func parseLine(line string) (Mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(f) {
		return Mount{}, fmt.Errorf("%q: not a mount", line)
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("%q: not a mount", line)
	}
	return Mount{ID: id, Parent: parent, Point: unescape(f[4]), FSType: unescape(f[sep+1]), Source: unescape(f[sep+2])}, nil
}

// Below are the mounts strictly below dir, a clean absolute path (not
// those on dir itself), in the table's order.
func Below(ms []Mount, dir string) []Mount {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []Mount
	for _, m := range ms {
		if len(m.Point) > len(prefix) && strings.HasPrefix(m.Point, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// unescape undoes the table's octal escapes (\040 for a space, \012 for
// a newline, \134 for a backslash).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
