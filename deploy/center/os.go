package center

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"arbor/deploy/history"
	"arbor/deploy/sysroot"
	"arbor/fetch"
	"arbor/store/object"
)

// OS is the backend of a sysroot's operating systems: one item per
// stateroot, whose deployments it upgrades, rolls back and pins.
type OS struct {
	path string
	// Mounter serves lazy deployments' /usr, for the sysroot's repository.
	Mounter func(repo string) sysroot.Mounter
}

var _ Deployer = (*OS)(nil)

// NewOS is the backend of the sysroot at path.
func NewOS(path string) *OS { return &OS{path: path} }

// Name implements Backend.
func (o *OS) Name() string { return "os" }

// open opens the sysroot, locked when it is to change.
func (o *OS) open(ctx context.Context, lock bool) (*sysroot.Sysroot, func(), error) {
	s, err := sysroot.Open(o.path)
	if err != nil {
		return nil, nil, fmt.Errorf("sysroot %s: %w", o.path, err)
	}
	if o.Mounter != nil {
		s.Mounter = o.Mounter(s.Repo.Path())
	}
	s.History = history.Open(s.HistoryPath())
	if !lock {
		return s, func() { s.Close() }, nil
	}
	unlock, err := s.Lock()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	// A lazy deployment's /usr is to be there to merge /etc against.
	if r, ok := s.Mounter.(interface{ Ready(context.Context) error }); ok {
		if ds, err := s.Deployments(); err == nil && slices.ContainsFunc(ds, (*sysroot.Deployment).Lazy) {
			if err := r.Ready(ctx); err != nil {
				unlock()
				s.Close()
				return nil, nil, err
			}
		}
	}
	return s, func() { unlock(); s.Close() }, nil
}

// OSStatus is the page's view of the sysroot.
type OSStatus struct {
	Available  bool        `json:"available"`
	Stateroots []Stateroot `json:"stateroots"`
}

// Stateroot is an operating system and its deployments.
type Stateroot struct {
	Name        string       `json:"name"`
	Refspec     string       `json:"refspec,omitempty"`
	Update      *OSUpdate    `json:"update"`
	Deployments []Deployment `json:"deployments"`
}

// OSUpdate is a newer commit of a stateroot's refspec, fetched already.
type OSUpdate struct {
	Commit  string `json:"commit"`
	Version string `json:"version,omitempty"`
}

// Deployment is one boot entry.
type Deployment struct {
	Index     int    `json:"index"`
	Stateroot string `json:"stateroot"`
	Commit    string `json:"commit"`
	Serial    int    `json:"serial"`
	Version   string `json:"version,omitempty"`
	Booted    bool   `json:"booted"`
	Default   bool   `json:"default"`
	Rollback  bool   `json:"rollback"`
	Pinned    bool   `json:"pinned"`
	Lazy      bool   `json:"lazy"`
}

// Status lists the stateroots with their deployments, in boot order, and
// what each has to upgrade to (as last checked).
func (o *OS) Status(ctx context.Context) (*OSStatus, error) {
	s, done, err := o.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer done()
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	roots, err := s.Stateroots()
	if err != nil {
		return nil, err
	}
	st := &OSStatus{Available: true, Stateroots: []Stateroot{}}
	for _, name := range roots {
		sr := Stateroot{Name: name, Deployments: []Deployment{}}
		for _, d := range ds {
			if d.Stateroot != name {
				continue
			}
			sr.Deployments = append(sr.Deployments, Deployment{Index: d.Index, Stateroot: name, Commit: d.Commit.String(), Serial: d.Serial,
				Version: s.Version(d.Commit), Booted: d.Booted, Default: d.Index == 0, Rollback: d.Index == 1,
				Pinned: d.Pinned(), Lazy: d.Lazy()})
		}
		if m := sysroot.MergeDeployment(ds, name); m != nil {
			sr.Refspec = m.Refspec()
			if next, ok := pending(s, m); ok {
				sr.Update = &OSUpdate{Commit: next.String(), Version: s.Version(next)}
			}
		}
		st.Stateroots = append(st.Stateroots, sr)
	}
	return st, ctx.Err()
}

// pending is the commit a deployment's refspec now names locally, when it
// moved past the deployment.
func pending(s *sysroot.Sysroot, d *sysroot.Deployment) (object.Checksum, bool) {
	spec := d.Refspec()
	if spec == "" {
		return object.Checksum{}, false
	}
	c, err := s.Repo.Resolve(spec)
	if err != nil || c == d.Commit {
		return object.Checksum{}, false
	}
	return c, true
}

func osID(stateroot string) string { return "os/" + stateroot }

func parseOSID(id string) (string, error) {
	name, ok := strings.CutPrefix(id, "os/")
	if !ok || sysroot.ValidateStateroot(name) != nil {
		return "", ErrNotFound{id}
	}
	return name, nil
}

// List implements Backend: a stateroot is installed, or updatable once a
// check fetched a newer commit.
func (o *OS) List(ctx context.Context) ([]*Item, error) {
	st, err := o.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Item
	for _, sr := range st.Stateroots {
		it := &Item{ID: osID(sr.Name), Backend: "os", Kind: "os", Name: sr.Name, Summary: "Operating system", Ref: sr.Refspec,
			State: Installed, Actions: []string{ActRollback}}
		if len(sr.Deployments) > 0 {
			it.Version = sr.Deployments[0].Version
			it.InstalledCommit = sr.Deployments[0].Commit
		}
		if sr.Update != nil {
			it.State, it.AvailableCommit = Updatable, sr.Update.Commit
			it.Actions = []string{ActUpdate, ActRollback}
		}
		it.Fold()
		out = append(out, it)
	}
	return out, nil
}

// Refine implements Backend.
func (o *OS) Refine(ctx context.Context, id string) (*Item, error) {
	items, err := o.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.ID == id {
			return it, nil
		}
	}
	return nil, ErrNotFound{id}
}

// Refresh implements Backend: each stateroot's refspec's newest commit is
// fetched (the commit alone), so that List shows what an upgrade brings.
func (o *OS) Refresh(ctx context.Context, p Progress) error {
	s, done, err := o.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	roots, err := s.Stateroots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		say(p, Event{Phase: "checking", Message: "checking for an upgrade of " + root})
		if _, err := s.CheckUpgrade(ctx, root); err != nil {
			return fmt.Errorf("%s: %w", root, err)
		}
	}
	return nil
}

// Install implements Backend: an OS is deployed by `arbor admin deploy`.
func (o *OS) Install(context.Context, string, Options, Progress) (*Result, error) {
	return nil, ErrUnsupported
}

// Remove implements Backend: a deployment goes by `arbor admin undeploy`.
func (o *OS) Remove(context.Context, string, Progress) (*Result, error) { return nil, ErrUnsupported }

// Update implements Backend: each stateroot (or those named) is upgraded
// to its refspec's newest commit, deployed as the new default.
func (o *OS) Update(ctx context.Context, ids []string, opts Options, p Progress) (*Result, error) {
	s, done, err := o.open(ctx, true)
	if err != nil {
		return nil, err
	}
	defer done()
	roots := []string{}
	for _, id := range ids {
		name, err := parseOSID(id)
		if err != nil {
			return nil, err
		}
		roots = append(roots, name)
	}
	if len(ids) == 0 {
		if roots, err = s.Stateroots(); err != nil {
			return nil, err
		}
	}
	for _, root := range roots {
		say(p, Event{Phase: "fetching", Message: "fetching the upgrade of " + root})
		msg := "fetching the upgrade of " + root
		_, err := s.Upgrade(ctx, sysroot.UpgradeOptions{Stateroot: root,
			Progress: func(fp fetch.Progress) {
				say(p, Event{Phase: "fetching", Message: msg, Objects: fp.Objects, Fetched: fp.Fetched, Bytes: fp.Bytes})
			}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", root, err)
		}
	}
	return nil, nil
}

// Rollback implements Deployer: the previous deployment boots by default.
func (o *OS) Rollback(ctx context.Context, id string, p Progress) (*Result, error) {
	if _, err := parseOSID(id); err != nil {
		return nil, err
	}
	s, done, err := o.open(ctx, true)
	if err != nil {
		return nil, err
	}
	defer done()
	say(p, Event{Phase: "deploying", Message: "making the previous deployment the default"})
	_, err = s.Rollback(ctx)
	return nil, err
}

// Pin implements Deployer: a pinned deployment is kept by upgrades.
func (o *OS) Pin(ctx context.Context, id string, index int, pinned bool) (*Result, error) {
	if _, err := parseOSID(id); err != nil {
		return nil, err
	}
	s, done, err := o.open(ctx, true)
	if err != nil {
		return nil, err
	}
	defer done()
	_, err = s.SetPinned(index, pinned)
	return nil, err
}

// History returns the sysroot's operations, newest first.
func (o *OS) History(ctx context.Context, max int) ([]history.Entry, error) {
	s, done, err := o.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.History.Read(ctx, max)
}
