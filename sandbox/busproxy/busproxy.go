// Package busproxy runs xdg-dbus-proxy for one app instance: the app
// reaches the session and system buses only through sockets on which the
// proxy lets pass what the app's bus policy allows, as flatpak does.
package busproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"arbor/sandbox"
)

// Binary is the proxy's program, looked up on PATH.
const Binary = "xdg-dbus-proxy"

// readyTimeout bounds the wait for the proxy's word that it listens: it
// answers in milliseconds, or not at all.
const readyTimeout = 10 * time.Second

// SessionRules are the proxy's rules for the session bus of the app
// appID (empty for a command run without one): the app owns its own
// names, calls the portals and hears their signals, and reaches the
// names of its policy as far as they say; nothing else.
func SessionRules(appID string, c *sandbox.Context) []string {
	r := []string{"--filter"}
	if appID != "" {
		r = append(r, "--own="+appID+".*", "--own=org.mpris.MediaPlayer2."+appID+".*")
	}
	r = append(r, rules(c.BusNames(sandbox.SessionBus))...)
	return append(r, "--call=org.freedesktop.portal.*=*", "--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*")
}

// SystemRules are the proxy's rules for the system bus: the names of
// the policy, nothing else.
func SystemRules(c *sandbox.Context) []string {
	return append([]string{"--filter"}, rules(c.BusNames(sandbox.SystemBus))...)
}

func rules(rs []sandbox.BusRule) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, "--"+r.Policy.String()+"="+r.Name)
	}
	return out
}

// Bus is one bus to proxy: the host's address and the rules.
type Bus struct {
	Address string
	Rules   []string
}

// Config says what to proxy. A nil bus is not proxied.
type Config struct {
	RuntimeDir      string // the host's XDG_RUNTIME_DIR: the sockets go in .dbus-proxy/ there ("": a private directory)
	Session, System *Bus
	// Info is the app's /.flatpak-info, which the proxy has at its own
	// root: services (the portals first) tell who calls from the
	// calling process's root, and the app's calls come from the proxy.
	Info   []byte
	Stderr io.Writer
}

// Proxy is a running proxy, in a sandbox of its own.
type Proxy struct {
	// SessionSocket and SystemSocket are where the app connects; ""
	// for a bus not proxied.
	SessionSocket, SystemSocket string
	stop                        context.CancelFunc
	ready                       *os.File // the read end of its ready pipe: the proxy ends when it closes
	waited                      chan struct{}
	tmp                         string // a directory of its own, if it made one
}

// Start starts one proxy for the buses of cfg and returns once it
// listens on every socket, or with the reason it does not. The proxy
// runs in arbor's sandbox, with the host's /usr, the sockets' directory
// and the buses' sockets, and cfg.Info at /.flatpak-info.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	if cfg.Session == nil && cfg.System == nil {
		return &Proxy{}, nil
	}
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("the app's buses are filtered by %s, which is not installed: %w", Binary, err)
	}
	if bin, err = filepath.EvalSymlinks(bin); err != nil || !strings.HasPrefix(bin, "/usr/") {
		return nil, fmt.Errorf("%s is at %s: the proxy runs with the host's /usr, and it is not there", Binary, bin)
	}
	p := &Proxy{}
	dir := filepath.Join(cfg.RuntimeDir, ".dbus-proxy")
	if cfg.RuntimeDir == "" {
		// No runtime directory (root in a bare session): a private one
		// of its own, removed with it.
		if dir, err = os.MkdirTemp("", "arbor-dbus-proxy-"); err != nil {
			return nil, fmt.Errorf("the bus proxy's directory: %w", err)
		}
		p.tmp = dir
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("the bus proxy's directory: %w", err)
	}
	spec := sandbox.Spec{Runtime: "/usr", Info: cfg.Info, Binds: []sandbox.Bind{{Source: dir, Dest: dir, Writable: true}}}
	// It writes a byte on stdout once it listens, and ends when the
	// other end of it closes.
	args := []string{bin, "--fd=1"}
	for _, b := range []struct {
		bus  *Bus
		kind string
		sock *string
	}{{cfg.Session, "session", &p.SessionSocket}, {cfg.System, "system", &p.SystemSocket}} {
		if b.bus == nil {
			continue
		}
		// A fresh name each time; the proxy makes the socket itself.
		f, err := os.CreateTemp(dir, b.kind+"-bus-proxy-")
		if err != nil {
			p.removeSockets()
			return nil, fmt.Errorf("the %s bus proxy's socket: %w", b.kind, err)
		}
		f.Close()
		os.Remove(f.Name())
		*b.sock = f.Name()
		args = append(args, b.bus.Address, f.Name())
		args = append(args, b.bus.Rules...)
		if path, ok := sandbox.BusSocketPath(b.bus.Address); ok {
			// At the path the address names, from where the host's links
			// lead (a bind refuses a symlink on its way).
			src := path
			if real, err := filepath.EvalSymlinks(path); err == nil {
				src = real
			}
			spec.Binds = append(spec.Binds, sandbox.Bind{Source: src, Dest: path, Writable: true})
		} else {
			spec.Network = true // an abstract socket is the network namespace's
		}
	}
	spec.Args = args
	r, w, err := os.Pipe()
	if err != nil {
		p.removeSockets()
		return nil, err
	}
	pctx, stop := context.WithCancel(context.Background()) // ended by Close, not by the caller's request
	sb := sandbox.New(pctx, sandbox.NamespacesOf(spec), sandbox.Stdio{Stdout: w, Stderr: cfg.Stderr})
	if err := sb.Prepare(spec); err != nil {
		stop()
		sb.Close()
		r.Close()
		w.Close()
		p.removeSockets()
		return nil, fmt.Errorf("the bus proxy's sandbox: %w", err)
	}
	sb.Start()
	p.stop, p.ready, p.waited = stop, r, make(chan struct{})
	go func() {
		defer close(p.waited)
		sb.Run()
	}()
	w.Close() // the sandbox has its own
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		n, err := r.Read(b[:])
		if n == 1 {
			err = nil
		} else if err == nil {
			err = errors.New("no word from it")
		}
		ready <- err
	}()
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case err = <-ready:
	case <-t.C:
		err = fmt.Errorf("not listening after %v", readyTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("%s (%s %s): %w", Binary, args[2], args[3], err)
	}
	return p, nil
}

// Close ends the proxy and removes its sockets.
func (p *Proxy) Close() error {
	if p == nil {
		return nil
	}
	if p.stop != nil {
		p.ready.Close() // the proxy sees the end of its pipe and exits
		select {
		case <-p.waited:
		case <-time.After(2 * time.Second):
		}
		p.stop() // and if it did not, its sandbox is killed
		<-p.waited
		p.stop = nil
	}
	p.removeSockets()
	return nil
}

func (p *Proxy) removeSockets() {
	for _, s := range []string{p.SessionSocket, p.SystemSocket} {
		if s != "" {
			os.Remove(s)
		}
	}
	if p.tmp != "" {
		os.Remove(p.tmp)
	}
}
