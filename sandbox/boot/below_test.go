package boot

import (
	"slices"
	"strings"
	"testing"

	"arbor/internal/mounts"
)

func TestKernelBelow(t *testing.T) {
	ms, err := mounts.Parse(strings.NewReader(`27 1 254:0 / / rw - ext4 /dev/vda rw
40 27 0:40 / /srv/chroot/proc rw - proc proc rw
41 27 0:22 / /srv/chroot/sys rw - sysfs sysfs rw
42 41 0:23 / /srv/chroot/sys/kernel/debug rw - debugfs debugfs rw
43 27 0:24 / /srv/chroot/dev rw - devtmpfs udev rw
44 27 0:22 / /srv/chroot2/sys rw - sysfs sysfs rw
45 44 0:25 / /srv/chroot2/sys/fs/cgroup rw - tmpfs tmpfs rw
46 45 0:26 / /srv/chroot2/sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
47 27 0:27 / /srv/chroot2/work rw - tmpfs tmpfs rw
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		source   string
		writable bool
		want     []string // mount points, or the error
	}{
		{"/srv/chroot", true, []string{"bind /srv/chroot: /srv/chroot/proc is a proc file system; refused"}},
		{"/srv/chroot", false, []string{"bind /srv/chroot: /srv/chroot/proc is a proc file system; refused"}},
		{"/srv", false, []string{"bind /srv: /srv/chroot/proc is a proc file system; refused"}},
		{"/srv/chroot/sys", true, []string{"/srv/chroot/sys/kernel/debug"}},
		{"/srv/chroot2", true, []string{"/srv/chroot2/sys", "/srv/chroot2/sys/fs/cgroup/unified"}},
		{"/srv/chroot2", false, nil}, // read-only all through already
		{"/srv/chroot2/work", true, nil},
		{"/srv/chroot2/sys/fs", true, []string{"/srv/chroot2/sys/fs/cgroup/unified"}},
	} {
		below, err := kernelBelow(ms, "bind", c.source, c.writable)
		var got []string
		if err != nil {
			got = []string{err.Error()}
		}
		for _, m := range below {
			got = append(got, m.Point)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s (writable %v): %q, want %q", c.source, c.writable, got, c.want)
		}
	}
}
