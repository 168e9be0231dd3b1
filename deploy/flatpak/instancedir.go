package flatpak

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"arbor/sandbox"
	"arbor/store/keyfile"
)

// An instance directory is where a running app is described for others,
// as flatpak keeps it: $XDG_RUNTIME_DIR/.flatpak/ID/ with info (the
// app's /.flatpak-info), pid (the process that runs the sandbox) and
// bwrapinfo.json (the sandbox's first process, as the host sees it).
// Portals, `arbor ps` and `arbor kill` read them.

// InstancesRoot is the directory of instance directories: in
// $XDG_RUNTIME_DIR, else in the user's cache directory, where GLib (and
// so flatpak and the portals) looks without one.
func InstancesRoot() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, ".flatpak"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no XDG_RUNTIME_DIR and no cache directory for the instances: %w", err)
	}
	return filepath.Join(d, ".flatpak"), nil
}

// InstanceDir is one app instance's directory.
type InstanceDir struct {
	ID   string
	Path string
}

// NewInstanceDir makes a directory for a new instance, with a fresh
// number for its name as flatpak's are; a dead instance's directory is
// taken over.
func NewInstanceDir(root string) (*InstanceDir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("the instances' directory: %w", err)
	}
	for try := 0; try < 100; try++ {
		var b [4]byte
		rand.Read(b[:])
		id := strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[:])), 10)
		p := filepath.Join(root, id)
		if err := os.Mkdir(p, 0o700); err == nil {
			return &InstanceDir{ID: id, Path: p}, nil
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("an instance directory: %w", err)
		}
	}
	return nil, errors.New("no free instance number after 100 tries")
}

// WriteInfo writes the instance's info, which its /.flatpak-info is.
func (d *InstanceDir) WriteInfo(info []byte) error {
	return os.WriteFile(filepath.Join(d.Path, "info"), info, 0o600)
}

// Started records the processes: pid runs the sandbox, child is its
// first process inside.
func (d *InstanceDir) Started(pid, child int) error {
	if err := os.WriteFile(filepath.Join(d.Path, "pid"), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]int{"child-pid": child})
	return os.WriteFile(filepath.Join(d.Path, "bwrapinfo.json"), b, 0o600)
}

// InCgroup records the cgroup the instance runs in.
func (d *InstanceDir) InCgroup(dir string) error {
	return os.WriteFile(filepath.Join(d.Path, "cgroup"), []byte(dir), 0o600)
}

// Remove removes the directory once the instance has ended.
func (d *InstanceDir) Remove() error { return os.RemoveAll(d.Path) }

// RunningInstance is an instance as its directory describes it.
type RunningInstance struct {
	ID       string `json:"instance"`
	PID      int    `json:"pid"`       // runs the sandbox
	ChildPID int    `json:"child_pid"` // the sandbox's first process
	App      string `json:"application"`
	Branch   string `json:"branch"`
	Arch     string `json:"arch"`
	Runtime  string `json:"runtime"`
	Commit   string `json:"active"` // the app's commit
	Cgroup   string `json:"cgroup,omitempty"`
}

// ListInstances reads the instance directories under root, removing
// those whose process is gone.
func ListInstances(root string) ([]RunningInstance, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}
	var out []RunningInstance
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		ri, live := readInstance(dir)
		if !live {
			// Only a directory that says its process is gone: one being
			// made has no pid yet.
			if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
				os.RemoveAll(dir)
			}
			continue
		}
		ri.ID = e.Name()
		out = append(out, ri)
	}
	return out, nil
}

func readInstance(dir string) (RunningInstance, bool) {
	var ri RunningInstance
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		return ri, false
	}
	if ri.PID, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil || ri.PID <= 0 || syscall.Kill(ri.PID, 0) == syscall.ESRCH {
		return ri, false
	}
	var bw struct {
		Child int `json:"child-pid"`
	}
	// The sandbox's first process is its runner's child: a number the
	// file names that is not (the runner died, the number was taken
	// again) is no instance's, to be killed or entered.
	if b, err := os.ReadFile(filepath.Join(dir, "bwrapinfo.json")); err == nil && json.Unmarshal(b, &bw) == nil && parentOf(bw.Child) == ri.PID {
		ri.ChildPID = bw.Child
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		ri.Cgroup = string(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "info")); err == nil {
		if kf, err := keyfile.ParseBytes(b); err == nil {
			ri.App, _ = kf.Get("Application", "name")
			ri.Runtime, _ = kf.Get("Application", "runtime")
			ri.Branch, _ = kf.Get("Instance", "branch")
			ri.Arch, _ = kf.Get("Instance", "arch")
			ri.Commit, _ = kf.Get("Instance", "app-commit")
		}
	}
	return ri, true
}

// parentOf is the parent of process pid, 0 when it cannot be told.
func parentOf(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold anything
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// KillInstances ends the instances whose ID or app ID is target: the
// sandbox's first process is killed, and with it everything in its
// namespaces. It returns those it killed.
func KillInstances(root, target string) ([]RunningInstance, error) {
	all, err := ListInstances(root)
	if err != nil {
		return nil, err
	}
	var killed []RunningInstance
	for _, ri := range all {
		if ri.ID != target && ri.App != target {
			continue
		}
		pid := ri.ChildPID
		if pid <= 0 {
			pid = ri.PID // not started yet: its runner, which takes the sandbox along
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return killed, fmt.Errorf("killing instance %s (%s, pid %d): %w", ri.ID, ri.App, pid, err)
		}
		killed = append(killed, ri)
	}
	if len(killed) == 0 {
		return nil, fmt.Errorf("%s: no running instance or app of that name", target)
	}
	return killed, nil
}

// FindInstance is the instance whose ID or app ID is target (the first
// started, for an app running more than once), with the permissions its
// info records.
func FindInstance(root, target string) (RunningInstance, *sandbox.Context, error) {
	all, err := ListInstances(root)
	if err != nil {
		return RunningInstance{}, nil, err
	}
	for _, ri := range all {
		if ri.ID != target && ri.App != target {
			continue
		}
		if ri.ChildPID <= 0 {
			return ri, nil, fmt.Errorf("instance %s (%s) has not started yet", ri.ID, ri.App)
		}
		b, err := os.ReadFile(filepath.Join(root, ri.ID, "info"))
		if err != nil {
			return ri, nil, err
		}
		kf, err := keyfile.ParseBytes(b)
		if err != nil {
			return ri, nil, fmt.Errorf("instance %s: its info: %w", ri.ID, err)
		}
		c, err := sandbox.ParseContext(kf)
		if err != nil {
			return ri, nil, fmt.Errorf("instance %s: its info: %w", ri.ID, err)
		}
		return ri, c, nil
	}
	return RunningInstance{}, nil, fmt.Errorf("%s: no running instance or app of that name", target)
}
