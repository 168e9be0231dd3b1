package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HostRuntime fills usr, a runtime's /usr, with the host's own copies of
// the named programs and the libraries they load.
func HostRuntime(t testing.TB, usr string, programs ...string) {
	t.Helper()
	NeedTool(t, "ldd")
	if err := CopyHostPrograms(usr, programs...); err != nil {
		t.Fatal(err)
	}
}

// CopyHostPrograms copies the named programs (names looked up in PATH, or
// paths) into usr/bin and the libraries ldd says they load to the same
// places under usr.
func CopyHostPrograms(usr string, programs ...string) error {
	copyTo := func(src, dst string) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o755)
	}
	for _, prog := range programs {
		src, err := exec.LookPath(prog)
		if err != nil {
			return err
		}
		if src, err = filepath.EvalSymlinks(src); err != nil {
			return err
		}
		if err := copyTo(src, filepath.Join(usr, "bin", filepath.Base(prog))); err != nil {
			return err
		}
		out, err := exec.Command("ldd", src).Output()
		if err != nil {
			continue // static
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			lib := ""
			switch {
			case len(f) >= 3 && f[1] == "=>":
				lib = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				lib = f[0]
			}
			if lib == "" {
				continue
			}
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return fmt.Errorf("%s: %w", prog, err)
			}
			// /lib64/ld-linux... and /usr/lib/... both live under /usr.
			if err := copyTo(real, filepath.Join(usr, strings.TrimPrefix(strings.TrimPrefix(lib, "/usr"), "/"))); err != nil {
				return err
			}
		}
	}
	return nil
}
