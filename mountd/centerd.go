package mountd

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"arbor/deploy/apps"
	dcenter "arbor/deploy/center"
	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/deploy/sysroot"
	mcenter "arbor/mountd/center"
)

// CenterRequest asks the daemon for its software center.
type CenterRequest struct {
	// Sysroot, when set, adds the OS deployed there to the center.
	Sysroot string `json:"sysroot,omitempty"`
}

// CenterInfo is where the center is served.
type CenterInfo struct {
	URL string `json:"url"`
}

// Center asks the daemon to serve its software center (started on first
// use) and returns the address to open.
func (c *Client) Center(ctx context.Context, req CenterRequest) (*CenterInfo, error) {
	var out CenterInfo
	if err := c.do(ctx, http.MethodPost, "/v1/center", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// centerIdle is how long an unused center keeps a daemon that has no
// mounts: a page left open pings it through its event stream.
const centerIdle = 30 * time.Minute

// sessionsFresh is how long the center's workflows take a remote's
// summary, fetched and verified by the operation before, as the remote's:
// the details of an app fetch it, and the Install pressed on them then
// installs the commit they showed, without asking again. A refresh
// always asks.
const sessionsFresh = 30 * time.Second

// startCenter starts the center once; later calls return the same one.
func (d *Daemon) startCenter(req CenterRequest) (*CenterInfo, error) {
	if req.Sysroot != "" {
		p, err := filepath.Abs(req.Sysroot)
		if err != nil {
			return nil, err
		}
		req.Sysroot = p
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return nil, ErrClosing
	}
	if d.center != nil {
		if req.Sysroot != "" && req.Sysroot != d.centerSysroot {
			return nil, fmt.Errorf("this daemon's center serves the sysroot %q; stop it to serve %s", d.centerSysroot, req.Sysroot)
		}
		return &CenterInfo{URL: d.center.URL()}, nil
	}
	in := flatpak.NewInstallation(d.repo.Path())
	m := &apps.Manager{Repo: d.repo, In: in, Arbor: frontArbor(), Mounts: daemonMounts{d},
		History: history.Open(apps.HistoryPath(in)), Sessions: apps.NewSessions(sessionsFresh)}
	appsB := dcenter.NewApps(m)
	backends := []dcenter.Backend{appsB}
	var osB *dcenter.OS
	if req.Sysroot != "" {
		osB = dcenter.NewOS(req.Sysroot)
		osB.Mounter = d.usrMounter
		backends = append(backends, osB)
	}
	c := dcenter.New(d.ctx, backends...)
	c.Maintain(d.ctx, 24*time.Hour)
	uid := uint32(os.Geteuid())
	srv, err := mcenter.Listen(mcenter.Config{Center: c, Apps: appsB, OS: osB, Logf: d.opts.Logf,
		// The control socket admits this user and root; so does the page.
		Allow: func(peer uint32) bool { return peer == uid || peer == 0 }})
	if err != nil {
		return nil, err
	}
	d.center, d.centerSysroot = srv, req.Sysroot
	d.opts.Logf("serving the software center on %s", srv.Addr())
	return &CenterInfo{URL: srv.URL()}, nil
}

// centerInUse reports whether the center keeps the daemon: a job runs or
// the page asked something lately.
func (d *Daemon) centerInUse() bool {
	d.mu.Lock()
	srv := d.center
	d.mu.Unlock()
	return srv != nil && (srv.Center.Busy() || srv.Idle() < centerIdle)
}

// usrMounter serves a sysroot's lazy /usr through its repository's
// daemon: arbord, this program.
func (d *Daemon) usrMounter(repo string) sysroot.Mounter {
	return UsrMounter{Repo: repo, Argv: func(repo string) ([]string, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		return []string{exe, "--repo=" + repo, "--exit-when-idle"}, nil
	}}
}

// daemonMounts lets the workflows unmount through this daemon.
type daemonMounts struct{ d *Daemon }

func (m daemonMounts) Unmount(_ context.Context, dir string) error { return m.d.Unmount(dir) }

// frontArbor is the arbor that desktop files and launchers run: the one
// beside this daemon, else the one on PATH.
func frontArbor() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "arbor")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "arbor"
}
