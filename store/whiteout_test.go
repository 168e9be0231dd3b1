package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// With PassthroughWhiteouts, .ostree-wh.NAME becomes a whiteout device
// NAME of the file's mode; without, it stays a file.
func TestCheckoutWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making device nodes needs root")
	}
	r, src := newRepo(t, ModeBareUser)
	writeTree(t, src, map[string]string{"layer/.ostree-wh.gone": "", "layer/kept": "k"})
	if err := os.Chmod(filepath.Join(src, "layer/.ostree-wh.gone"), 0o400); err != nil {
		t.Fatal(err)
	}
	c := commitTree(t, r, src, "main")
	for _, pass := range []bool{true, false} {
		out := filepath.Join(t.TempDir(), "out")
		if err := r.Checkout(context.Background(), c, out, CheckoutOptions{UserMode: true, PassthroughWhiteouts: pass}); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(out, "layer/gone"), &st)
		switch {
		case pass && (err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 || st.Mode&0o7777 != 0o400):
			t.Errorf("whiteout: %v mode %o rdev %d", err, st.Mode, st.Rdev)
		case !pass && err == nil:
			t.Error("whiteout made without PassthroughWhiteouts")
		}
		if _, err := os.Lstat(filepath.Join(out, "layer/.ostree-wh.gone")); pass == (err == nil) {
			t.Errorf("passthrough %v: .ostree-wh.gone present: %v", pass, err == nil)
		}
	}
}
