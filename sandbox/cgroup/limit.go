package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Limits bound what a cgroup's processes may take; a zero field leaves
// its limit as it is, and a negative one removes it.
type Limits struct {
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
	// CPUPercent is of one core: 50 is half of one, 200 two whole.
	CPUPercent int `json:"cpu_percent,omitempty"`
	Processes  int `json:"processes,omitempty"`
}

// cpuPeriod is the period the CPU quota is given over (the kernel's
// default), in microseconds.
const cpuPeriod = 100000

// controller is how one limit is written on each hierarchy.
type controller struct {
	name   string // v2's and v1's controller
	v2File string
	v1File string
	v2, v1 func(int64) string // the value written; n < 0 is no limit
}

// controllers are the limits, as a function: a table no one can change.
func controllers() []controller {
	return []controller{
		{name: "memory", v2File: "memory.max", v1File: "memory.limit_in_bytes",
			v2: func(n int64) string { return maxOr(n, strconv.FormatInt(n, 10)) },
			v1: func(n int64) string { return strconv.FormatInt(n, 10) }},
		{name: "cpu", v2File: "cpu.max", v1File: "cpu.cfs_quota_us",
			v2: func(n int64) string {
				return maxOr(n, strconv.FormatInt(n*cpuPeriod/100, 10)) + " " + strconv.Itoa(cpuPeriod)
			},
			v1: func(n int64) string { return strconv.FormatInt(max(n*cpuPeriod/100, -1), 10) }},
		{name: "pids", v2File: "pids.max", v1File: "pids.max",
			v2: func(n int64) string { return maxOr(n, strconv.FormatInt(n, 10)) },
			v1: func(n int64) string { return maxOr(n, strconv.FormatInt(n, 10)) }},
	}
}

func maxOr(n int64, s string) string {
	if n < 0 {
		return "max"
	}
	return s
}

// Limit sets the limits of the cgroup at dir, made by Make. Where the
// unified hierarchy has no such controller for it (a machine that keeps
// memory, cpu and pids on cgroup v1, as hybrid systemd does), the
// cgroup's processes are put in a cgroup of the same name on that
// controller's v1 hierarchy, beside this process's own, and limited
// there; their children follow them. The error names each limit that
// could not be set.
func Limit(dir string, l Limits) error {
	if filepath.Base(dir) == "." || !strings.HasPrefix(filepath.Base(dir), "app-") {
		return fmt.Errorf("cgroup %s: not an app's", dir)
	}
	var errs []error
	for _, c := range controllers() {
		n := int64(0)
		switch c.name {
		case "memory":
			n = l.MemoryBytes
		case "cpu":
			n = int64(l.CPUPercent)
		case "pids":
			n = int64(l.Processes)
		}
		if n == 0 {
			continue
		}
		if err := limitOne(dir, c, n); err != nil {
			errs = append(errs, fmt.Errorf("%s limit: %w", c.name, err))
		}
	}
	return errors.Join(errs...)
}

func limitOne(dir string, c controller, n int64) error {
	if _, err := os.Stat(filepath.Join(dir, c.v2File)); err != nil {
		// Its parent may give it the controller, where the parent has it
		// and holds no process itself (cgroup v2's rule).
		enable(filepath.Dir(dir), c.name)
	}
	if _, err := os.Stat(filepath.Join(dir, c.v2File)); err == nil {
		if err := os.WriteFile(filepath.Join(dir, c.v2File), []byte(c.v2(n)), 0); err != nil && !gone(err) {
			return err
		}
		return nil // set, or the instance ended meanwhile: nothing left to bound
	}
	v1, err := v1Dir(c.name, filepath.Base(dir))
	if err != nil {
		return err
	}
	if _, err := os.Stat(v1); n < 0 && errors.Is(err, os.ErrNotExist) {
		return nil // never limited there
	}
	if err := os.Mkdir(v1, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("making %s: %w", v1, err)
	}
	if c.name == "cpu" {
		if err := os.WriteFile(filepath.Join(v1, "cpu.cfs_period_us"), []byte(strconv.Itoa(cpuPeriod)), 0); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(v1, "cpu.cfs_period_us"), err)
		}
	}
	if err := os.WriteFile(filepath.Join(v1, c.v1File), []byte(c.v1(n)), 0); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(v1, c.v1File), err)
	}
	return follow(dir, v1)
}

// enable asks parent to give its children the controller.
func enable(parent, name string) {
	b, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil || !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+name+" ") {
		return
	}
	os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+"+name), 0)
}

// follow moves every process of the v2 cgroup dir into the v1 cgroup
// v1, until a pass finds none left out (one forked meanwhile is moved
// on the next pass; a child forked after its parent moved is in v1
// already). A process is moved once: one that still is not listed in
// v1 after it was is exiting (the kernel takes the write and moves
// nothing), and writing it again each pass would never end.
func follow(dir, v1 string) error {
	tried := map[string]bool{}
	for pass := 0; pass < 10; pass++ {
		// The instance's first, then v1's: a process forked between the
		// two reads by one moved already is in v1's list, not left out.
		all, err := procs(dir)
		if gone(err) {
			return nil // the instance ended (its limit may be why): none to move
		}
		if err != nil {
			return err
		}
		in, err := procs(v1)
		if err != nil {
			return err
		}
		moved := false
		for p := range all {
			if in[p] || tried[p] {
				continue
			}
			tried[p] = true
			err := os.WriteFile(filepath.Join(v1, "cgroup.procs"), []byte(p), 0)
			if gone(err) {
				continue // ended meanwhile
			}
			if err != nil {
				return fmt.Errorf("moving process %s into %s: %w", p, v1, err)
			}
			moved = true // its children forked before the move come next pass
		}
		if !moved {
			return nil
		}
	}
	return fmt.Errorf("%s: its processes kept forking while they were moved into %s", dir, v1)
}

// gone says err is of a process or cgroup that ended: the kernel
// answers ENODEV for the files of a cgroup being removed.
func gone(err error) bool {
	return errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENODEV) || errors.Is(err, os.ErrNotExist)
}

func procs(dir string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range strings.Fields(string(b)) {
		out[p] = true
	}
	return out, nil
}

// v1Dir is where a cgroup named name goes on controller's v1 hierarchy:
// beside this process's own cgroup there.
func v1Dir(controller, name string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[0] == "0" {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c != controller {
				continue
			}
			for _, root := range []string{"/sys/fs/cgroup/" + f[1], "/sys/fs/cgroup/" + controller} {
				if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err == nil {
					return filepath.Join(root, filepath.Clean("/"+f[2]), name), nil
				}
			}
		}
	}
	return "", fmt.Errorf("no %s controller on either cgroup hierarchy", controller)
}

// removeV1 removes the v1 cgroups Limit made for the cgroup named name.
func removeV1(name string) {
	for _, c := range controllers() {
		if d, err := v1Dir(c.name, name); err == nil {
			os.Remove(d)
		}
	}
}

// readLimits reads what Limit set, from either hierarchy (zero: none).
func readLimits(dir string) (Limits, error) {
	var l Limits
	var removed error
	read := func(p string) (string, bool) {
		b, err := os.ReadFile(p)
		if errors.Is(err, syscall.ENODEV) && removed == nil {
			removed = err // the cgroup is being removed: what is read is not its
		}
		return strings.TrimSpace(string(b)), err == nil
	}
	for _, c := range controllers() {
		v, ok := read(filepath.Join(dir, c.v2File))
		v1 := false
		if !ok {
			d, err := v1Dir(c.name, filepath.Base(dir))
			if err != nil {
				continue
			}
			if v, ok = read(filepath.Join(d, c.v1File)); !ok {
				continue
			}
			v1 = true
		}
		f := strings.Fields(v)
		if len(f) == 0 || f[0] == "max" || f[0] == "-1" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch c.name {
		case "memory":
			if !v1 || n < 1<<62 { // v1 says "no limit" with a huge number
				l.MemoryBytes = n
			}
		case "cpu":
			l.CPUPercent = int(n * 100 / cpuPeriod)
		case "pids":
			l.Processes = int(n)
		}
	}
	if removed != nil {
		return Limits{}, fmt.Errorf("cgroup %s: %w", dir, removed)
	}
	return l, nil
}
