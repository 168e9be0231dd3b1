package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"arbor/mountd"
	"arbor/tests/testutil"
)

// pyApp is issue 17's app: a runtime of python3 and the host's
// /usr/lib/x86_64-linux-gnu, and an app on it whose command is a shell
// script importing a few python modules, both exported by the real
// flatpak tools. It is published twice: as flatpak left it, and a copy
// after `arbor build-update-repo` (which adds arbor's tree indexes).
type pyApp struct {
	dir     string
	rtBytes int64
	packed  []string // what build-update-repo --profile said
}

const (
	pyAppID  = "org.bench.PyApp"
	pyRtID   = "org.bench.PyRuntime"
	pyScript = "#!/bin/sh\necho started\nexec python3 -c 'import json, email, http.client'\n"
)

func (a *pyApp) pub() string { return filepath.Join(a.dir, "pub") }

// repoURL is where one of the two publications is served.
func (a *pyApp) repoURL(srv *server, which string) string { return srv.URL + which + "/" }

func (a *pyApp) setup(e *env, n network) (*server, error) {
	rt, app := filepath.Join(a.dir, "rt"), filepath.Join(a.dir, "app")
	fpRepo, arborRepo := filepath.Join(a.pub(), "flatpak"), filepath.Join(a.pub(), "arbor")
	usr := filepath.Join(rt, "usr")
	if err := os.MkdirAll(a.pub(), 0o755); err != nil {
		return nil, err
	}
	if err := testutil.CopyHostPrograms(usr, "sh", "/usr/bin/python3"); err != nil {
		return nil, err
	}
	for _, d := range []string{"lib/x86_64-linux-gnu", "lib/python3.11"} {
		if err := os.MkdirAll(filepath.Join(usr, filepath.Dir(d)), 0o755); err != nil {
			return nil, err
		}
		if _, err := run(e, []string{"cp", "-a", "--remove-destination", "/usr/" + d, filepath.Join(usr, filepath.Dir(d))}); err != nil {
			return nil, err
		}
	}
	st, err := warmTree(usr)
	if err != nil {
		return nil, err
	}
	a.rtBytes = st.bytes
	// flatpak build-export wants files/ in a runtime's directory too;
	// the runtime is usr/.
	if err := os.MkdirAll(filepath.Join(rt, "files"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(rt, "metadata"), []byte(fmt.Sprintf("[Runtime]\nname=%[1]s\nruntime=%[1]s/x86_64/1\nsdk=%[1]s/x86_64/1\n", pyRtID)), 0o644); err != nil {
		return nil, err
	}
	// The app directory as flatpak build-init leaves it (which would first
	// want the runtime installed as an SDK): metadata, files, var.
	for _, d := range []string{"files/bin", "var"} {
		if err := os.MkdirAll(filepath.Join(app, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(app, "metadata"), []byte(fmt.Sprintf("[Application]\nname=%s\nruntime=%[2]s/x86_64/1\nsdk=%[2]s/x86_64/1\n", pyAppID, pyRtID)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(app, "files/bin/run.sh"), []byte(pyScript), 0o755); err != nil {
		return nil, err
	}
	logf("pyapp: exporting a runtime of %s with flatpak", humanBytes(a.rtBytes))
	if err := runAll(e, [][]string{
		{"flatpak", "build-export", "--runtime", fpRepo, rt, "1"},
		{"flatpak", "build-finish", app, "--command=run.sh"},
		{"flatpak", "build-export", fpRepo, app, "1"},
		{"flatpak", "build-update-repo", fpRepo},
		// The same objects, published again by arbor.
		{"cp", "-al", fpRepo, arborRepo},
		{e.arbor, "build-update-repo", arborRepo},
		{"cp", "-al", arborRepo, filepath.Join(a.pub(), "packed")},
	}); err != nil {
		return nil, err
	}
	srv, err := n.serve(filepath.Join(a.dir, "nginx"), a.pub())
	if err != nil {
		return nil, err
	}
	// And once more with what a recorded run read packed, as a publisher
	// makes it: installed from the repo (straight from nginx, untimed),
	// run with --record-profile, packed.
	rec, profile := filepath.Join(a.dir, "recorder", "repo"), filepath.Join(a.dir, "app.profile")
	if err := os.MkdirAll(filepath.Dir(rec), 0o755); err != nil {
		srv.Stop()
		return nil, err
	}
	err = runAll(e, [][]string{
		{e.arbor, "--repo=" + rec, "init", "--mode=bare-user"},
		{e.arbor, "--repo=" + rec, "remote", "add", "--no-gpg-verify", "origin", srv.Server.URL + "arbor/"},
		{e.arbor, "--repo=" + rec, "install", "-y", "origin", pyAppID},
		{e.arbor, "--repo=" + rec, "run", "--record-profile=" + profile, pyAppID},
	})
	if err == nil {
		var out sample
		out, err = run(e, []string{e.arbor, "build-update-repo", "--profile=" + profile, filepath.Join(a.pub(), "packed")})
		for _, l := range strings.Split(out.stdout, "\n") {
			if strings.HasPrefix(l, "Packed ") {
				a.packed = append(a.packed, l)
			}
		}
	}
	mountd.Stop(rec, 10*time.Second)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return srv, nil
}

// flatpakAppScenario: from nothing, install the app (and its runtime) and
// run it: arbor lazily, from the repo flatpak published and from arbor's
// copy, against flatpak install + run; and arbor's second run, which
// should fetch nothing.
func flatpakAppScenario(n network) *scenario {
	name := n.name("app-flatpak-built")
	a := &pyApp{}
	var srv *server
	bytes := func(e *env) (int64, error) { return srv.BytesSent() }
	link := func() *server { return srv }
	fs := func(e *env, label string) string { return e.dir(name, label+"-fs") }
	arborRepo := func(e *env, label string) string { return filepath.Join(fs(e, label), "inst", "repo") }
	arborCmd := func(e *env, label string) string {
		return fmt.Sprintf("%[1]s --repo=%[2]s install -y origin %[3]s >/dev/null && %[1]s --repo=%[2]s run %[3]s >/dev/null",
			e.arbor, arborRepo(e, label), pyAppID)
	}
	arborPrepare := func(label, which string, warm bool) func(e *env) error {
		return func(e *env) error {
			if err := e.mountFreshSize(fs(e, label), 1<<30); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(arborRepo(e, label)), 0o755); err != nil {
				return err
			}
			if err := runAll(e, [][]string{
				{e.arbor, "--repo=" + arborRepo(e, label), "init", "--mode=bare-user"},
				{e.arbor, "--repo=" + arborRepo(e, label), "remote", "add", "--no-gpg-verify", "origin", a.repoURL(srv, which)},
			}); err != nil {
				return err
			}
			if warm {
				if _, err := run(e, sh(arborCmd(e, label))); err != nil {
					return err
				}
			}
			return srv.ResetLog()
		}
	}
	arborClean := func(label string) func(e *env) error {
		return func(e *env) error {
			mountd.Stop(arborRepo(e, label), 10*time.Second)
			return e.unmountFresh(fs(e, label))
		}
	}
	fpDir := func(e *env) string { return fs(e, "flatpak") }
	return &scenario{
		name:    name,
		maxRuns: 1,
		setup: func(e *env) error {
			a.dir = e.dir(name)
			var err error
			srv, err = a.setup(e, n)
			return err
		},
		tools: []tool{
			{name: "arbor", prepare: arborPrepare("arbor", "flatpak", false),
				argv:  func(e *env) []string { return sh(arborCmd(e, "arbor")) },
				bytes: bytes, server: link, clean: arborClean("arbor")},
			{name: "flatpak",
				prepare: func(e *env) error {
					if err := e.mountFreshSize(fpDir(e), 3*a.rtBytes+1<<30); err != nil {
						return err
					}
					for _, d := range []string{"fp-home", "fp-run"} {
						if err := os.MkdirAll(filepath.Join(fpDir(e), d), 0o700); err != nil {
							return err
						}
					}
					if _, err := run(e, sh(flatpakEnv(fpDir(e))+"flatpak remote-add --user --no-gpg-verify origin "+a.repoURL(srv, "flatpak"))); err != nil {
						return err
					}
					return srv.ResetLog()
				},
				argv: func(e *env) []string {
					return sh(flatpakEnv(fpDir(e)) + fmt.Sprintf("flatpak install --user -y --noninteractive origin app/%[1]s/x86_64/1 >/dev/null && flatpak run %[1]s >/dev/null", pyAppID))
				},
				bytes: bytes, server: link,
				clean: func(e *env) error { return e.unmountFresh(fpDir(e)) }},
			{name: "arbor, arbor-published", prepare: arborPrepare("arbor-pub", "arbor", false),
				argv:  func(e *env) []string { return sh(arborCmd(e, "arbor-pub")) },
				bytes: bytes, server: link, clean: arborClean("arbor-pub")},
			{name: "arbor, packed", prepare: arborPrepare("arbor-packed", "packed", false),
				argv:  func(e *env) []string { return sh(arborCmd(e, "arbor-packed")) },
				bytes: bytes, server: link, clean: arborClean("arbor-packed")},
			{name: "arbor, second run", prepare: arborPrepare("arbor-warm", "arbor", true),
				argv: func(e *env) []string {
					return sh(fmt.Sprintf("%s --repo=%s run %s >/dev/null", e.arbor, arborRepo(e, "arbor-warm"), pyAppID))
				},
				bytes: bytes, server: link, clean: arborClean("arbor-warm")},
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: []target{{peer: 1, max: 0.05}, {tool: 2, peer: 1, max: 0.05}, {tool: 3, peer: 1, max: 0.05}},
		notes: func() []string {
			return nonEmpty(fmt.Sprintf("%s: the runtime is python3 and the host's /usr/lib/x86_64-linux-gnu (%s), exported with `flatpak build-export`; the app runs a shell script that runs python3 -c 'import json, email, http.client'. The third column installs from a copy of the same repo after `arbor build-update-repo`; the fourth from one where the publisher also packed what a recorded run read (`arbor run --record-profile`, `build-update-repo --profile`); the fifth is a second run from the arbor-published repo once installed and run (from the repo flatpak published, the mount goes on walking the runtime in the background after the first run, which would count here). One run per tool.", name, humanBytes(a.rtBytes)),
				fmt.Sprintf("%s: the packed publication's packs (what the recorded run read, compressed): %s.", name, strings.Join(a.packed, "; ")),
				n.note(name))
		},
	}
}
