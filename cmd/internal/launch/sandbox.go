package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"arbor/cmd/internal/termtext"
	"arbor/mountd/mountinfo"
	"arbor/sandbox"
	"arbor/sandbox/busproxy"
	"arbor/sandbox/cgroup"
	"arbor/store/keyfile"
)

// SandboxCmd is `arbor sandbox`.
func SandboxCmd(g *Globals) *cobra.Command {
	var spec sandbox.Spec
	var metadata, appID string
	var flags PermFlags
	c := &cobra.Command{
		Use:   "sandbox --runtime=DIR [--app=DIR] [PERMISSION...] -- COMMAND [ARG...]",
		Short: "Run a command in arbor's sandbox, with a runtime at /usr and an app at /app",
		Long: `Run a command the way arbor runs apps: new namespaces, a fresh root with the
runtime read-only at /usr and the app at /app, seccomp, no privileges, and only
the holes the permissions open. Permissions are flatpak's: those of --metadata's
[Context], then the command line's (--share, --socket, --device, --allow,
--filesystem, --persist, --env; a leading '!' or --filesystem=!PATH denies).
For tests and for debugging a sandbox. Everything after -- is the command, even
a name that begins with '-'.`,
		Example: `  arbor sandbox --runtime=/usr -- sh -c 'id; ls /'
  arbor sandbox --runtime=rt/files --app=app/files --share=network --filesystem=~/Music:ro -- /app/bin/player`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec.Runtime == "" {
				return fmt.Errorf("--runtime=DIR is required")
			}
			for _, p := range []*string{&spec.Runtime, &spec.App} {
				if *p != "" {
					abs, err := filepath.Abs(*p)
					if err != nil {
						return err
					}
					*p = abs
				}
			}
			perms := sandbox.NewContext()
			if metadata != "" {
				b, err := os.ReadFile(metadata)
				if err != nil {
					return err
				}
				kf, err := keyfile.ParseBytes(b)
				if err != nil {
					return fmt.Errorf("%s: %w", metadata, err)
				}
				if perms, err = sandbox.ParseContext(kf); err != nil {
					return fmt.Errorf("%s: %w", metadata, err)
				}
			}
			cli, err := flags.Context()
			if err != nil {
				return err
			}
			perms.Merge(cli)
			spec.Args = args
			return g.RunSandboxed(cmd.Context(), spec, perms, appID, "", nil, nil)
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&spec.Runtime, "runtime", "", "directory mounted read-only at /usr")
	c.Flags().StringVar(&spec.App, "app", "", "directory mounted read-only at /app")
	c.Flags().StringVar(&appID, "app-id", "", "the app's id: its ~/.var/app/ID directories are made and shared")
	c.Flags().StringVar(&metadata, "metadata", "", "a flatpak metadata file whose [Context] and [Environment] apply first")
	flags.Add(c)
	return c
}

// RunSandboxed starts the sandbox as the permissions say and, while its
// namespaces are made, applies them (and the app's directories, with an
// app id) to spec, makes the environment and has prepare, when set,
// finish the spec; then it runs the command and passes its exit status
// on. With a cgroup name, the sandbox runs in a cgroup of that name of
// its own, where this user may make one. started, when set, hears the
// sandbox's first process and its cgroup ("" for none) before the
// command starts.
func (g *Globals) RunSandboxed(ctx context.Context, spec sandbox.Spec, perms *sandbox.Context, appID, cgroupName string, prepare func(*sandbox.Spec) error, started func(child int, cgroup string) error) error {
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	if spec.Home == "" {
		spec.Home = home
	}
	for _, w := range perms.Warnings {
		fmt.Fprintf(g.Stderr, "warning: %s\n", termtext.Line(w))
	}
	sb := sandbox.New(ctx, perms.Namespaces(spec), sandbox.Stdio{Stdin: os.Stdin, Stdout: g.Stdout, Stderr: g.Stderr})
	defer sb.Close()
	cg := ""
	if cgroupName != "" {
		dir, f, err := cgroup.Make(cgroupName)
		if err != nil && !errors.Is(err, cgroup.ErrNone) {
			return err
		}
		if err == nil {
			cg = dir
			defer cgroup.Remove(dir) // once it is empty; or the next Make of its kind
			defer f.Close()
			sb.IntoCgroup(int(f.Fd()))
		}
	}
	done := make(chan error, 1)
	var proxy *busproxy.Proxy
	defer func() { proxy.Close() }() // after the app: it talks through it to the end
	go func() {
		var err error
		proxy, err = finishSpec(ctx, &spec, perms, home, appID, prepare)
		if err == nil {
			err = sb.Prepare(spec)
		}
		done <- err
	}()
	sb.Start()
	// Beside the spec's finishing: moving a process into a cgroup, where
	// the kernel could not start it there, waits on it for milliseconds.
	startedErr := make(chan error, 1)
	go func() {
		pid := sb.Pid()
		if pid <= 0 {
			startedErr <- nil
			return
		}
		if cg != "" && !sb.InCgroup() {
			if err := cgroup.Move(cg, pid); err != nil {
				startedErr <- err
				return
			}
		}
		if started != nil {
			startedErr <- started(pid, cg)
			return
		}
		startedErr <- nil
	}()
	err = <-done
	if serr := <-startedErr; err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	code, err := sb.Run()
	if err != nil {
		return err
	}
	if code != 0 {
		return ExitError{Code: code}
	}
	return nil
}

// finishSpec starts the app's bus proxy, applies the permissions and the
// app's directories to spec, makes its environment and has prepare, when
// set, finish it. The proxy, when one runs, is the caller's to close.
func finishSpec(ctx context.Context, spec *sandbox.Spec, perms *sandbox.Context, home, appID string, prepare func(*sandbox.Spec) error) (*busproxy.Proxy, error) {
	hostEnv := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		hostEnv[k] = v
	}
	var appEnv []string
	if appID != "" {
		binds, env, err := sandbox.AppDirs(home, appID)
		if err != nil {
			return nil, err
		}
		spec.Binds, appEnv = append(spec.Binds, binds...), env
	}
	// First: the proxy has the app's /.flatpak-info, which it makes.
	if prepare != nil {
		if err := prepare(spec); err != nil {
			return nil, err
		}
	}
	info := spec.Info
	if info == nil {
		info = sandboxInfo(appID, perms)
	}
	proxy, err := busproxy.Start(ctx, proxyConfig(perms, appID, hostEnv, info))
	if err != nil {
		return nil, err
	}
	h := sandbox.Host{Home: home, UID: os.Getuid(), RuntimeDir: hostEnv["XDG_RUNTIME_DIR"], Env: hostEnv, AppID: appID,
		SessionProxy: proxy.SessionSocket, SystemProxy: proxy.SystemSocket, DocPortal: docPortal(hostEnv)}
	extra, err := perms.Apply(spec, h)
	if err == nil {
		spec.Env = sandbox.Environ(os.Environ(), os.Getuid(), home, append(appEnv, extra...))
	}
	if err != nil {
		proxy.Close()
		return nil, err
	}
	return proxy, nil
}

// docPortal is the document portal's mount, where it serves: doc in the
// user's runtime directory, or in the cache directory without one, as
// GLib places it.
func docPortal(hostEnv map[string]string) string {
	dir := hostEnv["XDG_RUNTIME_DIR"]
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return ""
		}
	}
	dir = filepath.Join(dir, "doc")
	if !mountinfo.Serving(dir) {
		return ""
	}
	return dir
}

// sandboxInfo is the /.flatpak-info of a command run without an app's
// (arbor sandbox): what its bus proxy shows the services it calls, so
// that they take it for sandboxed, with its permissions.
func sandboxInfo(appID string, perms *sandbox.Context) []byte {
	kf := keyfile.New()
	if appID != "" {
		kf.Set("Application", "name", appID)
	}
	kf.Set("Instance", "session-bus-proxy", "true")
	kf.Set("Instance", "system-bus-proxy", "true")
	perms.Keyfile(kf, false)
	return kf.Bytes()
}

// proxyConfig is what the app's buses go through, as under flatpak: the
// session bus, where the host has one and the app has not the whole of
// it; the system bus, where its policy names something on it.
func proxyConfig(perms *sandbox.Context, appID string, hostEnv map[string]string, info []byte) busproxy.Config {
	cfg := busproxy.Config{RuntimeDir: hostEnv["XDG_RUNTIME_DIR"], Info: info, Stderr: os.Stderr}
	if a := hostEnv["DBUS_SESSION_BUS_ADDRESS"]; a != "" && !perms.Sockets["session-bus"] && busLives(a) {
		cfg.Session = &busproxy.Bus{Address: a, Rules: busproxy.SessionRules(appID, perms)}
	}
	if len(perms.BusNames(sandbox.SystemBus)) > 0 && !perms.Sockets["system-bus"] {
		a := hostEnv["DBUS_SYSTEM_BUS_ADDRESS"]
		if a == "" {
			a = "unix:path=" + sandbox.HostSystemBus(hostEnv)
		}
		if busLives(a) {
			cfg.System = &busproxy.Bus{Address: a, Rules: busproxy.SystemRules(perms)}
		}
	}
	return cfg
}

// busLives says whether a bus address can be there: a unix:path= one
// whose socket is gone (a session's address left in a shell) is not, and
// the app runs without that bus rather than not at all.
func busLives(addr string) bool {
	p, ok := sandbox.BusSocketPath(addr)
	if !ok {
		return true
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}
