package flatpak

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"arbor/store/keyfile"
)

// DefaultRepo is the repository used when none is named, as flatpak has
// installations: the system one for root, else one per user.
func DefaultRepo() (string, error) {
	if os.Geteuid() == 0 {
		return SystemRepo, nil
	}
	return UserRepo()
}

// SystemRepo is the system installation's repository.
const SystemRepo = "/var/lib/arbor/repo"

// UserRepo is the per-user installation's repository.
func UserRepo() (string, error) {
	switch {
	case os.Getenv("XDG_DATA_HOME") != "":
		return filepath.Join(os.Getenv("XDG_DATA_HOME"), "arbor", "repo"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the default repository: %w", err)
	}
	return filepath.Join(home, ".local", "share", "arbor", "repo"), nil
}

// ConfigDir is where the system's arbor configuration is: $ARBOR_CONFIG_DIR,
// else /etc/arbor (as flatpak's is $FLATPAK_CONFIG_DIR, else /etc/flatpak).
func ConfigDir() string {
	if d := os.Getenv("ARBOR_CONFIG_DIR"); d != "" {
		return d
	}
	return "/etc/arbor"
}

// NamedInstallationRepo is the repository of the installation a name
// means, as flatpak's --installation: "default" is the system one; any
// other is an [Installation "NAME"] group, its Path= the installation's
// directory, in a *.conf file of ConfigDir()/installations.d.
func NamedInstallationRepo(name string) (string, error) {
	if name == "default" {
		return SystemRepo, nil
	}
	dir := filepath.Join(ConfigDir(), "installations.d")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	group := fmt.Sprintf("Installation %q", name)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("installation %s: %w", name, err)
		}
		kf, err := keyfile.ParseBytes(b)
		if err != nil {
			return "", fmt.Errorf("installation %s: %s: %w", name, f, err)
		}
		if !kf.HasGroup(group) {
			continue
		}
		p, ok := kf.Get(group, "Path")
		if !ok || !filepath.IsAbs(p) {
			return "", fmt.Errorf("installation %s: %s: Path= must be an absolute directory", name, f)
		}
		return filepath.Join(filepath.Clean(p), "repo"), nil
	}
	return "", fmt.Errorf("no installation named %q (default, or one an [Installation] group in %s names)", name, dir)
}
