package sysroot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Lock takes the sysroot's lock (ostree/lock, an OFD write lock as ostree
// takes it), so that no two commands, arbor's or ostree's, rewrite the
// boot configuration at once; the function releases it.
func (s *Sysroot) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Path, "ostree", "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sysroot lock: %w", err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &lk)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sysroot lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// DeployOptions says what to deploy and how.
type DeployOptions struct {
	Stateroot string    // required
	Revision  string    // a ref or a commit checksum
	Refspec   string    // recorded in the origin file (default: Revision)
	Kargs     *KargEdit // nil: the merge deployment's, as they are
	Retain    bool      // keep every other deployment
	// NoMerge starts /etc from the commit's and the kernel arguments from
	// none: nothing is carried over from the current deployment.
	NoMerge bool
	// Merge, when set, reports the /etc changes carried over.
	Merge func(EtcCounts)
	// Lazy has the Mounter mount the commit's /usr (from Source, such as
	// REMOTE:REF@CHECKSUM) instead of checking it out: only /etc, the
	// kernel and what runs are ever fetched.
	Lazy   bool
	Source string
	// NotDefault puts the new deployment after the booted (else the
	// merge) one instead of first.
	NotDefault bool
	// RetainPending keeps the deployments before the booted (else the
	// merge) one, RetainRollback those after it.
	RetainPending, RetainRollback bool
	// Stage asks for the deployment to be finished at shutdown, which
	// only a booted system can do.
	Stage bool
}

// ErrNotBooted is why a deployment cannot be staged outside a booted
// system.
var ErrNotBooted = errors.New("Cannot stage deployment: Not currently booted into an OSTree system")

// newList is the boot menu after deploying d: what is kept of ds (other
// stateroots', pinned, the booted and merge deployments, and what the
// retain options name), with d first or, not as default, right after the
// booted (else merge) deployment.
func newList(ds []*Deployment, d, merge *Deployment, o DeployOptions) []*Deployment {
	var booted *Deployment
	for _, old := range ds {
		if old.Booted {
			booted = old
		}
	}
	retain := o.Retain
	if booted == nil && merge == nil && (o.RetainPending || o.RetainRollback) {
		retain = true // no crossover to tell pending from rollback
	}
	var out []*Deployment
	added := false
	if !o.NotDefault {
		out, added = append(out, d), true
	}
	beforeBooted, beforeMerge := true, true
	for _, old := range ds {
		if old == booted {
			beforeBooted = false
		}
		if old == merge {
			beforeMerge = false
		}
		crossed := !beforeMerge
		if booted != nil {
			crossed = !beforeBooted
		}
		if retain || old.Pinned() || old.Stateroot != o.Stateroot || old == booted || old == merge ||
			(o.RetainPending && !crossed) || (o.RetainRollback && crossed) {
			out = append(out, old)
		}
		if !added && crossed {
			out, added = append(out, d), true
		}
	}
	if !added {
		out = append(out, d)
	}
	return out
}

// deploy checks out a commit as a new deployment, carries the /etc changes
// of the stateroot's current deployment onto it, and makes it the default.
func (s *Sysroot) deploy(ctx context.Context, o DeployOptions) (*Deployment, error) {
	if err := ValidateStateroot(o.Stateroot); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(s.stateroot(o.Stateroot)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("unknown stateroot %s (make it with admin os-init)", o.Stateroot)
	}
	c, err := s.Repo.Resolve(o.Revision)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", o.Revision, err)
	}
	if !o.Lazy {
		if err := checkKernel(s.Repo, c); err != nil {
			return nil, err
		}
	} else if s.Mounter == nil {
		return nil, errors.New("lazy deployments need the arbor daemon")
	}
	// What an earlier command left half written goes first.
	if err := s.removeUnused(); err != nil {
		return nil, err
	}
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	if o.Stage {
		if !slices.ContainsFunc(ds, func(d *Deployment) bool { return d.Booted }) {
			return nil, ErrNotBooted
		}
		return nil, errors.New("cannot stage deployment: arbor finishes deployments at once; deploy without staging")
	}
	merge := MergeDeployment(ds, o.Stateroot)
	from := merge // what /etc and the kernel arguments come from
	if o.NoMerge {
		from = nil
	}
	d := &Deployment{Stateroot: o.Stateroot, Commit: c}
	if from != nil {
		d.Kargs = from.Kargs
	}
	if d.Kargs, err = o.Kargs.apply(d.Kargs); err != nil {
		return nil, err
	}
	d.Serial, err = s.nextSerial(o.Stateroot, c)
	if err != nil {
		return nil, err
	}
	refspec := o.Refspec
	if refspec == "" {
		refspec = o.Revision
	}
	d.Origin = keyfile.New()
	d.Origin.Set("origin", "refspec", refspec)
	if o.Lazy {
		d.Origin.Set("arbor", "lazy", "true")
	}

	dir := s.Dir(d)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if o.Lazy {
		source := o.Source
		if source == "" {
			source = c.String()
		}
		if err := s.mountLazy(ctx, d, source, from, o.Merge); err != nil {
			return nil, err
		}
	} else if err := s.checkout(ctx, d, from, o.Merge); err != nil {
		return nil, err
	}
	if err := setImmutable(dir, !s.Debug.MutableDeployments); err != nil {
		return nil, err
	}
	if err := atomic.WriteFile(s.originPath(d), d.Origin.Bytes(), 0o644, true); err != nil {
		return nil, err
	}
	if err := s.installKernel(d); err != nil {
		return nil, err
	}
	list := newList(ds, d, from, o)
	if err := s.write(ctx, list); err != nil {
		return nil, err
	}
	return d, nil
}

// checkout makes a materialized deployment: a hardlink checkout, staged
// and renamed into place once whole and flushed.
func (s *Sysroot) checkout(ctx context.Context, d *Deployment, merge *Deployment, report func(EtcCounts)) error {
	dir := s.Dir(d)
	staging := dir + ".tmp"
	if err := s.Repo.Checkout(ctx, d.Commit, staging, store.CheckoutOptions{PassthroughWhiteouts: true}); err != nil {
		removeTree(staging)
		return fmt.Errorf("checking out %s: %w", d.Commit, err)
	}
	k, err := findKernel(staging, s.Debug.NoDtb)
	if err == nil {
		d.BootCsum = k.bootCsum
	}
	if err == nil {
		err = s.makeEtc(staging, merge, report)
	}
	if err == nil {
		err = s.markNeedsUpdate(d, staging)
	}
	if err != nil {
		removeTree(staging)
		return err
	}
	if err := syncFS(staging); err != nil {
		removeTree(staging)
		return err
	}
	if err := os.Rename(staging, dir); err != nil {
		removeTree(staging)
		return err
	}
	return nil
}

// mountLazy makes a lazy deployment: /usr mounted by the Mounter, /etc
// made from it, the boot checksum read through it.
func (s *Sysroot) mountLazy(ctx context.Context, d *Deployment, source string, merge *Deployment, report func(EtcCounts)) error {
	dir := s.Dir(d)
	usr := filepath.Join(dir, "usr")
	if err := os.MkdirAll(usr, 0o755); err != nil {
		return err
	}
	// An OS's /usr holds setuid programs (su, passwd) that must work when
	// it boots; only root can mount it so.
	if err := s.Mounter.MountUsr(ctx, source, usr, os.Geteuid() == 0); err != nil {
		removeTree(dir)
		return fmt.Errorf("mounting %s: %w", source, err)
	}
	fail := func(err error) error {
		s.Mounter.Unmount(ctx, usr)
		removeTree(dir)
		return err
	}
	k, err := findKernel(dir, s.Debug.NoDtb)
	if err != nil {
		return fail(fmt.Errorf("commit %s: %w", d.Commit, err))
	}
	d.BootCsum = k.bootCsum
	if err := s.makeEtc(dir, merge, report); err != nil {
		return fail(err)
	}
	if err := s.markNeedsUpdate(d, dir); err != nil {
		return fail(err)
	}
	if err := syncFS(filepath.Join(dir, "etc")); err != nil {
		return fail(err)
	}
	return nil
}

// nextSerial is one more than the highest serial of the commit's
// deployments in the stateroot.
func (s *Sysroot) nextSerial(stateroot string, c object.Checksum) (int, error) {
	ents, err := os.ReadDir(filepath.Join(s.stateroot(stateroot), "deploy"))
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), c.String()+".")
		if !ok {
			continue
		}
		if v, err := strconv.Atoi(strings.TrimSuffix(rest, ".origin")); err == nil && v >= n {
			n = v + 1
		}
	}
	return n, nil
}

// makeEtc makes the deployment's /etc: the new defaults from usr/etc,
// with the merge deployment's local changes on top.
func (s *Sysroot) makeEtc(root string, merge *Deployment, report func(EtcCounts)) error {
	defaults := filepath.Join(root, "usr", "etc")
	etc := filepath.Join(root, "etc")
	if _, err := os.Lstat(defaults); err != nil {
		return os.MkdirAll(etc, 0o755)
	}
	if err := copyEntry(defaults, etc); err != nil {
		return fmt.Errorf("/etc from usr/etc: %w", err)
	}
	if merge == nil {
		return nil
	}
	md := s.Dir(merge)
	counts, err := mergeEtc(filepath.Join(md, "usr", "etc"), filepath.Join(md, "etc"), etc)
	if err != nil {
		return fmt.Errorf("merging /etc of %s: %w", merge.Name(), err)
	}
	if report != nil {
		report(counts)
	}
	return nil
}

// markNeedsUpdate removes the deployment's etc/.updated and its
// stateroot's var/.updated, so that systemd units with
// ConditionNeedsUpdate= run at the new deployment's first boot.
func (s *Sysroot) markNeedsUpdate(d *Deployment, root string) error {
	for _, p := range []string{filepath.Join(root, "etc", ".updated"), filepath.Join(s.VarDir(d), ".updated")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// at finds a deployment by index.
func at(ds []*Deployment, index int) (*Deployment, error) {
	if index < 0 || index >= len(ds) {
		return nil, fmt.Errorf("no deployment %d (there are %d)", index, len(ds))
	}
	return ds[index], nil
}

// undeploy removes the deployment at index (not the booted one).
func (s *Sysroot) undeploy(ctx context.Context, index int) (*Deployment, error) {
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	d, err := at(ds, index)
	if err != nil {
		return nil, err
	}
	if d.Booted {
		return nil, fmt.Errorf("deployment %d is the booted one", index)
	}
	rest := append(append([]*Deployment(nil), ds[:index]...), ds[index+1:]...)
	return d, s.write(ctx, rest)
}

// rollback makes the second deployment the default, and the default the
// second.
func (s *Sysroot) rollback(ctx context.Context) (*Deployment, error) {
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	if len(ds) < 2 {
		return nil, errors.New("no deployment to roll back to")
	}
	ds[0], ds[1] = ds[1], ds[0]
	return ds[0], s.write(ctx, ds)
}

// setPinned pins or unpins the deployment at index, in its origin file.
func (s *Sysroot) setPinned(index int, pinned bool) (*Deployment, error) {
	return s.editOrigin(index, func(kf *keyfile.File) {
		if pinned {
			kf.Set("libostree-transient", "pinned", "true")
		} else {
			kf.Delete("libostree-transient", "pinned")
		}
	})
}

// SetRefspec changes what the deployment at index follows.
func (s *Sysroot) SetRefspec(index int, refspec string) (*Deployment, error) {
	return s.editOrigin(index, func(kf *keyfile.File) { kf.Set("origin", "refspec", refspec) })
}

func (s *Sysroot) editOrigin(index int, edit func(*keyfile.File)) (*Deployment, error) {
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	d, err := at(ds, index)
	if err != nil {
		return nil, err
	}
	if d.Origin == nil {
		d.Origin = keyfile.New()
	}
	edit(d.Origin)
	return d, atomic.WriteFile(s.originPath(d), d.Origin.Bytes(), 0o644, true)
}

// MergeDeployment is the deployment whose /etc a new one of the stateroot
// starts from: the booted one, else the first.
func MergeDeployment(ds []*Deployment, stateroot string) *Deployment {
	var m *Deployment
	for _, d := range ds {
		if (stateroot == "" || d.Stateroot == stateroot) && (m == nil || d.Booted) {
			m = d
		}
	}
	return m
}
