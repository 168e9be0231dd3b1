package store

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseStatOverride reads ostree's --statoverride file: lines of "MODE
// PATH", MODE the decimal bits ORed into the entry's mode, or "!PATH" for
// a path to leave out. Blank lines are ignored.
func ParseStatOverride(r io.Reader) (modeAdd map[string]uint32, skip map[string]bool, err error) {
	modeAdd, skip = map[string]uint32{}, map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if p, ok := strings.CutPrefix(line, "!"); ok {
			skip[p] = true
			continue
		}
		num, p, ok := strings.Cut(line, " ")
		if !ok || p == "" {
			return nil, nil, fmt.Errorf("statoverride line %d: Malformed statoverride file (no space found)", n)
		}
		bits, err := strconv.ParseUint(num, 10, 32)
		if err != nil || bits&^0o7777 != 0 {
			return nil, nil, fmt.Errorf("statoverride line %d: invalid mode %q", n, num)
		}
		modeAdd[p] |= uint32(bits)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("statoverride: %w", err)
	}
	return modeAdd, skip, nil
}
