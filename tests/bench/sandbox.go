package main

import "os/exec"

// sandboxScenario times start to exit of /usr/bin/true in arbor's sandbox
// against bubblewrap with what flatpak gives a no-permission app (all
// namespaces, die with parent, /proc, /dev, the runtime at /usr).
func sandboxScenario() *scenario {
	return &scenario{
		name: "sandbox-true",
		setup: func(e *env) error {
			_, err := exec.LookPath("bwrap")
			return err
		},
		tools: []tool{
			{name: "arbor", argv: func(e *env) []string {
				return []string{e.arbor, "sandbox", "--runtime=/usr", "--", "/usr/bin/true"}
			}},
			{name: "bwrap", argv: func(e *env) []string {
				return []string{"bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
					"--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
					"--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "/usr/bin/true"}
			}},
		},
		targets: []target{{peer: 1, max: 1.2}},
	}
}
