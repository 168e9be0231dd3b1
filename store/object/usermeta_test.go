package object

import (
	"strings"
	"testing"
)

// A local bare-user object's xattrs are taken as libostree stores an
// archive's (in its order, each twice); headers from elsewhere stay strict.
func TestParseUserMetaXattrOrder(t *testing.T) {
	x := func(names ...string) []Xattr {
		var xs []Xattr
		for _, n := range names {
			xs = append(xs, Xattr{Name: n, Value: []byte("v")})
		}
		return xs
	}
	for _, c := range []struct {
		name    string
		xattrs  []Xattr
		wantErr string
	}{
		{"sorted", x("user.a", "user.b"), ""},
		{"unsorted", x("user.a_key", "user.key2", "user.b_key"), ""},
		{"twice each", x("user.a", "user.a", "user.b", "user.b"), ""},
		{"empty name", x(""), "invalid xattr name"},
	} {
		b := DirMeta{UID: 1, GID: 2, Mode: ModeRegular | 0o644, Xattrs: c.xattrs}.Marshal()
		h, err := ParseUserMeta(b, "")
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i := range c.xattrs {
			if h.Xattrs[i].Name != c.xattrs[i].Name {
				t.Errorf("%s: order changed: %v", c.name, h.Xattrs)
			}
		}
		if c.name != "sorted" && h.Validate() == nil {
			t.Errorf("%s: Validate accepts these xattrs", c.name)
		}
	}
}
