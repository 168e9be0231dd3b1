package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// pullScenario times a full pull of the tree's commit from nginx on
// loopback into a fresh bare-user repo, and counts the bytes nginx sent.
// The published repo is made by ostree, so both tools fetch the same files.
func pullScenario(n network) *scenario {
	name := n.name("pull")
	var srv *server
	pub := func(e *env) string { return e.dir(name, "published") }
	// mk is a pull by bin; killAfter, when set, kills it (SIGKILL) that
	// long after it started and pulls again, both timed and counted.
	mk := func(label string, bin func(e *env) string, killAfter time.Duration) tool {
		fs := func(e *env) string { return e.dir(name, label+"-fs") }
		repo := func(e *env) string { return filepath.Join(fs(e), "repo") }
		pull := func(e *env) []string { return []string{bin(e), "--repo=" + repo(e), "pull", "origin", "bench"} }
		var measure func(e *env) (sample, error)
		if killAfter > 0 {
			measure = func(e *env) (sample, error) {
				start := time.Now()
				argv := pull(e)
				cmd := exec.Command(argv[0], argv[1:]...)
				if err := cmd.Start(); err != nil {
					return sample{}, err
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case err := <-exited:
					return sample{}, fmt.Errorf("the pull ended (%v) before it was to be killed after %v", err, killAfter)
				case <-time.After(killAfter):
				}
				cmd.Process.Kill()
				<-exited
				s, err := run(e, argv)
				s.wall = time.Since(start)
				return s, err
			}
		}
		return tool{
			measure: measure,
			name:    label,
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
			argv:   pull,
			bytes:  func(e *env) (int64, error) { return srv.BytesSent() },
			server: func() *server { return srv },
			clean:  func(e *env) error { return e.unmountFresh(fs(e)) },
		}
	}
	arbor := func(e *env) string { return e.arbor }
	tools := []tool{
		mk("arbor", arbor, 0),
		mk("ostree", func(e *env) string { return e.ostree }, 0),
	}
	targets := []target{{peer: 1, max: 0.4}, {peer: 1, max: 1.0, onBytes: true}}
	if n.link == nil {
		// A pull killed at any second costs no more than 1.1x one pull's
		// bytes in all: what it fetched is taken in, not fetched again.
		// Kills early, midway and late in a loopback pull of the tree
		// (about 4 s).
		for _, at := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
			targets = append(targets, target{tool: len(tools), peer: 0, max: 1.1, onBytes: true})
			tools = append(tools, mk(fmt.Sprintf("arbor, killed at %v and pulled again", at), arbor, at))
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
		tools: tools,
		teardown: func(e *env) error {
			if srv != nil {
				srv.Stop()
			}
			return nil
		},
		targets: targets,
		notes: func() []string {
			return nonEmpty(n.note(name), resumeNote(n, name))
		},
		maxRuns: n.maxRuns(),
	}
}

func resumeNote(n network, name string) string {
	if n.link != nil {
		return ""
	}
	return name + ": the killed rows are a pull killed with SIGKILL that long after it started, then the same pull run again to its end; their time and bytes are both pulls', against one whole pull's."
}
