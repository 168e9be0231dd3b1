package sysroot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/store/object"
)

// HistoryPath is where a sysroot's history is kept, beside its
// repository.
func (s *Sysroot) HistoryPath() string { return filepath.Join(s.Path, "ostree", "history.jsonl") }

// record appends an entry to the history, if there is one. A failure to
// record is joined to the operation's error (or is the error): the
// operation happened, its record did not.
func (s *Sysroot) record(e history.Entry, err error) error {
	if s.History == nil {
		return err
	}
	if err != nil {
		e.Error = err.Error()
	}
	if herr := s.History.Append(e); herr != nil {
		return errors.Join(err, fmt.Errorf("recording %s in the sysroot's history: %w", e.Op, herr))
	}
	return err
}

// historyEntry is a history entry about a deployment following refspec.
func historyEntry(op, refspec string, from, to object.Checksum) history.Entry {
	e := history.Entry{Op: op, Ref: refspec, From: checksumString(from), To: checksumString(to)}
	if remote, _, ok := strings.Cut(refspec, ":"); ok {
		e.Remote = remote
	}
	return e
}

func checksumString(c object.Checksum) string {
	if c.IsZero() {
		return ""
	}
	return c.String()
}

// Deploy checks out a commit as a new deployment, carries the /etc changes
// of the stateroot's current deployment onto it, and makes it the
// default. It is recorded as os-deploy, from the stateroot's current
// commit.
func (s *Sysroot) Deploy(ctx context.Context, o DeployOptions) (*Deployment, error) {
	var from object.Checksum
	if ds, err := s.Deployments(); err == nil {
		if m := MergeDeployment(ds, o.Stateroot); m != nil {
			from = m.Commit
		}
	}
	refspec := o.Refspec
	if refspec == "" {
		refspec = o.Revision
	}
	d, err := s.deploy(ctx, o)
	var to object.Checksum
	if d != nil {
		to = d.Commit
	}
	return d, s.record(historyEntry("os-deploy", refspec, from, to), err)
}

// Undeploy removes the deployment at index (not the booted one),
// recorded as os-undeploy.
func (s *Sysroot) Undeploy(ctx context.Context, index int) (*Deployment, error) {
	d, err := s.undeploy(ctx, index)
	e := history.Entry{Op: "os-undeploy"}
	if d != nil {
		e = historyEntry("os-undeploy", d.Refspec(), d.Commit, object.Zero)
	}
	return d, s.record(e, err)
}

// Rollback makes the second deployment the default, and the default the
// second, recorded as os-rollback from the old default's commit to the
// new one's.
func (s *Sysroot) Rollback(ctx context.Context) (*Deployment, error) {
	var from object.Checksum
	if ds, err := s.Deployments(); err == nil && len(ds) > 0 {
		from = ds[0].Commit
	}
	d, err := s.rollback(ctx)
	e := history.Entry{Op: "os-rollback", From: checksumString(from)}
	if d != nil && err == nil {
		e = historyEntry("os-rollback", d.Refspec(), from, d.Commit)
	}
	return d, s.record(e, err)
}

// SetPinned pins or unpins the deployment at index, in its origin file,
// recorded as os-pin or os-unpin.
func (s *Sysroot) SetPinned(index int, pinned bool) (*Deployment, error) {
	op := "os-unpin"
	if pinned {
		op = "os-pin"
	}
	d, err := s.setPinned(index, pinned)
	e := history.Entry{Op: op}
	if d != nil {
		e = historyEntry(op, d.Refspec(), object.Zero, d.Commit)
	}
	return d, s.record(e, err)
}

// DefaultStateroot is name when given, else the default deployment's
// stateroot, else the only stateroot.
func (s *Sysroot) DefaultStateroot(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if ds, err := s.Deployments(); err == nil && len(ds) > 0 {
		return ds[0].Stateroot, nil
	}
	roots, err := s.Stateroots()
	if err != nil {
		return "", err
	}
	if len(roots) != 1 {
		return "", fmt.Errorf("%d stateroots: choose one with --os", len(roots))
	}
	return roots[0], nil
}

// PullRefspec fetches what a REMOTE:REF refspec names (only its commit
// with commitOnly) and returns the commit; a local ref or a checksum
// needs no fetch.
func (s *Sysroot) PullRefspec(ctx context.Context, refspec string, commitOnly bool, progress func(fetch.Progress)) (object.Checksum, error) {
	return s.pullRefspec(ctx, refspec, fetch.PullOptions{CommitMetadataOnly: commitOnly, Progress: progress})
}

func (s *Sysroot) pullRefspec(ctx context.Context, refspec string, o fetch.PullOptions) (object.Checksum, error) {
	return s.pullRevision(ctx, refspec, "", o)
}

// pullRevision fetches the commit refspec names, or commit (a checksum)
// of its ref when given.
func (s *Sysroot) pullRevision(ctx context.Context, refspec, commit string, o fetch.PullOptions) (object.Checksum, error) {
	var want object.Checksum
	if commit != "" {
		var err error
		if want, err = object.ParseChecksum(commit); err != nil {
			return object.Zero, fmt.Errorf("override commit %q: %w", commit, err)
		}
	}
	if remote, ref, ok := strings.Cut(refspec, ":"); ok {
		o.Refs = []string{ref}
		if commit != "" {
			o.Refs = []string{ref + "@" + commit}
		}
		if _, err := fetch.Pull(ctx, s.Repo, remote, o); err != nil {
			return object.Zero, fmt.Errorf("pulling %s: %w", refspec, err)
		}
	}
	if commit != "" {
		if has, err := s.Repo.HasObject(want, object.TypeCommit); err != nil || !has {
			return object.Zero, fmt.Errorf("override commit %s of %s is not in the repository", commit, refspec)
		}
		return want, nil
	}
	c, err := s.Repo.Resolve(refspec)
	if err != nil {
		return object.Zero, fmt.Errorf("origin %s: %w", refspec, err)
	}
	return c, nil
}

// MountSource is what a lazy deployment of commit c, which follows
// refspec, is mounted from: the remote's ref at that commit, or the
// commit in the store.
func MountSource(refspec string, c object.Checksum) string {
	if remote, ref, ok := strings.Cut(refspec, ":"); ok {
		return remote + ":" + ref + "@" + c.String()
	}
	return c.String()
}

// Upgrade is what a stateroot's origin offers over its current
// deployment: the commit its refspec names now.
type Upgrade struct {
	Stateroot string
	Refspec   string
	From      object.Checksum // the current (merge) deployment's commit
	To        object.Checksum // the refspec's commit; From when there is no update
	Version   string          // To's version, if its commit says
	Lazy      bool            // the current deployment is lazy, and so will the new one be
	// Deployed is the new deployment, once Upgrade made it.
	Deployed *Deployment
}

// Available reports whether there is an upgrade.
func (u *Upgrade) Available() bool { return u.To != u.From }

// MarshalJSON writes commits as strings.
func (u *Upgrade) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Stateroot string `json:"stateroot"`
		Refspec   string `json:"refspec"`
		From      string `json:"from"`
		To        string `json:"to"`
		Version   string `json:"version,omitempty"`
		Available bool   `json:"available"`
		Lazy      bool   `json:"lazy"`
		Deployed  string `json:"deployed,omitempty"` // its directory name, COMMIT.SERIAL
	}{u.Stateroot, u.Refspec, checksumString(u.From), checksumString(u.To), u.Version, u.Available(), u.Lazy, deployedName(u.Deployed)})
}

func deployedName(d *Deployment) string {
	if d == nil {
		return ""
	}
	return d.Name()
}

// UpgradeOptions say what Upgrade does.
type UpgradeOptions struct {
	Stateroot  string // "": DefaultStateroot's
	PullOnly   bool   // fetch the update, deploy nothing
	DeployOnly bool   // deploy what was fetched before, fetch nothing
	// AllowDowngrade takes a commit older than the current deployment's.
	AllowDowngrade bool
	// OverrideCommit, when set, is the commit of the origin's ref to
	// deploy instead of its newest.
	OverrideCommit string
	// Stage asks for the deployment to be finished at shutdown.
	Stage bool
	// Merge, when set, reports the /etc changes carried over.
	Merge func(EtcCounts)
	// Progress, when set, is told how the pull goes.
	Progress func(fetch.Progress)
}

// upgradeBase is the stateroot's current deployment and what it follows.
// With anyOrigin, an origin that says updates are not set up
// (unconfigured-state) is taken as it is.
func (s *Sysroot) upgradeBase(stateroot string, anyOrigin bool) (*Upgrade, error) {
	root, err := s.DefaultStateroot(stateroot)
	if err != nil {
		return nil, err
	}
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	merge := MergeDeployment(ds, root)
	if merge == nil {
		return nil, fmt.Errorf("stateroot %s has no deployment to upgrade", root)
	}
	if merge.Origin != nil && !anyOrigin {
		// Set by whoever installed the system, to say how updates are
		// turned on; a switch to another origin clears it.
		if msg := merge.Origin.String("origin", "unconfigured-state", ""); msg != "" {
			return nil, fmt.Errorf("origin unconfigured-state: %s", msg)
		}
	}
	refspec := merge.Refspec()
	if refspec == "" {
		return nil, fmt.Errorf("deployment %s has no origin refspec", merge.Name())
	}
	return &Upgrade{Stateroot: root, Refspec: refspec, From: merge.Commit, To: merge.Commit, Lazy: merge.Lazy()}, nil
}

// CheckUpgrade fetches only the commit the stateroot's origin names now
// and says whether it is an upgrade.
func (s *Sysroot) CheckUpgrade(ctx context.Context, stateroot string) (*Upgrade, error) {
	u, err := s.upgradeBase(stateroot, false)
	if err != nil {
		return nil, err
	}
	if u.To, err = s.PullRefspec(ctx, u.Refspec, true, nil); err != nil {
		return nil, err
	}
	u.Version = s.Version(u.To)
	return u, nil
}

// Upgrade fetches what the stateroot's origin names now (the commit only
// for a lazy deployment, whose files come when read) and, when it moved,
// deploys it as the new default, lazily if the current one is. The
// deployment is recorded as os-deploy; a failed fetch too. Hold the
// sysroot's lock.
func (s *Sysroot) Upgrade(ctx context.Context, o UpgradeOptions) (*Upgrade, error) {
	u, err := s.upgradeBase(o.Stateroot, false)
	if err != nil {
		return nil, err
	}
	resolve := func(refspec, override string) (object.Checksum, error) {
		switch {
		case o.DeployOnly && override != "":
			return s.Repo.Resolve(override)
		case o.DeployOnly:
			c, err := s.Repo.Resolve(refspec)
			if err != nil {
				return c, fmt.Errorf("origin %s: %w", refspec, err)
			}
			return c, nil
		}
		po := pullOptionsFor(u)
		po.Progress = o.Progress
		if !o.AllowDowngrade {
			po.NotOlderThan = u.From
		}
		return s.pullRevision(ctx, refspec, override, po)
	}
	u.To, err = resolve(u.Refspec, o.OverrideCommit)
	// A branch at its end of life may name the one that replaces it;
	// the deployment follows that from now on.
	for hops := 0; err == nil; hops++ {
		next := s.metaString(u.To, "ostree.endoflife-rebase")
		if next == "" || o.OverrideCommit != "" {
			break
		}
		if hops == 8 {
			err = fmt.Errorf("origin %s: too many end-of-life redirections", u.Refspec)
			break
		}
		if remote, _, ok := strings.Cut(u.Refspec, ":"); ok {
			next = remote + ":" + next
		}
		u.Refspec = next
		u.To, err = resolve(u.Refspec, "")
	}
	if err == nil && !o.AllowDowngrade && u.To != u.From {
		// The pull checks what it fetches; a commit already stored is
		// checked here.
		err = fetch.CheckNotOlder(s.Repo, u.To, u.From)
	}
	if err != nil {
		return nil, s.record(historyEntry("os-deploy", u.Refspec, u.From, object.Zero), err)
	}
	u.Version = s.Version(u.To)
	if !u.Available() || o.PullOnly {
		return u, nil
	}
	u.Deployed, err = s.Deploy(ctx, DeployOptions{Stateroot: u.Stateroot, Revision: u.To.String(), Refspec: u.Refspec,
		Merge: o.Merge, Lazy: u.Lazy, Source: MountSource(u.Refspec, u.To), Stage: o.Stage})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// pullOptionsFor fetches for a deployment like u's: the commit alone for
// a lazy one, whose files come when read.
func pullOptionsFor(u *Upgrade) fetch.PullOptions {
	return fetch.PullOptions{CommitMetadataOnly: u.Lazy}
}
