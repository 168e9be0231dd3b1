package apps

import (
	"context"
	"errors"
	"fmt"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
)

// Uninstall removes installed refs and, with unused, the runtimes no
// installed app needs once they are gone; a mounted commit is unmounted first (an app
// running from it keeps it: the unmount fails and so does its removal).
// It returns the refs removed, also when an error stopped it.
func (m *Manager) Uninstall(ctx context.Context, refs []flatpak.Ref, unused bool, p Progress) ([]flatpak.Ref, error) {
	if len(refs) == 0 && !unused {
		return nil, errors.New("nothing to uninstall: name a ref or use --unused")
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
		if err := remove(u); err != nil {
			return done, err
		}
	}
	return done, nil
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
