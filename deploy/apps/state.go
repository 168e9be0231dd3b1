package apps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/sandbox/cgroup"
	"arbor/store"
	"arbor/store/object"
)

// Remote is a remote as a listing shows it.
type Remote struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Title     string `json:"title,omitempty"`
	Enabled   bool   `json:"enabled"`
	Priority  int    `json:"priority"`
	GPGVerify bool   `json:"gpg_verify"`
}

func group(name string) string { return fmt.Sprintf("remote %q", name) }

// Remotes lists the remotes, highest priority first (flatpak's xa.prio,
// 1 when unset), disabled ones (xa.disable) included.
func (m *Manager) Remotes() []Remote {
	r := m.Repo
	out := []Remote{}
	for _, name := range fetch.ListRemotes(r) {
		rm, err := fetch.LoadRemote(r, name)
		if err != nil {
			continue
		}
		cfg := r.Config()
		title, _ := cfg.Get(group(name), "xa.title")
		disabled, _ := cfg.Get(group(name), "xa.disable")
		prio := 1
		if v, ok := cfg.Get(group(name), "xa.prio"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				prio = n
			}
		}
		out = append(out, Remote{Name: name, URL: rm.URL, Title: title, Enabled: disabled != "true", Priority: prio, GPGVerify: rm.GPGVerify})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out
}

// RemoteChange edits a remote; nil fields stay as they are.
type RemoteChange struct {
	Enabled  *bool `json:"enabled,omitempty"`
	Priority *int  `json:"priority,omitempty"`
}

// ModifyRemote enables, disables or reprioritises a remote, with
// flatpak's keys, recorded as remote-modify.
func (m *Manager) ModifyRemote(ctx context.Context, name string, ch RemoteChange) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !m.Repo.Config().HasGroup(group(name)) {
		return fmt.Errorf("remote %s: %w", name, fetch.ErrNoRemote)
	}
	err := m.Repo.EditConfig(func(cfg store.ConfigFile) error {
		if ch.Enabled != nil {
			if *ch.Enabled {
				cfg.Delete(group(name), "xa.disable")
			} else {
				cfg.Set(group(name), "xa.disable", "true")
			}
		}
		if ch.Priority != nil {
			cfg.Set(group(name), "xa.prio", strconv.Itoa(*ch.Priority))
		}
		return nil
	})
	if herr := m.record(history.Entry{Op: "remote-modify", Remote: name}, err); herr != nil && err == nil {
		return herr
	}
	return err
}

// Use is what an installed ref takes on disk.
type Use struct {
	Ref    flatpak.Ref `json:"-"`
	Origin string      `json:"origin"`
	Bytes  uint64      `json:"bytes"`
	Unused bool        `json:"unused"` // a runtime no installed app needs
}

// DiskUse measures what each installed app and runtime takes: the blocks
// of its commit's file objects present here (a lazy install holds only
// what was read), each distinct object counted once per ref. Largest
// first.
func (m *Manager) DiskUse(ctx context.Context) ([]Use, error) {
	refs, err := m.In.Installed()
	if err != nil {
		return nil, err
	}
	unused, err := m.In.Unused()
	if err != nil {
		return nil, err
	}
	isUnused := map[flatpak.Ref]bool{}
	for _, u := range unused {
		isUnused[u] = true
	}
	out := []Use{}
	for _, ref := range refs {
		d, err := m.In.Get(ref)
		if err != nil {
			return nil, err
		}
		n, err := DiskBytes(ctx, m.Repo, d.Commit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		out = append(out, Use{Ref: ref, Origin: d.Origin, Bytes: n, Unused: isUnused[ref]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out, nil
}

// DiskBytes sums the blocks of a commit's distinct file objects present
// in the repository.
func DiskBytes(ctx context.Context, r *store.Repo, c object.Checksum) (uint64, error) {
	root, err := r.RootOf(c)
	if err != nil {
		return 0, err
	}
	var total uint64
	seen := map[object.Checksum]bool{}
	err = store.Distinct{
		Dir: func(ctx context.Context, d store.Dir) error {
			for _, f := range d.Entries.Files {
				if seen[f.Checksum] {
					continue
				}
				seen[f.Checksum] = true
				var st syscall.Stat_t
				if syscall.Stat(r.ObjectPath(f.Checksum, object.TypeFile), &st) == nil {
					total += uint64(st.Blocks) * 512
				}
			}
			return ctx.Err()
		},
		// A lazy install's directories not yet fetched hold nothing here.
		OnError: func(store.Dir, error) error { return nil },
	}.Walk(ctx, r, root)
	return total, err
}

// Instance is an app running from the installation.
type Instance struct {
	Ref flatpak.Ref `json:"-"`
	PID int         `json:"pid"`
	// InstanceID and ChildPID are from the instance's directory, where
	// it has one: its name, and the sandbox's first process.
	InstanceID string          `json:"instance,omitempty"`
	ChildPID   int             `json:"child_pid,omitempty"`
	Runtime    string          `json:"runtime"`          // the runtime its metadata names
	Cgroup     string          `json:"cgroup,omitempty"` // its own, where it has one
	Usage      *cgroup.Usage   `json:"usage,omitempty"`  // what its cgroup used so far
	Commit     object.Checksum `json:"-"`
	// UpdateLanded: the app runs a commit older than the one installed
	// now, and is to be restarted to use it.
	UpdateLanded bool `json:"update_landed"`
}

// Running lists the apps running now, from the commits their processes
// hold.
func (m *Manager) Running(ctx context.Context) ([]Instance, error) {
	inst, err := m.In.Instances()
	if err != nil {
		return nil, err
	}
	installed, err := m.In.InstalledOf(flatpak.App)
	if err != nil {
		return nil, err
	}
	dirs := map[int]flatpak.RunningInstance{}
	if root, err := flatpak.InstancesRoot(); err == nil {
		ris, _ := flatpak.ListInstances(root) // without them, the holds still tell what runs
		for _, ri := range ris {
			dirs[ri.PID] = ri
		}
	}
	out := []Instance{}
	for _, i := range inst {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(i.Commits) == 0 {
			continue
		}
		for _, ref := range installed {
			if _, err := os.Stat(filepath.Join(m.In.RefDir(ref), i.Commits[0].String())); err != nil {
				continue
			}
			d, err := m.In.Get(ref)
			if err != nil {
				continue
			}
			ri := dirs[i.PID]
			in := Instance{Ref: ref, PID: i.PID, InstanceID: ri.ID, ChildPID: ri.ChildPID, Runtime: d.Metadata.Runtime, Cgroup: ri.Cgroup,
				Commit: i.Commits[0], UpdateLanded: d.Commit != i.Commits[0]}
			if ri.Cgroup != "" {
				if u, err := cgroup.Read(ri.Cgroup); err == nil {
					in.Usage = &u
				}
			}
			out = append(out, in)
		}
	}
	return out, nil
}

// Limit bounds what the running instances named target (an instance's
// number, or an app's id for all of its) may take: memory, CPU, and
// processes. It returns the instances limited, with their usage and
// limits read again.
func (m *Manager) Limit(ctx context.Context, target string, l cgroup.Limits) ([]Instance, error) {
	run, err := m.Running(ctx)
	if err != nil {
		return nil, err
	}
	var out []Instance
	var errs []error
	for _, in := range run {
		if in.InstanceID != target && in.Ref.ID != target {
			continue
		}
		if in.Cgroup == "" {
			errs = append(errs, fmt.Errorf("instance %s (%s) runs in no cgroup of its own", in.InstanceID, in.Ref.ID))
			continue
		}
		if err := cgroup.Limit(in.Cgroup, l); err != nil {
			errs = append(errs, fmt.Errorf("instance %s (%s): %w", in.InstanceID, in.Ref.ID, err))
			continue
		}
		if u, err := cgroup.Read(in.Cgroup); err == nil {
			in.Usage = &u
		} else {
			// Ended meanwhile (held to too little, say), perhaps before
			// its usage was first read: what was set.
			var u cgroup.Usage
			if in.Usage != nil {
				u = *in.Usage
			}
			if l.MemoryBytes != 0 {
				u.Limits.MemoryBytes = max(l.MemoryBytes, 0)
			}
			if l.CPUPercent != 0 {
				u.Limits.CPUPercent = max(l.CPUPercent, 0)
			}
			if l.Processes != 0 {
				u.Limits.Processes = max(l.Processes, 0)
			}
			in.Usage = &u
		}
		out = append(out, in)
	}
	if len(out) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("%s: no running instance or app of that name", target)
	}
	return out, errors.Join(errs...)
}
