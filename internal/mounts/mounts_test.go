package mounts

import (
	"slices"
	"strings"
	"testing"
)

const table = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 254:0 / /srv/chroot rw,relatime shared:1 master:3 - ext4 /dev/vda rw
41 40 0:40 / /srv/chroot/proc rw,nosuid - proc proc rw
42 40 0:22 / /srv/chroot/sys rw - sysfs sysfs rw
43 27 0:41 / /srv/chroot2/proc rw - proc proc rw
44 40 0:42 / /srv/chroot/with\040space/and\011tab rw - tmpfs my\040tmp rw
45 44 0:43 / /srv/chroot/with\040space/and\011tab/back\134slash\012nl rw - cgroup2 cgroup2 rw
46 27 0:44 / /srv/chroot\134x rw - debugfs debugfs rw
`

func TestBelow(t *testing.T) {
	ms, err := Parse(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 9 {
		t.Fatalf("%d mounts, want 9", len(ms))
	}
	if m := ms[6]; m.ID != 44 || m.Parent != 40 || m.FSType != "tmpfs" || m.Source != "my tmp" {
		t.Errorf("line 7: %+v", m)
	}
	for _, c := range []struct {
		dir  string
		want []int // ids
	}{
		// Not /srv/chroot itself, and not /srv/chroot2 or /srv/chroot\x.
		{"/srv/chroot", []int{41, 42, 44, 45}},
		{"/srv/chroot/proc", nil},
		{"/srv/chroot/with space", []int{44, 45}},
		{"/srv/chroot/with space/and\ttab", []int{45}},
		{"/srv/chroot/with", nil},
		{"/srv/chroot2", []int{43}},
		{"/srv", []int{40, 41, 42, 43, 44, 45, 46}},
		{"/", []int{22, 40, 41, 42, 43, 44, 45, 46}},
		{"/sr", nil},
	} {
		var got []int
		for _, m := range Below(ms, c.dir) {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("below %q: %v, want %v", c.dir, got, c.want)
		}
	}
	if p := ms[7].Point; p != "/srv/chroot/with space/and\ttab/back\\slash\nnl" {
		t.Errorf("escapes: %q", p)
	}
}

func TestParseRefusesWhatItCannotRead(t *testing.T) {
	for _, line := range []string{
		"22 27 0:21 / /proc rw,relatime proc proc rw", // no separator
		"22 27 0:21 / /proc rw - proc",                // no source
		"x 27 0:21 / /proc rw - proc proc rw",
	} {
		if _, err := Parse(strings.NewReader(table + line + "\n")); err == nil || !strings.Contains(err.Error(), "line 10") {
			t.Errorf("%q: %v", line, err)
		}
	}
}

func TestUnescape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\040b`, "a b"},
		{`\040`, " "},
		{`end\04`, `end\04`}, // cut short: kept as it is
		{`\999x`, `\999x`},   // not octal
		{`\134\134`, `\\`},
	} {
		if got := unescape(c.in); got != c.want {
			t.Errorf("unescape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
