// Package cgroup puts a sandbox in a cgroup (v2) of its own, beside the
// caller's, so that what it runs can be told apart, counted and ended as
// one: what `arbor ps` shows of an instance.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNone says there is no cgroup v2 hierarchy this process may write.
var ErrNone = errors.New("no writable cgroup v2 hierarchy")

// Make makes a cgroup named name beside this process's own (a child of
// it) and returns its directory, and the directory open for a clone into
// it (CLONE_INTO_CGROUP), which is cheaper than moving a process in.
func Make(name string) (string, *os.File, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", nil, fmt.Errorf("cgroup name %q", name)
	}
	parent, err := own()
	if err != nil {
		return "", nil, err
	}
	sweep(parent, name)
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("%w: %v", ErrNone, err)
		}
		return "", nil, fmt.Errorf("making cgroup %s: %w", dir, err)
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		os.Remove(dir)
		return "", nil, fmt.Errorf("opening cgroup %s: %w", dir, err)
	}
	return dir, f, nil
}

// Move moves pid into the cgroup at dir; its descendants started later
// are in it too.
func Move(dir string, pid int) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("moving process %d into cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// sweep removes the empty cgroups beside parent/name of the same kind
// (the name up to its last '-'): those of sandboxes whose last process
// was still being torn down when their runner removed them.
func sweep(parent, name string) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return
	}
	old, _ := filepath.Glob(filepath.Join(parent, name[:i+1]+"*"))
	for _, d := range old {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil && len(strings.TrimSpace(string(b))) == 0 {
			os.Remove(d)
		}
	}
	// And those Limit made on v1 hierarchies: one with a process left
	// refuses to go.
	for _, c := range controllers() {
		if d, err := v1Dir(c.name, name[:i+1]+"*"); err == nil {
			old, _ := filepath.Glob(d)
			for _, d := range old {
				os.Remove(d)
			}
		}
	}
}

// Remove removes a cgroup whose processes have all ended. One still
// being torn down is left for the next Make of its kind.
func Remove(dir string) error {
	removeV1(filepath.Base(dir))
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}

// Usage is what a cgroup's processes have used: CPU time, and memory
// where the memory controller is on (-1 where it is not).
type Usage struct {
	CPUMicros   int64  `json:"cpu_usec"`
	MemoryBytes int64  `json:"memory_bytes"`
	Processes   int    `json:"processes"`
	Limits      Limits `json:"limits"` // what Limit set
}

// Read reads a cgroup's usage.
func Read(dir string) (Usage, error) {
	u := Usage{MemoryBytes: -1}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			u.CPUMicros, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		u.MemoryBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	} else if v1, err := v1Dir("memory", filepath.Base(dir)); err == nil {
		if b, err := os.ReadFile(filepath.Join(v1, "memory.usage_in_bytes")); err == nil {
			u.MemoryBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	if u.Limits, err = readLimits(dir); err != nil {
		return u, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
		u.Processes = len(strings.Fields(string(b)))
	}
	// Removed meanwhile, its files read as nothing: not its usage.
	if _, err := os.Stat(dir); err != nil {
		return u, err
	}
	return u, nil
}

// own is the directory of this process's cgroup v2. The hierarchy is
// where systemd and the kernel's documentation put it: /sys/fs/cgroup,
// or /sys/fs/cgroup/unified beside v1 controllers; a statfs of each is
// cheaper than reading the mount table on every start.
func own() (string, error) {
	root := ""
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			root = p
			break
		}
	}
	if root == "" {
		return "", ErrNone
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(root, filepath.Clean("/"+p)), nil
		}
	}
	return "", ErrNone
}
