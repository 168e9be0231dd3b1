// Package apps holds the workflows on an installation's apps and
// runtimes that the command line and the software center share: install
// (from a remote or a .flatpakref), updates and what they would grant,
// update (held back when it asks for new permissions, or only
// downloaded), uninstall, and remotes added from .flatpakrepo files.
// Every operation reports its progress in words and is recorded in the
// installation's history.
package apps

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/internal/mounts"
	"arbor/store"
	"arbor/store/object"
)

// Mounts ends the mounts of deployed commits before they are removed:
// the repository's daemon, or a client of it (mountd.Client).
type Mounts interface {
	Unmount(ctx context.Context, dir string) error
}

// Manager runs the workflows on one installation.
type Manager struct {
	Repo    *store.Repo
	In      *flatpak.Installation
	Arbor   string       // the arbor binary exports start apps with ("": this executable)
	Mounts  Mounts       // nil: nothing is unmounted
	History *history.Log // nil: nothing recorded
	// Sessions, when set, keeps sessions with remotes between
	// operations (see Sessions); nil: each operation opens its own.
	Sessions *Sessions
}

// NewManager is the manager of the installation around r, recording in
// its history (HistoryPath).
func NewManager(r *store.Repo, in *flatpak.Installation) *Manager {
	return &Manager{Repo: r, In: in, History: history.Open(HistoryPath(in))}
}

// HistoryPath is where an installation's history is kept.
func HistoryPath(in *flatpak.Installation) string { return filepath.Join(in.Dir, "history.jsonl") }

// Event is progress, sent often; its Message always says in words what is
// being done or waited for.
type Event struct {
	Ref     string `json:"ref"`
	Phase   string `json:"phase"`   // resolving, fetching, deploying, removing, done
	Message string `json:"message"` // "fetching the commit of app/... from origin (127.0.0.1:8000)", "waiting for 127.0.0.1:8000: nothing received for 5s"
	Objects int64  `json:"objects"` // from fetch.Progress: objects seen
	Fetched int64  `json:"fetched"` // objects fetched
	Bytes   int64  `json:"bytes"`   // bytes received
	// Change is set on each "done": what became of the ref, as soon as
	// it is known (the command line prints it then).
	Change *Change `json:"change,omitempty"`
}

// Progress receives events; it may be nil. Events of one operation are
// sent one at a time.
type Progress func(Event)

// Phases of an Event.
const (
	PhaseResolving = "resolving"
	PhaseFetching  = "fetching"
	PhaseDeploying = "deploying"
	PhaseRemoving  = "removing"
	PhaseDone      = "done"
)

// Change is what an operation did to one ref. From and To are the
// commits before and after (zero: none). An update held back for new
// permissions has NewPermissions and a zero To; a download has To and
// Downloaded, and nothing deployed.
type Change struct {
	Ref            flatpak.Ref     `json:"ref"`
	From           object.Checksum `json:"from"`
	To             object.Checksum `json:"to"`
	Warnings       []string        `json:"warnings,omitempty"`
	NewPermissions []string        `json:"new_permissions,omitempty"`
	Downloaded     bool            `json:"downloaded,omitempty"`
}

// Held reports whether the change is an update held back for new
// permissions.
func (c Change) Held() bool { return c.To.IsZero() && len(c.NewPermissions) > 0 }

// ErrRuntimeDeclined is returned when an app was installed but the
// runtime it needs was not, because InstallRequest.Runtime said no.
var ErrRuntimeDeclined = errors.New("its runtime was not installed")

// op is one operation: its reporting (events in order, one at a time)
// and its sessions with remotes, so that its pulls share connections and
// each remote's summary is fetched once.
type op struct {
	mu sync.Mutex
	p  Progress

	kept     *Sessions // where sessions come from, when set; they stay open
	sessMu   sync.Mutex
	sessions map[string]*fetch.Session
}

// session is the operation's session with remote, opened on first use
// (or taken from those kept), the same one for all of the operation.
func (o *op) session(r *store.Repo, remote string) (*fetch.Session, error) {
	o.sessMu.Lock()
	defer o.sessMu.Unlock()
	if s, ok := o.sessions[remote]; ok {
		return s, nil
	}
	var s *fetch.Session
	var err error
	if o.kept != nil {
		s, err = o.kept.get(r, remote, false)
	} else {
		s, err = fetch.NewSession(r, remote)
	}
	if err != nil {
		return nil, err
	}
	if o.sessions == nil {
		o.sessions = map[string]*fetch.Session{}
	}
	o.sessions[remote] = s
	return s, nil
}

// refs is what remote offers, as the operation's session read it.
func (o *op) refs(ctx context.Context, r *store.Repo, remote string) (map[string]object.Checksum, error) {
	s, err := o.session(r, remote)
	if err != nil {
		return nil, err
	}
	return s.Refs(ctx)
}

// close ends the operation's sessions, but for those kept.
func (o *op) close() {
	o.sessMu.Lock()
	defer o.sessMu.Unlock()
	if o.kept == nil {
		for _, s := range o.sessions {
			s.Close()
		}
	}
	o.sessions = nil
}

func (o *op) send(e Event) {
	if o == nil || o.p == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p(e)
}

func (m *Manager) op(p Progress) *op { return &op{p: p, kept: m.Sessions} }

// record appends an entry to the history, if there is one.
func (m *Manager) record(e history.Entry, err error) error {
	if m.History == nil {
		return nil
	}
	if err != nil {
		e.Error = err.Error()
	}
	if herr := m.History.Append(e); herr != nil {
		return fmt.Errorf("recording %s of %s in the history: %w", e.Op, e.Ref, herr)
	}
	return nil
}

// recordChange records a change, and a failure to record it as a
// warning of the change (the operation itself is done).
func (m *Manager) recordChange(opName, remote string, c *Change) {
	e := history.Entry{Op: opName, Ref: c.Ref.String(), Remote: remote, From: commitString(c.From), To: commitString(c.To)}
	if err := m.record(e, nil); err != nil {
		c.Warnings = append(c.Warnings, err.Error())
	}
}

// recordFailure records a failed operation and returns its error (with
// the history's failure joined, if that failed too).
func (m *Manager) recordFailure(e history.Entry, err error) error {
	if herr := m.record(e, err); herr != nil {
		return errors.Join(err, herr)
	}
	return err
}

func commitString(c object.Checksum) string {
	if c.IsZero() {
		return ""
	}
	return c.String()
}

// arbor is the binary launchers run.
func (m *Manager) arbor() (string, error) {
	if m.Arbor != "" {
		return m.Arbor, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the arbor binary for launchers: %w", err)
	}
	return exe, nil
}

// host is what a remote's data comes from, for messages: its server, or
// its directory for a file URL.
func (m *Manager) host(remote string) string {
	rm, err := fetch.LoadRemote(m.Repo, remote)
	if err != nil {
		return remote
	}
	u, err := url.Parse(rm.URL)
	if err != nil {
		return remote
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Path
}

// waitAfter is how long a pull may go without receiving anything before
// its events say what it is waiting for.
const waitAfter = 3 * time.Second

// pull runs a pull of ref from remote, reporting its counts with message,
// and, whenever nothing arrived for a while, what it is waiting for.
func (m *Manager) pull(ctx context.Context, o *op, remote, ref, message string, opts fetch.PullOptions) (*fetch.Result, error) {
	host := m.host(remote)
	var mu sync.Mutex
	last := Event{Ref: ref, Phase: PhaseFetching, Message: message}
	lastChange := time.Now()
	o.send(last)
	opts.Progress = func(p fetch.Progress) {
		mu.Lock()
		if p.Bytes != last.Bytes || p.Fetched != last.Fetched || p.Objects != last.Objects {
			lastChange = time.Now()
		}
		last.Objects, last.Fetched, last.Bytes, last.Message = p.Objects, p.Fetched, p.Bytes, message
		e := last
		mu.Unlock()
		o.send(e)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			quiet := time.Since(lastChange)
			e := last
			mu.Unlock()
			if quiet >= waitAfter {
				e.Message = fmt.Sprintf("waiting for %s: nothing received for %ds (%s)", host, int(quiet.Seconds()), message)
				o.send(e)
			}
		}
	}()
	s, err := o.session(m.Repo, remote)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", message, remote, err)
	}
	res, err := s.Pull(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", message, remote, err)
	}
	return res, nil
}

// mounted reports whether something is mounted at dir.
func mounted(dir string) bool {
	ms, err := mounts.Read()
	if err != nil {
		return false
	}
	dir = filepath.Clean(dir)
	for _, mt := range ms {
		if mt.Point == dir {
			return true
		}
	}
	return false
}
