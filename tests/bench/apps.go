package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"arbor/mountd"
	"arbor/tests/testutil"
)

// Scenarios of issues 5 and 6: apps run from runtimes, arbor against
// ostree + bwrap and against the real flatpak.

// starts is how many sandbox starts one timed run makes: a start takes
// milliseconds, so one alone would be mostly noise.
const starts = 20

// loopLine repeats a shell command line starts times, stopping at a failure.
func loopLine(line string) string {
	return fmt.Sprintf("i=0; while [ $i -lt %d ]; do %s >/dev/null || exit 1; i=$((i+1)); done", starts, line)
}

func loop(line string) []string { return sh(loopLine(line)) }

// flatpakEnv is the environment for the real flatpak with its per-user
// installation, home and runtime directory under dir, as shell exports.
func flatpakEnv(dir string) string {
	return fmt.Sprintf("export FLATPAK_USER_DIR=%[1]s/fp-user HOME=%[1]s/fp-home XDG_RUNTIME_DIR=%[1]s/fp-run XDG_DATA_HOME=%[1]s/fp-home/data XDG_CONFIG_HOME=%[1]s/fp-home/config;", dir)
}

// trueApp publishes an app whose command is true on a runtime made of the
// host's true and sh, and installs it warm in both an arbor installation
// (lazily, then run once so its mounts are up) and flatpak's.
type trueApp struct{ dir string }

func (a trueApp) inst() string { return filepath.Join(a.dir, "inst", "repo") }

func (a trueApp) setup(e *env) error {
	rt, app, repo := filepath.Join(a.dir, "rt"), filepath.Join(a.dir, "app"), filepath.Join(a.dir, "repo")
	if err := testutil.CopyHostPrograms(filepath.Join(rt, "usr"), "true", "sh"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rt, "metadata"), []byte("[Runtime]\nname=org.bench.Base\nruntime=org.bench.Base/x86_64/1\nsdk=org.bench.Base/x86_64/1\n"), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"fp-home", "fp-run"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o700); err != nil {
			return err
		}
	}
	fp := flatpakEnv(a.dir)
	for _, line := range []string{
		fmt.Sprintf("%s build-init %s org.bench.True org.bench.Base org.bench.Base 1", e.arbor, app),
		fmt.Sprintf("%s build-finish %s --command=true", e.arbor, app),
		fmt.Sprintf("%s --repo=%s init --mode=archive", e.arbor, repo),
		fmt.Sprintf("%s build-export --runtime %s %s 1", e.arbor, repo, rt),
		fmt.Sprintf("%s build-export %s %s 1", e.arbor, repo, app),
		fmt.Sprintf("%s build-update-repo %s", e.arbor, repo),
		fmt.Sprintf("%s --repo=%s init --mode=bare-user", e.arbor, a.inst()),
		fmt.Sprintf("%s --repo=%s remote add --no-gpg-verify origin file://%s", e.arbor, a.inst(), repo),
		fmt.Sprintf("%s --repo=%s install -y origin org.bench.True", e.arbor, a.inst()),
		fmt.Sprintf("%s --repo=%s run org.bench.True", e.arbor, a.inst()),
		fp + fmt.Sprintf("flatpak remote-add --user --no-gpg-verify origin %s", repo),
		fp + "flatpak install --user -y --noninteractive origin app/org.bench.True/x86_64/1",
		fp + "flatpak run org.bench.True//1",
	} {
		if _, err := run(e, sh(line)); err != nil {
			return err
		}
	}
	return nil
}

func (a trueApp) teardown(e *env) error {
	mountd.Stop(a.inst(), 10*time.Second)
	return nil
}

// flatpakRunTrue is the timed flatpak side: starts × `flatpak run` of the app.
func (a trueApp) flatpakRunTrue(e *env) []string {
	return sh(flatpakEnv(a.dir) + loopLine("flatpak run org.bench.True//1"))
}

// appRunScenario: warm `arbor run` of an app whose command is true against
// `flatpak run` of the same app from the same repository.
func appRunScenario() *scenario {
	const name = "app-run-true"
	var a trueApp
	return &scenario{
		name: name,
		setup: func(e *env) error {
			a = trueApp{dir: e.dir(name)}
			return a.setup(e)
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string {
				return loop(fmt.Sprintf("%s --repo=%s run org.bench.True", e.arbor, a.inst()))
			}},
			{name: "flatpak", argv: func(e *env) []string { return a.flatpakRunTrue(e) }},
		},
		teardown: func(e *env) error { return a.teardown(e) },
		targets:  []target{{peer: 1, max: 0.3}},
		notes: func() []string {
			return []string{fmt.Sprintf("Each timed run is %d starts of the app, one after another.", starts)}
		},
	}
}

// appRunBusScenario: the same warm starts with a session bus on the host,
// which both tools reach only through xdg-dbus-proxy, started per run and
// waited on before the app.
func appRunBusScenario() *scenario {
	const name = "app-run-true-bus"
	var a trueApp
	var daemon *exec.Cmd
	var addr string
	return &scenario{
		name: name,
		setup: func(e *env) error {
			a = trueApp{dir: e.dir(name)}
			if err := a.setup(e); err != nil {
				return err
			}
			addr = "unix:path=" + filepath.Join(a.dir, "bus")
			daemon = exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+addr)
			if err := daemon.Start(); err != nil {
				return fmt.Errorf("dbus-daemon: %w", err)
			}
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(filepath.Join(a.dir, "bus")); err == nil {
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			return fmt.Errorf("dbus-daemon made no socket at %s", addr)
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string {
				return sh("export DBUS_SESSION_BUS_ADDRESS=" + addr + "; " + loopLine(fmt.Sprintf("%s --repo=%s run org.bench.True", e.arbor, a.inst())))
			}},
			{name: "flatpak", argv: func(e *env) []string {
				return sh(flatpakEnv(a.dir) + "export DBUS_SESSION_BUS_ADDRESS=" + addr + "; " + loopLine("flatpak run org.bench.True//1"))
			}},
		},
		teardown: func(e *env) error {
			if daemon != nil && daemon.Process != nil {
				daemon.Process.Kill()
				daemon.Wait()
			}
			return a.teardown(e)
		},
		targets: []target{{peer: 1, max: 0.5}},
		notes: func() []string {
			return []string{fmt.Sprintf("%s: each timed run is %d starts, with a private session bus on the host (dbus-daemon): both tools start xdg-dbus-proxy for the app and wait for it.", name, starts)}
		},
	}
}

// pythonScenario: from a remote runtime made of the host's /usr, never
// installed before, run python3 importing a few modules. arbor installs the
// app lazily and runs it; the peer pulls the runtime with ostree, checks it
// out and runs the same command with bwrap. Bytes are what nginx sent.
func pythonScenario(n network) *scenario {
	name := n.name("app-python-cold")
	const script = "import json, email, http.client"
	const rtRef = "runtime/org.bench.Host/x86_64/1"
	var srv *server
	var usrBytes int64
	bytes := func(e *env) (int64, error) { return srv.BytesSent() }
	link := func() *server { return srv }
	client := func(label string) (fs, repo func(e *env) string) {
		fs = func(e *env) string { return e.dir(name, label+"-fs") }
		return fs, func(e *env) string { return filepath.Join(fs(e), "inst", "repo") }
	}
	aFS, aRepo := client("arbor")
	oFS, oRepo := client("ostree")
	prepare := func(fs, repo func(e *env) string, bin func(e *env) string) func(e *env) error {
		return func(e *env) error {
			if err := e.mountFreshSize(fs(e), 3*usrBytes+1<<30); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(repo(e)), 0o755); err != nil {
				return err
			}
			if err := runAll(e, [][]string{
				{bin(e), "--repo=" + repo(e), "init", "--mode=bare-user"},
				{bin(e), "--repo=" + repo(e), "remote", "add", "--no-gpg-verify", "origin", srv.URL},
			}); err != nil {
				return err
			}
			return srv.ResetLog()
		}
	}
	return &scenario{
		name:    name,
		maxRuns: 1,
		setup: func(e *env) error {
			st, err := warmTree("/usr")
			if err != nil {
				return err
			}
			usrBytes = st.bytes
			dir := e.dir(name)
			rt, app, repo := filepath.Join(dir, "rt"), filepath.Join(dir, "app"), filepath.Join(dir, "repo")
			if err := os.MkdirAll(filepath.Join(rt, "usr"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(rt, "metadata"), []byte("[Runtime]\nname=org.bench.Host\nruntime=org.bench.Host/x86_64/1\n"), 0o644); err != nil {
				return err
			}
			// The host's /usr, bound read-only into the build directory.
			if _, err := run(e, []string{"mount", "--bind", "-o", "ro", "/usr", filepath.Join(rt, "usr")}); err != nil {
				return err
			}
			defer run(e, []string{"umount", filepath.Join(rt, "usr")})
			logf("%s: exporting /usr (%s) as a runtime", name, humanBytes(usrBytes))
			if err := runAll(e, [][]string{
				{e.arbor, "build-init", app, "org.bench.Python", "org.bench.Host", "org.bench.Host", "1"},
				{e.arbor, "build-finish", app, "--command=python3"},
				{e.arbor, "--repo=" + repo, "init", "--mode=archive"},
				{e.arbor, "build-export", "--runtime", repo, rt, "1"},
				{e.arbor, "build-export", repo, app, "1"},
				{e.arbor, "build-update-repo", repo},
			}); err != nil {
				return err
			}
			srv, err = n.serve(filepath.Join(dir, "nginx"), repo)
			return err
		},
		tools: []tool{
			{name: "arbor", prepare: prepare(aFS, aRepo, func(e *env) string { return e.arbor }),
				argv: func(e *env) []string {
					return sh(fmt.Sprintf("%[1]s --repo=%[2]s install -y origin org.bench.Python >/dev/null && %[1]s --repo=%[2]s run org.bench.Python -c '%[3]s'",
						e.arbor, aRepo(e), script))
				},
				bytes: bytes, server: link,
				clean: func(e *env) error {
					mountd.Stop(aRepo(e), 10*time.Second)
					return e.unmountFresh(aFS(e))
				}},
			{name: "ostree+bwrap", prepare: prepare(oFS, oRepo, func(e *env) string { return e.ostree }),
				argv: func(e *env) []string {
					co := filepath.Join(oFS(e), "co")
					return sh(fmt.Sprintf("%[1]s --repo=%[2]s pull origin %[3]s >/dev/null && %[1]s --repo=%[2]s checkout -U %[3]s %[4]s && "+
						"bwrap --ro-bind %[4]s/files /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin "+
						"--proc /proc --dev /dev --unshare-all --die-with-parent /usr/bin/python3 -c '%[5]s'",
						e.ostree, oRepo(e), rtRef, co, script))
				},
				bytes: bytes, server: link,
				clean: func(e *env) error { return e.unmountFresh(oFS(e)) }},
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: []target{{peer: 1, max: 0.1}, {peer: 1, max: 0.05, onBytes: true}},
		notes: func() []string {
			return []string{fmt.Sprintf("The runtime is the host's /usr (%s); the peer's bytes are all of it, compressed.", humanBytes(usrBytes)),
				"One run per tool: the peer's pull takes minutes.", n.note(name)}
		},
	}
}
