package sysroot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Deployment is one deployed commit, in boot menu order (Index 0 boots by
// default).
type Deployment struct {
	Index      int             `json:"index"`
	Stateroot  string          `json:"stateroot"`
	Commit     object.Checksum `json:"checksum"`
	Serial     int             `json:"serial"`
	BootCsum   string          `json:"bootcsum"`
	BootSerial int             `json:"bootserial"`
	Kargs      []string        `json:"kargs"`
	Booted     bool            `json:"booted"`
	Origin     *keyfile.File   `json:"-"`

	// From its boot entry, reused when the configuration is rewritten.
	title, linux, initrd, devicetree, fdtdir string
	entryFile                                string
}

// Lazy deployments have their /usr mounted through the daemon.
func (d *Deployment) Lazy() bool {
	if d.Origin == nil {
		return false
	}
	l, _ := d.Origin.Bool("arbor", "lazy", false)
	return l
}

// Name is COMMIT.SERIAL, the deployment's directory name.
func (d *Deployment) Name() string { return fmt.Sprintf("%s.%d", d.Commit, d.Serial) }

// Refspec is what the deployment follows, from its origin file.
func (d *Deployment) Refspec() string {
	if d.Origin == nil {
		return ""
	}
	return d.Origin.String("origin", "refspec", "")
}

// Pinned deployments are never removed to make room.
func (d *Deployment) Pinned() bool {
	if d.Origin == nil {
		return false
	}
	p, _ := d.Origin.Bool("libostree-transient", "pinned", false)
	return p
}

// Dir is the deployment's root directory.
func (s *Sysroot) Dir(d *Deployment) string {
	return filepath.Join(s.stateroot(d.Stateroot), "deploy", d.Name())
}

func (s *Sysroot) originPath(d *Deployment) string { return s.Dir(d) + ".origin" }

// parseName reads COMMIT.SERIAL.
func parseName(name string) (object.Checksum, int, error) {
	c, serial, ok := strings.Cut(name, ".")
	if !ok {
		return object.Zero, 0, fmt.Errorf("deployment %q: not COMMIT.SERIAL", name)
	}
	sum, err := object.ParseChecksum(c)
	if err != nil {
		return object.Zero, 0, fmt.Errorf("deployment %q: %w", name, err)
	}
	n, err := strconv.Atoi(serial)
	if err != nil || n < 0 {
		return object.Zero, 0, fmt.Errorf("deployment %q: bad serial", name)
	}
	return sum, n, nil
}

// entry is one parsed bootloader entry.
type entry struct {
	file                                     string // where it was read from
	version                                  int
	options                                  []string
	title, linux, initrd, devicetree, fdtdir string
}

func parseEntry(b []byte) entry {
	var e entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch k {
		case "version":
			e.version, _ = strconv.Atoi(strings.TrimSpace(v))
		case "options":
			e.options = strings.Fields(v)
		case "title":
			e.title = strings.TrimSpace(v)
			if i := strings.LastIndex(e.title, " (ostree:"); i >= 0 {
				e.title = e.title[:i]
			}
		case "linux":
			e.linux = strings.TrimSpace(v)
		case "initrd":
			e.initrd = strings.TrimSpace(v)
		case "devicetree":
			e.devicetree = strings.TrimSpace(v)
		case "fdtdir":
			e.fdtdir = strings.TrimSpace(v)
		}
	}
	return e
}

// Deployments lists the deployments the current boot configuration names,
// as ostree reads them: each loader entry's ostree= argument leads through
// the boot.B symlinks to a deployment directory.
func (s *Sysroot) Deployments() ([]*Deployment, error) {
	b := s.bootVersion()
	dir := filepath.Join(s.Path, "boot", fmt.Sprintf("loader.%d", b), "entries")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading boot entries: %w", err)
	}
	var entries []entry
	for _, ent := range ents {
		if !strings.HasSuffix(ent.Name(), ".conf") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("boot entry %s: %w", ent.Name(), err)
		}
		e := parseEntry(data)
		e.file = filepath.Join(dir, ent.Name())
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].version > entries[j].version })
	var root syscall.Stat_t
	booted := false
	if _, err := os.Stat("/run/ostree-booted"); err == nil {
		booted = syscall.Stat("/", &root) == nil
	}
	var out []*Deployment
	for _, e := range entries {
		var karg string
		var kargs []string
		for _, o := range e.options {
			if v, ok := strings.CutPrefix(o, "ostree="); ok {
				karg = v
			} else {
				kargs = append(kargs, o)
			}
		}
		if karg == "" {
			continue // not ours
		}
		parts := strings.Split(strings.TrimPrefix(karg, "/"), "/")
		if len(parts) != 5 || parts[0] != "ostree" {
			return nil, fmt.Errorf("boot entry argument ostree=%s: not /ostree/boot.B/STATEROOT/BOOTCSUM/SERIAL", karg)
		}
		target, err := os.Readlink(filepath.Join(s.Path, filepath.FromSlash(karg)))
		if err != nil {
			return nil, fmt.Errorf("boot entry argument ostree=%s: %w", karg, err)
		}
		c, serial, err := parseName(filepath.Base(target))
		if err != nil {
			return nil, err
		}
		bs, _ := strconv.Atoi(parts[4])
		d := &Deployment{Index: len(out), Stateroot: parts[2], Commit: c, Serial: serial, BootCsum: parts[3], BootSerial: bs, Kargs: kargs,
			title: e.title, linux: e.linux, initrd: e.initrd, devicetree: e.devicetree, fdtdir: e.fdtdir, entryFile: e.file}
		if err := ValidateStateroot(d.Stateroot); err != nil {
			return nil, err
		}
		if ob, err := os.ReadFile(s.originPath(d)); err == nil {
			if d.Origin, err = keyfile.ParseBytes(ob); err != nil {
				return nil, fmt.Errorf("%s: %w", s.originPath(d), err)
			}
		}
		var st syscall.Stat_t
		d.Booted = booted && syscall.Stat(s.Dir(d), &st) == nil && st.Dev == root.Dev && st.Ino == root.Ino
		out = append(out, d)
	}
	return out, nil
}

// write makes ds the boot configuration: a complete new one is written
// beside the current one (refs, the boot.B.S symlinks, the loader
// entries), then the boot/loader symlink is swapped, which is the switch;
// what the old configuration alone used goes afterwards. A crash at any
// point leaves one whole configuration, old or new.
func (s *Sysroot) write(ctx context.Context, ds []*Deployment) error {
	seen := map[string]int{}
	roots := map[string]bool{}
	for i, d := range ds {
		d.Index = i
		key := d.Stateroot + "/" + d.BootCsum
		d.BootSerial = seen[key]
		seen[key]++
		roots[d.Stateroot] = true
	}
	cur, err := s.Deployments()
	if err != nil {
		return err
	}
	// When the boot loader would be told nothing new (same kernels,
	// arguments and titles in the same order), only the ostree/boot.B
	// links change, as ostree does: a new sub-version of the same boot
	// version.
	linksOnly := len(cur) > 0 && sameBootConfig(cur, ds, s.Version)
	nb := 1 - s.bootVersion()
	if linksOnly {
		nb = s.bootVersion()
	}
	ns := 1 - s.subBootVersion(nb)
	// The deployed commits are kept from prune by refs, before anything
	// names them.
	for i, d := range ds {
		if err := s.Repo.SetRef(fmt.Sprintf("ostree/%d/%d/%d", nb, ns, i), d.Commit); err != nil {
			return err
		}
	}
	farm := filepath.Join(s.Path, "ostree", fmt.Sprintf("boot.%d.%d", nb, ns))
	if err := os.RemoveAll(farm); err != nil {
		return err
	}
	for _, d := range ds {
		dir := filepath.Join(farm, d.Stateroot, d.BootCsum)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		target := filepath.Join("..", "..", "..", "deploy", d.Stateroot, "deploy", d.Name())
		if err := os.Symlink(target, filepath.Join(dir, strconv.Itoa(d.BootSerial))); err != nil {
			return err
		}
	}
	if err := atomic.SyncDir(filepath.Join(s.Path, "ostree")); err != nil {
		return err
	}
	if err := s.syncBoot(); err != nil {
		return err
	}
	if err := atomic.Symlink(filepath.Base(farm), filepath.Join(s.Path, "ostree", fmt.Sprintf("boot.%d", nb)), true); err != nil {
		return fmt.Errorf("boot links: %w", err)
	}
	if !linksOnly {
		// Each deployment's kernel files are (again) made sure of in
		// /boot, those an older arbor or a debug option left out too.
		for _, d := range ds {
			err := s.installKernel(d)
			if err != nil && d.linux != "" && (errors.Is(err, errNoKernel) || errors.Is(err, fs.ErrNotExist)) {
				// A deployment already booting from /boot whose files
				// arbor cannot read a kernel from: left as it is.
				continue
			}
			if err != nil {
				return fmt.Errorf("deployment %s's kernel: %w", d.Name(), err)
			}
		}
		if err := s.writeLoader(ctx, nb, ds, len(roots) > 1); err != nil {
			return err
		}
	}
	// Readers that cache the deployment list (libostree's
	// load_if_changed) notice a change by ostree/deploy's mtime.
	if err := s.bumpMtime(); err != nil {
		return err
	}
	if s.Written != nil {
		s.Written(BootWrite{Swap: !linksOnly, BootVersion: nb, SubBootVersion: ns, CountChange: len(ds) - len(cur)})
	}
	if err := s.removeUnused(); err != nil {
		return err
	}
	// Objects go now unless the repository is busy (the daemon fetching
	// for a lazy deployment); then at the next cleanup.
	if _, err := s.Repo.Prune(ctx, store.PruneOptions{RefsOnly: true, Depth: 0, NoWait: true}); err != nil && !errors.Is(err, store.ErrLocked) {
		return err
	}
	return nil
}

// sameBootConfig reports whether the boot loader entries of a and b
// would say the same: stateroot, kernel, arguments and version, in order.
func sameBootConfig(a, b []*Deployment, version func(object.Checksum) string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Stateroot != b[i].Stateroot || a[i].BootCsum != b[i].BootCsum ||
			!slices.Equal(a[i].Kargs, b[i].Kargs) || version(a[i].Commit) != version(b[i].Commit) {
			return false
		}
	}
	return true
}

// writeLoader writes boot/loader.NB's entries for ds and switches
// boot/loader to it.
func (s *Sysroot) writeLoader(ctx context.Context, nb int, ds []*Deployment, showStateroot bool) error {
	boot := filepath.Join(s.Path, "boot")
	loader := filepath.Join(boot, fmt.Sprintf("loader.%d", nb))
	if err := os.RemoveAll(loader); err != nil {
		return err
	}
	entries := filepath.Join(loader, "entries")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return err
	}
	var all []bootEntry
	for _, d := range ds {
		e, err := s.entry(d, nb, len(ds), showStateroot)
		if err != nil {
			return err
		}
		all = append(all, e)
		name := fmt.Sprintf("ostree-%d-%s.conf", len(ds)-d.Index, d.Stateroot)
		if err := atomic.WriteFile(filepath.Join(entries, name), []byte(e.text()), 0o644, true); err != nil {
			return fmt.Errorf("boot entry %s: %w", name, err)
		}
	}
	if err := s.writeBootloaderConfig(ctx, loader, ds, all); err != nil {
		return err
	}
	for _, d := range []string{entries, loader, boot} {
		if err := atomic.SyncDir(d); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(filepath.Join(boot, "boot")); errors.Is(err, fs.ErrNotExist) {
		os.Symlink(".", filepath.Join(boot, "boot"))
	}
	// The switch.
	if err := atomic.Symlink(filepath.Base(loader), filepath.Join(boot, "loader"), true); err != nil {
		return fmt.Errorf("switching the boot configuration: %w", err)
	}
	return nil
}

// bootEntry is what a boot loader is told of one deployment.
type bootEntry struct {
	title                             string
	version                           int
	options                           []string
	linux, initrd, devicetree, fdtdir string
}

// text is the entry as a BLS file, as ostree writes it.
func (e bootEntry) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "title %s\nversion %d\noptions %s\nlinux %s\n", e.title, e.version, strings.Join(e.options, " "), e.linux)
	for _, kv := range [][2]string{{"initrd", e.initrd}, {"devicetree", e.devicetree}, {"fdtdir", e.fdtdir}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// entry is the boot entry of d.
func (s *Sysroot) entry(d *Deployment, bootVersion, count int, showStateroot bool) (bootEntry, error) {
	if d.linux == "" {
		// A new deployment: what it boots is read from its files.
		k, err := kernelLayout(s.Dir(d), s.Debug.NoDtb)
		if err != nil {
			return bootEntry{}, fmt.Errorf("deployment %s: %w", d.Name(), err)
		}
		bootDir := fmt.Sprintf("/ostree/%s-%s", d.Stateroot, d.BootCsum)
		d.linux = bootDir + "/" + k.vmlinuzName
		if k.initramfs != "" {
			d.initrd = bootDir + "/" + k.initramfsName
		}
		if k.devicetree != "" {
			d.devicetree = bootDir + "/" + k.devicetreeName
		} else if k.dtb != "" {
			d.fdtdir = bootDir + "/dtb"
		}
		if d.title, err = s.title(d); err != nil {
			return bootEntry{}, err
		}
	}
	title := d.title
	if showStateroot {
		title += fmt.Sprintf(" (ostree:%s:%d)", d.Stateroot, d.Index)
	} else {
		title += fmt.Sprintf(" (ostree:%d)", d.Index)
	}
	link := fmt.Sprintf("/ostree/boot.%d/%s/%s/%d", bootVersion, d.Stateroot, d.BootCsum, d.BootSerial)
	kargs := d.Kargs
	if d.initrd == "" {
		// Without an initramfs to set up the root, the kernel runs
		// the deployment's own ostree-prepare-root as init.
		edit := KargEdit{Replace: []string{"init=" + link + "/usr/lib/ostree/ostree-prepare-root"}}
		kargs, _ = edit.apply(kargs)
	}
	return bootEntry{title: title, version: count - d.Index, options: append(append([]string(nil), kargs...), "ostree="+link),
		linux: d.linux, initrd: d.initrd, devicetree: d.devicetree, fdtdir: d.fdtdir}, nil
}

// title is the os-release PRETTY_NAME (else ID) of the deployment, with
// its commit's version when that is not already in it.
func (s *Sysroot) title(d *Deployment) (string, error) {
	var osr []byte
	var err error
	for _, p := range []string{"usr/lib/os-release", "etc/os-release"} {
		if osr, err = os.ReadFile(filepath.Join(s.Dir(d), p)); err == nil {
			break
		}
	}
	vals := map[string]string{}
	for _, l := range strings.Split(string(osr), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			vals[k] = strings.Trim(v, `"'`)
		}
	}
	title := vals["PRETTY_NAME"]
	if title == "" {
		title = vals["ID"]
	}
	if title == "" {
		return "", fmt.Errorf("deployment %s: no PRETTY_NAME or ID in its os-release", d.Name())
	}
	if v := s.Version(d.Commit); v != "" && !strings.Contains(title, v) {
		title += " " + v
	}
	return title, nil
}

// Version is the commit's "version" metadata, if it has one.
func (s *Sysroot) Version(c object.Checksum) string { return s.metaString(c, "version") }

// SourceTitle is the commit's "ostree.source-title" metadata (what it
// was built from), if it has one.
func (s *Sysroot) SourceTitle(c object.Checksum) string {
	return s.metaString(c, "ostree.source-title")
}

func (s *Sysroot) metaString(c object.Checksum, key string) string {
	cm, err := s.Repo.ReadCommit(c)
	if err != nil {
		return ""
	}
	if v, ok := object.Lookup(cm.Metadata, key); ok {
		if str, ok := v.Value.(string); ok {
			return str
		}
	}
	return ""
}

// Cleanup removes what no deployment of the current boot configuration
// uses: the other configuration, deployment directories (also those a
// killed command left half written), kernels, stale ostree/ refs, then
// the objects only they held.
func (s *Sysroot) Cleanup(ctx context.Context) error {
	if err := s.removeUnused(); err != nil {
		return err
	}
	_, err := s.Repo.Prune(ctx, store.PruneOptions{RefsOnly: true, Depth: 0})
	return err
}

// removeUnused is Cleanup but for the objects.
func (s *Sysroot) removeUnused() error {
	ds, err := s.Deployments()
	if err != nil {
		return err
	}
	b := s.bootVersion()
	sb := s.subBootVersion(b)
	boot := filepath.Join(s.Path, "boot")
	keepBoot := map[string]bool{fmt.Sprintf("loader.%d", b): true, "loader": true}
	if ents, err := os.ReadDir(boot); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "loader.") && !keepBoot[e.Name()] {
				os.RemoveAll(filepath.Join(boot, e.Name()))
			}
		}
	}
	ostreeDir := filepath.Join(s.Path, "ostree")
	keepLinks := map[string]bool{fmt.Sprintf("boot.%d", b): true, fmt.Sprintf("boot.%d.%d", b, sb): true}
	if ents, err := os.ReadDir(ostreeDir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "boot.") && !keepLinks[e.Name()] {
				os.RemoveAll(filepath.Join(ostreeDir, e.Name()))
			}
		}
	}
	live := map[string]bool{}
	kernels := map[string]bool{}
	for _, d := range ds {
		live[s.Dir(d)] = true
		kernels[d.Stateroot+"-"+d.BootCsum] = true
	}
	roots, err := s.Stateroots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		dir := filepath.Join(s.stateroot(root), "deploy")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if live[strings.TrimSuffix(p, ".origin")] {
				continue
			}
			if err := s.unmountUsr(filepath.Join(p, "usr")); err != nil {
				return err
			}
			if err := removeTree(p); err != nil {
				return fmt.Errorf("removing %s: %w", p, err)
			}
		}
	}
	kdir := filepath.Join(boot, "ostree")
	if ents, err := os.ReadDir(kdir); err == nil {
		for _, e := range ents {
			if !kernels[e.Name()] {
				os.RemoveAll(filepath.Join(kdir, e.Name()))
			}
		}
	}
	refs, err := s.Repo.LocalRefs("ostree")
	if err != nil {
		return err
	}
	for name := range refs {
		if !strings.HasPrefix(name, fmt.Sprintf("ostree/%d/%d/", b, sb)) {
			s.Repo.DeleteRef(name)
		}
	}
	return nil
}

// removeTree removes a deployment, whose directories may be read-only.
func removeTree(p string) error {
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		if err := setImmutable(p, false); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// VarDir is the /var the deployment's stateroot shares.
func (s *Sysroot) VarDir(d *Deployment) string { return filepath.Join(s.stateroot(d.Stateroot), "var") }

// unmountUsr takes down a lazy deployment's /usr mount, if there is one.
func (s *Sysroot) unmountUsr(usr string) error {
	var a, b syscall.Stat_t
	if syscall.Lstat(usr, &a) != nil || syscall.Lstat(filepath.Dir(usr), &b) != nil || a.Dev == b.Dev {
		return nil // not a mount point
	}
	if s.Mounter != nil {
		return s.Mounter.Unmount(context.Background(), usr)
	}
	if err := syscall.Unmount(usr, syscall.MNT_DETACH); err != nil {
		return &fs.PathError{Op: "unmount", Path: usr, Err: err}
	}
	return nil
}

// bumpMtime sets ostree/deploy's modification time to now.
func (s *Sysroot) bumpMtime() error {
	p := filepath.Join(s.Path, "ostree", "deploy")
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return fmt.Errorf("marking the deployments changed: %w", err)
	}
	return nil
}

// syncBoot flushes /boot's filesystem before the switch. With the
// test-fifreeze debug option it fails there, as a failed freeze and thaw
// of /boot would, to show that the old configuration survives.
func (s *Sysroot) syncBoot() error {
	if err := syncFS(filepath.Join(s.Path, "boot")); err != nil {
		return err
	}
	if s.Debug.TestFifreeze {
		return errors.New("During fsfreeze-thaw: aborting due to test-fifreeze (the fifreeze watchdog was run)")
	}
	return nil
}
