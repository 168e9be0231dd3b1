package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// AppDirs makes an app's host directories, ~/.var/app/ID/{data,config,
// cache,cache/tmp}, as flatpak does, and returns the binds that show them
// at the same paths inside and the XDG variables that point there. Each is
// created and later opened without following symlinks: one swapped for a
// symlink to elsewhere on the host makes the sandbox refuse to start
// rather than expose what it points at.
func AppDirs(home, appID string) ([]Bind, []string, error) {
	if err := ValidateID(appID); err != nil {
		return nil, nil, err
	}
	if !filepath.IsAbs(home) {
		return nil, nil, fmt.Errorf("home %q is not an absolute path", home)
	}
	base := filepath.Join(home, ".var", "app", appID)
	var binds []Bind
	for _, d := range []string{"data", "config", "cache", "cache/tmp"} {
		p := filepath.Join(base, d)
		if err := mkdirNoFollow(p); err != nil {
			return nil, nil, err
		}
		if d != "cache/tmp" {
			binds = append(binds, Bind{Source: p, Dest: p, Writable: true})
		}
	}
	env := []string{
		"XDG_DATA_HOME=" + filepath.Join(base, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(base, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(base, "cache"),
		"FLATPAK_ID=" + appID,
	}
	return binds, env, nil
}

// ValidateID checks an app or runtime id as flatpak does: 1-255
// characters, at least three elements of [A-Za-z_][A-Za-z0-9_]*, '-' also
// allowed in the last one. Such an id is safe as a path element.
func ValidateID(id string) error {
	if id == "" || len(id) > 255 {
		return fmt.Errorf("id %q: must be 1 to 255 characters", id)
	}
	els := strings.Split(id, ".")
	if len(els) < 3 {
		return fmt.Errorf("id %q: needs at least 2 dots", id)
	}
	for i, e := range els {
		if e == "" || e[0] >= '0' && e[0] <= '9' || e[0] == '-' {
			return fmt.Errorf("id %q: element %q is not a name", id, e)
		}
		for _, r := range e {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' && i == len(els)-1) {
				return fmt.Errorf("id %q: element %q is not a name", id, e)
			}
		}
	}
	return nil
}

// mkdirNoFollow creates path and its missing parents, refusing to go
// through a symlink on the way.
func mkdirNoFollow(path string) error {
	dfd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		err := unix.Mkdirat(dfd, name, 0o700)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(dfd)
			return fmt.Errorf("creating %s: %w", path, err)
		}
		next, err := unix.Openat2(dfd, name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
		})
		unix.Close(dfd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("%s: %s is a symlink or not a directory; refused", path, name)
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		dfd = next
	}
	unix.Close(dfd)
	return nil
}
