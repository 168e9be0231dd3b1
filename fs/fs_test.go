package fs

import (
	"syscall"
	"testing"

	"arbor/store/object"
)

func TestXattrAnswers(t *testing.T) {
	xs := []object.Xattr{{Name: "user.a", Value: []byte("1")}, {Name: "user.bb", Value: []byte("22")}}
	cases := []struct {
		name    string
		attr    string
		buf     int
		want    string
		wantN   uint32
		wantErr syscall.Errno
	}{
		{"value", "user.bb", 10, "22", 2, 0},
		{"size query", "user.bb", 0, "", 2, syscall.ERANGE},
		{"too small", "user.bb", 1, "", 2, syscall.ERANGE},
		{"missing", "user.c", 10, "", 0, syscall.ENODATA},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf := make([]byte, c.buf)
			n, errno := getxattr(xs, c.attr, buf)
			if n != c.wantN || errno != c.wantErr || errno == 0 && string(buf[:n]) != c.want {
				t.Fatalf("getxattr(%q, %d bytes) = %d %q %v", c.attr, c.buf, n, buf[:min(int(n), len(buf))], errno)
			}
		})
	}
	buf := make([]byte, 64)
	n, errno := listxattr(xs, buf)
	if errno != 0 || string(buf[:n]) != "user.a\x00user.bb\x00" {
		t.Fatalf("listxattr = %q %v", buf[:n], errno)
	}
	if n, errno := listxattr(xs, nil); n != 15 || errno != syscall.ERANGE {
		t.Fatalf("listxattr size query = %d %v", n, errno)
	}
	if n, errno := listxattr(nil, nil); n != 0 || errno != 0 {
		t.Fatalf("listxattr of nothing = %d %v", n, errno)
	}
}

func TestFileInoStaysClearOfDirectories(t *testing.T) {
	for _, c := range []object.Checksum{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x80}, {0, 0, 0, 0, 0, 0, 0, 1}} {
		ino := fileIno(c)
		if ino < 2 || ino&(1<<63) != 0 {
			t.Fatalf("fileIno(%x...) = %#x: must be >= 2 and below the automatic range", c[:8], ino)
		}
	}
}
