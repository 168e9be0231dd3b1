package apps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
)

// UninstallRequest says what Uninstall removes.
type UninstallRequest struct {
	Refs []flatpak.Ref
	// Unused removes the runtimes no installed app needs once Refs are
	// gone.
	Unused bool
	// Needed is asked before a runtime that installed apps (not removed
	// with it) use is removed; nil refuses, naming the apps.
	Needed func(rt flatpak.Ref, apps []flatpak.Ref) bool
}

// InUseError is a runtime's removal refused because apps need it.
type InUseError struct {
	Runtime flatpak.Ref
	Apps    []flatpak.Ref
}

func (e *InUseError) Error() string {
	names := make([]string, len(e.Apps))
	for i, a := range e.Apps {
		names[i] = a.String()
	}
	return fmt.Sprintf("%s is needed by %s: uninstall those first, or confirm its removal (-y)", e.Runtime, strings.Join(names, ", "))
}

// Uninstall removes installed refs and, with Unused, the runtimes no
// installed app needs once they are gone; a mounted commit is unmounted first (an app
// running from it keeps it: the unmount fails and so does its removal).
// A runtime apps need is removed only when req.Needed says so, and
// before anything is removed. It returns the refs removed, also when an
// error stopped it.
func (m *Manager) Uninstall(ctx context.Context, req UninstallRequest, p Progress) ([]flatpak.Ref, error) {
	refs, unused := req.Refs, req.Unused
	if len(refs) == 0 && !unused {
		return nil, errors.New("nothing to uninstall: name a ref or use --unused")
	}
	if err := m.checkNeeded(req); err != nil {
		return nil, err
	}
	o := m.op(p)
	seen := map[flatpak.Ref]bool{}
	done := []flatpak.Ref{}
	remove := func(refs []flatpak.Ref) error {
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if err := ctx.Err(); err != nil {
				return err
			}
			ch, err := m.uninstallOne(ctx, o, ref)
			if err != nil {
				return err
			}
			done = append(done, ref)
			o.send(Event{Ref: ref.String(), Phase: PhaseDone, Message: "uninstalled " + ref.String(), Change: &ch})
		}
		return nil
	}
	// An app's or runtime's autodelete extensions (its locale, its debug
	// info) go with it, as in flatpak.
	named := append([]flatpak.Ref(nil), refs...)
	if installed, err := m.In.Installed(); err == nil {
		for _, ref := range refs {
			d, err := m.In.Get(ref)
			if err != nil {
				continue // uninstallOne names the error
			}
			for _, e := range flatpak.ExtensionsOf(d, installed) {
				if e.Autodelete {
					named = append(named, e.Ref)
				}
			}
		}
	}
	if err := remove(named); err != nil {
		return done, err
	}
	if unused {
		// After the named refs: a runtime only they needed goes too.
		u, err := m.In.Unused()
		if err != nil {
			return done, fmt.Errorf("finding unused runtimes: %w", err)
		}
		u = slices.DeleteFunc(u, func(r flatpak.Ref) bool {
			_, pinned := m.matching("pinned", r)
			return pinned // kept until named
		})
		if err := remove(u); err != nil {
			return done, err
		}
	}
	return done, nil
}

// checkNeeded refuses the removal of a runtime apps still need, unless
// req.Needed allows it.
func (m *Manager) checkNeeded(req UninstallRequest) error {
	going := map[flatpak.Ref]bool{}
	for _, r := range req.Refs {
		going[r] = true
	}
	for _, r := range req.Refs {
		if r.Kind != flatpak.Runtime {
			continue
		}
		users, err := m.In.AppsUsing(r)
		if err != nil {
			return fmt.Errorf("finding the apps that use %s: %w", r, err)
		}
		users = slices.DeleteFunc(users, func(a flatpak.Ref) bool { return going[a] })
		if len(users) > 0 && (req.Needed == nil || !req.Needed(r, users)) {
			return &InUseError{Runtime: r, Apps: users}
		}
	}
	return nil
}

func (m *Manager) uninstallOne(ctx context.Context, o *op, ref flatpak.Ref) (Change, error) {
	d, err := m.In.Get(ref)
	if err != nil {
		return Change{}, m.recordFailure(history.Entry{Op: "uninstall", Ref: ref.String()}, err)
	}
	e := history.Entry{Op: "uninstall", Ref: ref.String(), Remote: d.Origin, From: d.Commit.String()}
	if mp := m.In.MountDir(d.Commit); m.Mounts != nil && mounted(mp) {
		o.send(Event{Ref: ref.String(), Phase: PhaseRemoving, Message: fmt.Sprintf("unmounting %s (commit %s)", ref, short(d.Commit))})
		if err := m.Mounts.Unmount(ctx, mp); err != nil {
			return Change{}, m.recordFailure(e, fmt.Errorf("%s is in use: %w", ref, err))
		}
	}
	o.send(Event{Ref: ref.String(), Phase: PhaseRemoving, Message: "removing " + ref.String()})
	if err := m.In.Undeploy(ref); err != nil {
		return Change{}, m.recordFailure(e, fmt.Errorf("removing %s: %w", ref, err))
	}
	ch := Change{Ref: ref, From: d.Commit}
	if err := m.forgetDownload(ref); err != nil {
		ch.Warnings = append(ch.Warnings, err.Error())
	}
	m.recordChange("uninstall", d.Origin, &ch)
	return ch, nil
}
