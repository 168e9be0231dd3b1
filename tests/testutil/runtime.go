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
	for _, prog := range programs {
		src, err := exec.LookPath(prog)
		if err != nil {
			return err
		}
		if src, err = filepath.EvalSymlinks(src); err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(usr, "bin", filepath.Base(prog))); err != nil {
			return err
		}
		if err := copyLibs(usr, src); err != nil {
			return fmt.Errorf("%s: %w", prog, err)
		}
	}
	return nil
}

// CopyHostLibraries copies shared objects under /usr (modules a program
// loads itself, which ldd of the program does not list) to their places
// under usr, with the libraries they load.
func CopyHostLibraries(usr string, paths ...string) error {
	for _, p := range paths {
		rel, ok := strings.CutPrefix(p, "/usr/")
		if !ok {
			return fmt.Errorf("%s: not under /usr", p)
		}
		if err := copyFile(p, filepath.Join(usr, rel)); err != nil {
			return err
		}
		if err := copyLibs(usr, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// copyLibs copies the libraries ldd says src loads to their places under
// usr.
func copyLibs(usr, src string) error {
	out, err := exec.Command("ldd", src).Output()
	if err != nil {
		return nil // static
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
			return err
		}
		// /lib64/ld-linux... and /usr/lib/... both live under /usr.
		if err := copyFile(real, filepath.Join(usr, strings.TrimPrefix(strings.TrimPrefix(lib, "/usr"), "/"))); err != nil {
			return err
		}
	}
	return nil
}

// CopyHostTrees copies host directories and files, with their symlinks
// as they are, into a runtime's usr: a path under /usr to the same place
// under usr, one under /etc to usr/etc (which the sandbox shows at /etc).
func CopyHostTrees(usr string, paths ...string) error {
	for _, p := range paths {
		rel, ok := strings.CutPrefix(p, "/usr/")
		if !ok {
			if rel, ok = strings.CutPrefix(p, "/etc/"); !ok {
				return fmt.Errorf("%s: neither under /usr nor /etc", p)
			}
			rel = "etc/" + rel
		}
		dst := filepath.Join(usr, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("cp", "-a", p, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("cp -a %s %s: %v: %s", p, dst, err, out)
		}
	}
	return nil
}

// ShotDir is where screenshots go: ARBOR_SCREENSHOTS (docs/screenshots
// for the README; a relative path is from the top of the tree, as make
// runs the tests two levels down), else the test's temporary directory.
func ShotDir(t testing.TB) string {
	if d := os.Getenv("ARBOR_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", "..", d)
		}
		abs, err := filepath.Abs(d)
		Must(t, err)
		return abs
	}
	return t.TempDir()
}

// HasCgroup2 says whether the host has a cgroup v2 hierarchy where
// systemd puts one (alone, or beside v1 controllers): where each arbor
// run gets a cgroup of its own.
func HasCgroup2() bool {
	for _, p := range []string{"/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
