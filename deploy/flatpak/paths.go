package flatpak

import (
	"fmt"
	"os"
	"path/filepath"
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
