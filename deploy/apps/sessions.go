package apps

import (
	"context"
	"sync"
	"time"

	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// Sessions keeps a long-lived process's sessions with its remotes
// between operations for a while (the software center's daemon): a user
// who opened an app's details, which fetched and verified the remote's
// summary, then presses Install, is not kept waiting for the summary
// again, nor for new connections, and installs the commit the details
// showed. A session is kept for Fresh from when it was opened, and only
// while its remote's configuration and keys are what they were then
// (fetch.Remote.Fingerprint): what it trusts is what the repository says
// now. A command line process has none: each operation opens its own.
type Sessions struct {
	// Fresh is how long a kept session, and the summary it holds, is
	// used: no remote is taken to be older than that.
	Fresh time.Duration

	mu   sync.Mutex
	kept map[string]*keptSession // by remote
}

type keptSession struct {
	s      *fetch.Session
	fp     string
	opened time.Time
	drop   *time.Timer

	mu     sync.Mutex
	pulled map[string]object.Checksum // ref: the commit this session pulled of it, verified
}

// NewSessions keeps sessions for fresh.
func NewSessions(fresh time.Duration) *Sessions {
	return &Sessions{Fresh: fresh, kept: map[string]*keptSession{}}
}

// get is the kept session with remote, or a new one kept from now;
// renew always opens a new one (a refresh, which must ask the remote).
func (ss *Sessions) get(r *store.Repo, remote string, renew bool) (*fetch.Session, error) {
	rm, err := fetch.LoadRemote(r, remote)
	if err != nil {
		return nil, err
	}
	fp := rm.Fingerprint(r)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if k := ss.kept[remote]; k != nil {
		if !renew && k.fp == fp && time.Since(k.opened) < ss.Fresh {
			return k.s, nil
		}
		ss.dropLocked(remote, k)
	}
	s, err := fetch.NewSession(r, remote)
	if err != nil {
		return nil, err
	}
	k := &keptSession{s: s, fp: fp, opened: time.Now()}
	// Dropped once stale, with what it holds (the summary, the tree
	// indexes it loaded), rather than when next asked for.
	k.drop = time.AfterFunc(ss.Fresh, func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.kept[remote] == k {
			ss.dropLocked(remote, k)
		}
	})
	ss.kept[remote] = k
	return s, nil
}

// keptFor is the kept session s, nil when s is not (or no longer) kept.
func (ss *Sessions) keptFor(remote string, s *fetch.Session) *keptSession {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if k := ss.kept[remote]; k != nil && k.s == s {
		return k
	}
	return nil
}

// pulled records that session s pulled commit c of ref, verified as the
// remote asks.
func (ss *Sessions) notePulled(remote string, s *fetch.Session, ref string, c object.Checksum) {
	if k := ss.keptFor(remote, s); k != nil {
		k.mu.Lock()
		if k.pulled == nil {
			k.pulled = map[string]object.Checksum{}
		}
		k.pulled[ref] = c
		k.mu.Unlock()
	}
}

// pulledBy is the commit of ref that session s pulled, if it did.
func (ss *Sessions) pulledBy(remote string, s *fetch.Session, ref string) (object.Checksum, bool) {
	k := ss.keptFor(remote, s)
	if k == nil {
		return object.Zero, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.pulled[ref]
	return c, ok
}

// dropLocked forgets a kept session; operations using it go on with it.
// Callers hold mu.
func (ss *Sessions) dropLocked(remote string, k *keptSession) {
	k.drop.Stop()
	delete(ss.kept, remote)
	k.s.Close()
}

// Close forgets every kept session.
func (ss *Sessions) Close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for remote, k := range ss.kept {
		ss.dropLocked(remote, k)
	}
}

// RemoteRefs asks remote what it offers now, its summary fetched anew
// (and verified, as the remote asks); with Sessions, the operations that
// follow within Fresh take that summary as the remote's.
func (m *Manager) RemoteRefs(ctx context.Context, remote string) (map[string]object.Checksum, error) {
	if m.Sessions == nil {
		return fetch.RemoteRefs(ctx, m.Repo, remote)
	}
	s, err := m.Sessions.get(m.Repo, remote, true)
	if err != nil {
		return nil, err
	}
	return s.Refs(ctx)
}
