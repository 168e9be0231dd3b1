package main

import (
	"fmt"
	"os/exec"
	"strings"
)

// sandboxScenario times start to exit of /usr/bin/true in arbor's sandbox
// against bubblewrap with what flatpak gives a no-permission app (all
// namespaces, die with parent, /proc, /dev, the runtime at /usr), and
// against `flatpak run` of an app whose command is true.
func sandboxScenario() *scenario {
	const name = "sandbox-true"
	var a trueApp
	bwrap := []string{"bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
		"--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
		"--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "/usr/bin/true"}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			if _, err := exec.LookPath("bwrap"); err != nil {
				return err
			}
			a = trueApp{dir: e.dir(name)}
			return a.setup(e)
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string {
				return loop(e.arbor + " sandbox --runtime=/usr -- /usr/bin/true")
			}},
			{name: "bwrap", argv: func(e *env) []string { return loop(strings.Join(bwrap, " ")) }},
			{name: "flatpak", argv: func(e *env) []string { return a.flatpakRunTrue(e) }},
		},
		teardown: func(e *env) error { return a.teardown(e) },
		targets:  []target{{peer: 1, max: 1.2}, {peer: 2, max: 0.3}},
		notes: func() []string {
			return []string{fmt.Sprintf("Each timed run is %d starts, one after another.", starts)}
		},
	}
}
