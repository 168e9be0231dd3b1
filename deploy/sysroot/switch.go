package sysroot

import (
	"context"
	"fmt"
	"strings"
)

// SwitchRefspec is what a deployment following cur follows after a switch
// to target: REMOTE:REF as given, REMOTE: keeps the ref, a bare REF keeps
// the remote.
func SwitchRefspec(cur, target string) (string, error) {
	curRemote, curRef, curHasRemote := strings.Cut(cur, ":")
	if !curHasRemote {
		curRemote, curRef = "", cur
	}
	remote, ref, ok := strings.Cut(target, ":")
	switch {
	case !ok:
		remote, ref = curRemote, target
	case ref == "":
		ref = curRef
	}
	if ref == "" {
		return "", fmt.Errorf("switch to %q: no ref to follow", target)
	}
	next := ref
	if remote != "" {
		next = remote + ":" + ref
	}
	if next == cur {
		return "", fmt.Errorf("Old and new refs are equal: %s", cur)
	}
	return next, nil
}

// SwitchOptions say what Switch does.
type SwitchOptions struct {
	Stateroot string // "": DefaultStateroot's
	Target    string // REMOTE:REF, REMOTE: or REF
	// Merge, when set, reports the /etc changes carried over.
	Merge func(EtcCounts)
}

// Switch makes the stateroot follow another ref (or remote): it fetches
// what the new refspec names and deploys it as the new default, with the
// current deployment's /etc changes and kernel arguments. Hold the
// sysroot's lock.
func (s *Sysroot) Switch(ctx context.Context, o SwitchOptions) (*Deployment, error) {
	u, err := s.upgradeBase(o.Stateroot, true)
	if err != nil {
		return nil, err
	}
	next, err := SwitchRefspec(u.Refspec, o.Target)
	if err != nil {
		return nil, err
	}
	c, err := s.pullRefspec(ctx, next, pullOptionsFor(u))
	if err != nil {
		return nil, s.record(historyEntry("os-deploy", next, u.From, c), err)
	}
	return s.Deploy(ctx, DeployOptions{Stateroot: u.Stateroot, Revision: c.String(), Refspec: next,
		Merge: o.Merge, Lazy: u.Lazy, Source: MountSource(next, c)})
}
