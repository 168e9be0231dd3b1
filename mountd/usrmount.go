package mountd

import "context"

// UsrMounter serves lazy OS deployments' /usr through the daemon of the
// sysroot's repository, whose persistent mounts come back when it
// restarts. It is deploy/sysroot's Mounter for the CLI and the center.
type UsrMounter struct {
	Repo string
	// Argv is how to start that daemon when none answers.
	Argv func(repo string) ([]string, error)
}

// Client returns the daemon's client, starting the daemon if needed.
func (m UsrMounter) Client(ctx context.Context) (*Client, error) {
	argv, err := m.Argv(m.Repo)
	if err != nil {
		return nil, err
	}
	return EnsureDaemon(ctx, m.Repo, argv)
}

// MountUsr mounts a commit's /usr at dir, for good.
func (m UsrMounter) MountUsr(ctx context.Context, source, dir string, setuid bool) error {
	cl, err := m.Client(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Mount(ctx, MountRequest{Source: source, Mountpoint: dir, Subpath: "/usr", Persistent: true, Setuid: setuid})
	return err
}

// Unmount ends the mount at dir, through the daemon if one runs.
func (m UsrMounter) Unmount(ctx context.Context, dir string) error {
	if DaemonPID(m.Repo) != 0 {
		return NewClient(m.Repo).Unmount(ctx, dir)
	}
	return Detach(m.Repo, dir)
}

// Ready has the daemon up, so that the lazy deployments' /usr are there.
func (m UsrMounter) Ready(ctx context.Context) error {
	_, err := m.Client(ctx)
	return err
}
