package main

import (
	"path/filepath"
)

// pullScenario times a full pull of the tree's commit from nginx on
// loopback into a fresh bare-user repo, and counts the bytes nginx sent.
// The published repo is made by ostree, so both tools fetch the same files.
func pullScenario(n network) *scenario {
	name := n.name("pull")
	var srv *server
	pub := func(e *env) string { return e.dir(name, "published") }
	mk := func(label string, bin func(e *env) string) tool {
		fs := func(e *env) string { return e.dir(name, label+"-fs") }
		repo := func(e *env) string { return filepath.Join(fs(e), "repo") }
		return tool{
			name: label,
			prepare: func(e *env) error {
				if err := e.mountFresh(fs(e)); err != nil {
					return err
				}
				if _, err := run(e, []string{bin(e), "--repo=" + repo(e), "init", "--mode=bare-user"}); err != nil {
					return err
				}
				if _, err := run(e, []string{bin(e), "--repo=" + repo(e), "remote", "add", "--no-gpg-verify", "origin", srv.URL}); err != nil {
					return err
				}
				return srv.ResetLog()
			},
			argv:   func(e *env) []string { return []string{bin(e), "--repo=" + repo(e), "pull", "origin", "bench"} },
			bytes:  func(e *env) (int64, error) { return srv.BytesSent() },
			server: func() *server { return srv },
			clean:  func(e *env) error { return e.unmountFresh(fs(e)) },
		}
	}
	return &scenario{
		name: name,
		setup: func(e *env) error {
			if _, err := run(e, []string{e.ostree, "--repo=" + pub(e), "init", "--mode=archive"}); err != nil {
				return err
			}
			if _, err := run(e, commitArgs(e.ostree, pub(e), e.tree)); err != nil {
				return err
			}
			if _, err := run(e, []string{e.ostree, "--repo=" + pub(e), "summary", "-u"}); err != nil {
				return err
			}
			var err error
			srv, err = n.serve(e.dir(name, "nginx"), pub(e))
			return err
		},
		tools: []tool{
			mk("arbor", func(e *env) string { return e.arbor }),
			mk("ostree", func(e *env) string { return e.ostree }),
		},
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: []target{{peer: 1, max: 0.4}, {peer: 1, max: 1.0, onBytes: true}},
		notes:   func() []string { return nonEmpty(n.note(name)) },
		maxRuns: n.maxRuns(),
	}
}
